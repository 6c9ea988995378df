"""C2SP signed notes (c2sp.org/signed-note, as golang.org/x/mod/sumdb/note) with Ed25519, the C2SP
tlog-checkpoint body carried in them, and C2SP tlog-cosignature/v1 signatures.

Formats (see docs/formats.md §3):

- note: ``text`` (valid UTF-8, ends with ``\\n``, no control characters but ``\\n``), a blank line, then
  one or more lines ``— <name> <base64(4-byte key id || signature)>\\n`` (U+2014 EM DASH, space);
- key id: ``SHA-256(name || 0x0A || alg || public key)[:4]``, alg ``0x01`` = Ed25519, ``0x04`` =
  Ed25519 cosignature/v1;
- verifier key: ``<name>+<hex8 key id>+<base64(alg || public key)>``;
- signer key: ``PRIVATE+KEY+<name>+<hex8 key id>+<base64(0x01 || 32-byte seed)>``;
- key names are non-empty, valid UTF-8, with no whitespace and no ``+``.

Every error is a :class:`NoteError` carrying what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import LedgerError

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIG_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
"""At most this many signature lines are parsed (x/mod's limit; C2SP requires accepting at least 16)."""

# --------------------------------------------------------------------------------------------- errors


class NoteError(LedgerError):
    """Base of every signed-note, key and checkpoint error."""


class KeyFormatError(NoteError):
    """A signer or verifier key string is malformed, or its key id does not match its key."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class MalformedNoteError(NoteError):
    """The note breaks the signed-note grammar; ``line`` is the offending line when there is one."""

    def __init__(self, message: str, *, line: str | None = None) -> None:
        super().__init__(message if line is None else f"{message}: {line!r}")
        self.line = line


class InvalidSignatureError(NoteError):
    """A signature by a known key does not verify: the whole note is rejected."""

    def __init__(self, name: str, key_id: bytes) -> None:
        super().__init__(f"invalid signature by {name}+{key_id.hex()}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(NoteError):
    """The note is well formed but carries no signature by a known key; ``signatures`` are the ones seen."""

    def __init__(self, signatures: Sequence[Signature]) -> None:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in signatures) or "none"
        super().__init__(f"no signature by a known key (signatures by: {names})")
        self.signatures = list(signatures)


class CheckpointFormatError(NoteError):
    """A checkpoint body is not a valid C2SP tlog-checkpoint."""

    def __init__(self, message: str, *, text: str) -> None:
        super().__init__(message)
        self.text = text


# ----------------------------------------------------------------------------------------------- keys


def is_valid_name(name: str) -> bool:
    """A key name: non-empty, no whitespace, no ``+``, encodable as UTF-8."""
    if not name or "+" in name or any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || alg || public_key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _b64decode(s: str) -> bytes:
    try:
        return base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise ValueError(f"bad base64: {e}") from e


_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True)
class Verifier:
    """A public key that verifies signatures of one key name (``alg`` 0x01 notes, 0x04 cosignatures)."""

    name: str
    key_id: bytes
    public_key: bytes
    alg: int = ALG_ED25519

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` (64 bytes) is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def verifier_key(self) -> str:
        """``<name>+<hex8>+<base64(alg || public key)>``."""
        blob = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"


@dataclass(frozen=True)
class Signer:
    """An Ed25519 signing key with its key name (the log's origin). ``repr`` hides the seed."""

    name: str
    seed: bytes = field(repr=False)

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        """``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
        return key_id(self.name, ALG_ED25519, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def verifier(self) -> Verifier:
        """The matching :class:`Verifier`."""
        return Verifier(self.name, self.key_id, self.public_key)

    def verifier_key(self) -> str:
        """The public verifier key string."""
        return self.verifier().verifier_key()

    def signer_key(self) -> str:
        """``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>`` — secret, store with mode 0600."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{blob}"


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer. Precondition: ``name`` is a valid key name (else KeyFormatError)."""
    if not is_valid_name(name):
        raise KeyFormatError(f"invalid key name {name!r}", key=name)
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return Signer(name, seed)


def parse_signer_key(s: str) -> Signer:
    """Parse ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>``; the key id must match the key."""
    redacted = "PRIVATE+KEY+..."
    parts = s.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFormatError("signer key must be PRIVATE+KEY+<name>+<hex8>+<base64>", key=redacted)
    _, _, name, hex8, blob = parts
    redacted = f"PRIVATE+KEY+{name}+{hex8}+..."
    if not is_valid_name(name) or not _HEX8.fullmatch(hex8):
        raise KeyFormatError("invalid name or key id in signer key", key=redacted)
    try:
        raw = _b64decode(blob)
    except ValueError as e:
        raise KeyFormatError(str(e), key=redacted) from e
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("signer key must be 0x01 || 32-byte Ed25519 seed", key=redacted)
    signer = Signer(name, raw[1:])
    if signer.key_id != bytes.fromhex(hex8):
        raise KeyFormatError(f"key id {hex8} does not match the key ({signer.key_id.hex()})", key=redacted)
    return signer


def parse_verifier_key(s: str) -> Verifier:
    """Parse ``<name>+<hex8>+<base64(alg || public key)>`` (alg 0x01 or 0x04); the key id must match."""
    parts = s.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("verifier key must be <name>+<hex8>+<base64>", key=s)
    name, hex8, blob = parts
    if not is_valid_name(name) or not _HEX8.fullmatch(hex8):
        raise KeyFormatError("invalid name or key id in verifier key", key=s)
    try:
        raw = _b64decode(blob)
    except ValueError as e:
        raise KeyFormatError(str(e), key=s) from e
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise KeyFormatError("verifier key must be alg (0x01 or 0x04) || 32-byte Ed25519 key", key=s)
    kid = key_id(name, raw[0], raw[1:])
    if kid != bytes.fromhex(hex8):
        raise KeyFormatError(f"key id {hex8} does not match the key ({kid.hex()})", key=s)
    return Verifier(name, kid, raw[1:], raw[0])


# ---------------------------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, 4-byte key id, and the signature bytes after the key id."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key id || signature)>\\n``."""
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    _check_chars(text)


def _check_chars(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MalformedNoteError("note text is not valid UTF-8") from e
    for c in text:
        if c < " " and c != "\n":
            raise MalformedNoteError(f"control character U+{ord(c):04X} in note")


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note: ``text``, a blank line, one signature line per signer.

    Preconditions: ``text`` ends with ``\\n`` and has no control characters but ``\\n``
    (else :class:`MalformedNoteError`); at least one signer.
    """
    _check_text(text)
    if not signers:
        raise NoteError("sign_note needs at least one signer")
    message = text.encode()
    lines = [Signature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def parse_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines without verifying anything.

    Raises :class:`MalformedNoteError` for anything the grammar forbids (including more than
    :data:`MAX_SIGNATURES` lines).
    """
    _check_chars(note)
    if not note.endswith("\n"):
        raise MalformedNoteError("signed note must end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise MalformedNoteError("no signatures")
    sigs: list[Signature] = []
    for line in block[:-1].split("\n"):
        if len(sigs) >= MAX_SIGNATURES:
            raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
        if not line.startswith(SIG_PREFIX):
            raise MalformedNoteError("not a signature line", line=line)
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or not is_valid_name(name) or not b64:
            raise MalformedNoteError("bad signature line", line=line)
        try:
            raw = _b64decode(b64)
        except ValueError as e:
            raise MalformedNoteError("bad signature base64", line=line) from e
        if len(raw) < 5:
            raise MalformedNoteError("signature too short", line=line)
        sigs.append(Signature(name, raw[:4], raw[4:]))
    return text, sigs


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[str, list[Signature]]:
    """Verify a signed note; return its text and the signatures verified by ``verifiers``.

    Signatures by unknown keys (name and key id not among ``verifiers``) are ignored; repeated
    signatures by one key count once. Raises :class:`MalformedNoteError` (grammar),
    :class:`InvalidSignatureError` (a known key's signature fails: the whole note is rejected) or
    :class:`UnverifiedNoteError` (no signature by a known key).
    """
    text, sigs = parse_note(note)
    known = {(v.name, v.key_id): v for v in verifiers if v.alg == ALG_ED25519}
    message = text.encode()
    verified: list[Signature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in sigs:
        v = known.get((sig.name, sig.key_id))
        if v is None or (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not v.verify(message, sig.signature):
            raise InvalidSignatureError(sig.name, sig.key_id)
        verified.append(sig)
    if not verified:
        raise UnverifiedNoteError(sigs)
    return text, verified


# ----------------------------------------------------------------------------------------- checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def format_checkpoint(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """``<origin>\\n<size>\\n<base64 root>\\n`` then one line per extension.

    Preconditions: origin non-empty without control characters; ``0 <= size < 2**64``; ``root`` is 32
    bytes; extension lines non-empty without control characters.
    """
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n" + "".join(f"{e}\n" for e in extensions)
    parsed = parse_checkpoint(body)  # one grammar for both directions
    if (parsed.origin, parsed.size, parsed.root, parsed.extensions) != (origin, size, root, tuple(extensions)):
        raise CheckpointFormatError("checkpoint fields do not round-trip", text=body)
    return body


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (the text of a signed note), strictly.

    Size: decimal without leading zeros, below 2**64. Root: standard padded base64 of 32 bytes.
    """
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint must end with a newline", text=text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointFormatError("checkpoint needs origin, size and root lines", text=text)
    for line in lines:
        if not line:
            raise CheckpointFormatError("empty line in checkpoint", text=text)
        if any(c < " " for c in line):
            raise CheckpointFormatError("control character in checkpoint", text=text)
    origin, size_s, root_s, *extensions = lines
    if not _DECIMAL.fullmatch(size_s) or int(size_s) >= 1 << 64:
        raise CheckpointFormatError(f"bad tree size {size_s!r}", text=text)
    try:
        root = _b64decode(root_s)
    except ValueError as e:
        raise CheckpointFormatError(f"bad root hash {root_s!r}", text=text) from e
    if len(root) != 32 or base64.b64encode(root).decode() != root_s:
        raise CheckpointFormatError(f"root hash must be canonical base64 of 32 bytes: {root_s!r}", text=text)
    return Checkpoint(origin, int(size_s), root, tuple(extensions))


# -------------------------------------------------------------------------------------- cosignatures


@dataclass(frozen=True)
class Cosignature:
    """A decoded tlog-cosignature/v1 signature: key id, timestamp (seconds since epoch), signature."""

    key_id: bytes
    timestamp: int
    signature: bytes


def decode_cosignature(sig: Signature | bytes) -> Cosignature:
    """Split the 76 signature bytes ``key id (4) || u64 BE timestamp || Ed25519 signature (64)``."""
    raw = sig if isinstance(sig, bytes) else sig.key_id + sig.signature
    if len(raw) != 76:
        raise MalformedNoteError(f"a cosignature/v1 signature is 76 bytes, got {len(raw)}")
    return Cosignature(raw[:4], int.from_bytes(raw[4:12], "big"), raw[12:])


def cosignature_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The message a cosigner signs: ``cosignature/v1\\ntime <timestamp>\\n`` + the checkpoint body."""
    parse_checkpoint(checkpoint_body)
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


def cosign(checkpoint_body: str, name: str, seed: bytes, timestamp: int) -> str:
    """A cosignature/v1 signature line over ``checkpoint_body`` by the Ed25519 key ``seed``."""
    pub = Signer(name, seed).public_key
    sig = Signer(name, seed).sign(cosignature_message(checkpoint_body, timestamp))
    kid = key_id(name, ALG_COSIGNATURE_V1, pub)
    return Signature(name, kid, timestamp.to_bytes(8, "big") + sig).line()


def verify_cosignature(checkpoint_body: str, sig: Signature, verifier: Verifier) -> Cosignature:
    """Check a cosignature/v1 line by ``verifier`` (alg 0x04) over ``checkpoint_body``; return it decoded."""
    if verifier.alg != ALG_COSIGNATURE_V1 or (sig.name, sig.key_id) != (verifier.name, verifier.key_id):
        raise InvalidSignatureError(sig.name, sig.key_id)
    cosig = decode_cosignature(sig)
    if not verifier.verify(cosignature_message(checkpoint_body, cosig.timestamp), cosig.signature):
        raise InvalidSignatureError(sig.name, sig.key_id)
    return cosig
