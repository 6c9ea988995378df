"""RFC 9162 §2.1.1 hashing with SHA-256 and 0x00/0x01 domain separation.

- leaf hash: ``SHA-256(0x00 || data)``;
- node hash: ``SHA-256(0x01 || left || right)``;
- root of the empty tree: ``SHA-256("")``.
"""

from __future__ import annotations

from hashlib import sha256

HASH_SIZE = 32
"""Length in bytes of every hash in the log."""

EMPTY_ROOT: bytes = sha256(b"").digest()
"""MTH({}) — the root hash of the tree of size 0."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``, the hash of one log entry (any length, may be empty)."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``.

    Precondition: in a tree both are :data:`HASH_SIZE`-byte hashes; the function itself hashes whatever
    it is given (the RFC 6962 hasher vectors feed it raw strings).
    """
    return sha256(_NODE_PREFIX + left + right).digest()
