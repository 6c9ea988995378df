"""Personal-data vault: AES-256-GCM, one data key per subject, erasure by destroying the key.

Layout in the key-value store (the SQL store lives in the ledger package; this module only needs
:class:`KeyValueStore`):

* ``dk/<subject>``: the subject's 32-byte data key, wrapped with the vault's master key
  (AES-GCM, AAD ``"dk" ‖ 0x00 ‖ subject``), stored as ``nonce(12) ‖ ciphertext``;
* ``rec/<subject>/<commitment>``: ``nonce(12) ‖ AES-GCM(data key, {"salt": hex, "data": {...}})`` with AAD
  ``"rec" ‖ 0x00 ‖ subject ‖ 0x00 ‖ commitment``;
* ``erased/<subject>``: tombstone (erasure time), so an erased subject is never silently re-created.

Events reference a record only by its commitment (:mod:`domain.commitments`); the record key is the
commitment itself. :meth:`PersonalDataVault.erase` deletes the data key and the records: whatever copies of
ciphertexts remain (backups) are undecryptable, and the log still verifies because it only holds the
commitments. Backups of the *key* rows must expire within the retention period (documented in docs/domain.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain import commitments
from domain.errors import ConfigurationError, InvalidInput, RecordNotFound, SubjectErased


class KeyValueStore(Protocol):
    """Minimal byte store. Implementations must make ``put``, ``put_many`` and ``delete`` durable before returning;
    ``put_many`` writes all its items or none (one transaction)."""

    def get(self, key: str) -> bytes | None: ...

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put(self, key: str, value: bytes) -> None: ...

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str) -> Iterator[str]: ...


class InMemoryKeyValueStore:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._data.get(k) for k in keys]

    def put(self, key: str, value: bytes) -> None:
        self._data[key] = bytes(value)

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for key, value in items:
            self._data[key] = bytes(value)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def keys(self, prefix: str) -> Iterator[str]:
        return iter([k for k in self._data if k.startswith(prefix)])


@dataclass(frozen=True)
class Opened:
    commitment: str
    data: dict[str, str | int]
    salt: bytes


def _check_subject(subject: str) -> str:
    if not isinstance(subject, str) or not subject or "/" in subject or len(subject) > 200:
        raise InvalidInput("subject must be a non-empty string without '/'", subject=str(subject))
    return subject


class PersonalDataVault:
    def __init__(self, store: KeyValueStore, master_key: bytes) -> None:
        if not isinstance(master_key, bytes) or len(master_key) != 32:
            raise ConfigurationError("the vault master key must be 32 bytes")
        self._store = store
        self._master = AESGCM(master_key)

    # -- keys ----------------------------------------------------------------------------------------
    def _read_data_key(self, subject: str, *, create: bool) -> tuple[AESGCM, tuple[str, bytes] | None]:
        """The subject's data key, read with its tombstone in one lookup; a new one (``create``) comes with the
        wrapped key row still to be written, so the caller stores it in the same write as the record it seals."""
        erased, wrapped = self._store.get_many((f"erased/{subject}", f"dk/{subject}"))
        if erased is not None:
            raise SubjectErased("the subject's personal data was erased", subject=subject)
        aad = b"dk\x00" + subject.encode()
        if wrapped is None:
            if not create:
                raise RecordNotFound("no personal data for this subject", subject=subject)
            key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(12)
            return AESGCM(key), (f"dk/{subject}", nonce + self._master.encrypt(nonce, key, aad))
        try:
            return AESGCM(self._master.decrypt(wrapped[:12], wrapped[12:], aad)), None
        except InvalidTag as e:
            raise ConfigurationError("data key cannot be unwrapped (wrong master key?)", subject=subject) from e

    # -- records -------------------------------------------------------------------------------------
    def seal(self, subject: str, data: Mapping[str, str | int]) -> str:
        """Store ``data`` for ``subject`` and return its commitment (also the record's key)."""
        _check_subject(subject)
        salt = commitments.new_salt()
        commitment = commitments.commit(data, salt)
        key, new_key = self._read_data_key(subject, create=True)
        plaintext = json.dumps({"salt": salt.hex(), "data": dict(data)}, sort_keys=True).encode()
        nonce = os.urandom(12)
        aad = b"rec\x00" + subject.encode() + b"\x00" + commitment.encode()
        record = (f"rec/{subject}/{commitment}", nonce + key.encrypt(nonce, plaintext, aad))
        # a new subject's wrapped data key and its first record in one durable write
        self._store.put_many([new_key, record] if new_key is not None else [record])
        return commitment

    def open(self, subject: str, commitment: str) -> Opened:
        _check_subject(subject)
        key, _ = self._read_data_key(subject, create=False)
        blob = self._store.get(f"rec/{subject}/{commitment}")
        if blob is None:
            raise RecordNotFound("no such record", subject=subject, commitment=commitment)
        aad = b"rec\x00" + subject.encode() + b"\x00" + commitment.encode()
        try:
            plain = json.loads(key.decrypt(blob[:12], blob[12:], aad))
        except InvalidTag as e:
            raise ConfigurationError("record cannot be decrypted", subject=subject) from e
        salt = bytes.fromhex(plain["salt"])
        data: dict[str, str | int] = plain["data"]
        if not commitments.verify(commitment, data, salt):
            raise ConfigurationError("record does not open its commitment", subject=subject)
        return Opened(commitment, data, salt)

    def discard(self, subject: str, commitment: str) -> None:
        """Delete one record (used to undo a seal when the command that needed it failed)."""
        self._store.delete(f"rec/{_check_subject(subject)}/{commitment}")

    def erase(self, subject: str, *, at: str = "") -> None:
        """Crypto-shred: destroy the subject's data key, delete its records, leave a tombstone."""
        _check_subject(subject)
        self._store.put(f"erased/{subject}", at.encode() or b"erased")
        self._store.delete(f"dk/{subject}")
        for k in list(self._store.keys(f"rec/{subject}/")):
            self._store.delete(k)

    def holds(self, subject: str) -> bool:
        """Whether the vault holds a data key for ``subject`` (it has personal data that an erasure would destroy)."""
        return self._store.get(f"dk/{_check_subject(subject)}") is not None

    def is_erased(self, subject: str) -> bool:
        return self._store.get(f"erased/{_check_subject(subject)}") is not None
