"""Salted SHA-256 commitments to personal data.

``commitment = "sha256:" + hex(SHA-256("hromada/commitment/v1" ‖ 0x00 ‖ salt ‖ canonical_json(data)))``

* ``salt``: 32 random bytes, kept (encrypted) with the data in the personal-data vault, never in the log;
* ``canonical_json``: UTF-8 of ``json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
  ``data`` is a flat object whose values are strings or integers.

The salt makes the commitment hiding (a birth-certificate number cannot be guessed from it); SHA-256 makes
it binding. Opening it (data + salt) proves to an auditor or court what the event referred to. Once the
vault erases the subject's key, the commitment stays in the log but can never be opened again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping

from domain.errors import InvalidInput

TAG = b"hromada/commitment/v1\x00"
SALT_BYTES = 32
_COMMITMENT_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def canonical_json(data: Mapping[str, str | int]) -> bytes:
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidInput("committed data must map strings to strings or integers", field=str(key))
    return json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def commit(data: Mapping[str, str | int], salt: bytes) -> str:
    if len(salt) != SALT_BYTES:
        raise InvalidInput("salt must be 32 bytes")
    return "sha256:" + hashlib.sha256(TAG + salt + canonical_json(data)).hexdigest()


def verify(commitment: str, data: Mapping[str, str | int], salt: bytes) -> bool:
    return hmac.compare_digest(commit(data, salt), commitment)


def validate_commitment(value: str, field: str = "commitment") -> str:
    if not isinstance(value, str) or not _COMMITMENT_RE.fullmatch(value):
        raise InvalidInput("expected a commitment 'sha256:<64 hex>'", field=field)
    return value
