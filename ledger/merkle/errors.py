"""Errors of the Merkle log. Each carries the evidence (sizes, hashes) that explains it."""

from __future__ import annotations

from ledger.errors import LedgerError


class MerkleError(LedgerError):
    """Base of every error raised by :mod:`ledger.merkle`."""


class TreeSizeError(MerkleError):
    """A size or index is out of range, or the tile store does not hold what a size requires.

    ``size`` is the tree size the caller asked about, ``limit`` the bound it violated (may be ``None``).
    """

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class ProofError(MerkleError):
    """A proof is malformed or does not prove what it claims."""


class MalformedProofError(ProofError):
    """The proof (or a hash given with it) has the wrong shape: count of hashes, hash length, sizes."""

    def __init__(self, message: str, *, expected: object = None, found: object = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found


class RootMismatch(ProofError):
    """The root recomputed from a proof differs from the root it was checked against.

    ``expected`` is the trusted root given by the caller, ``found`` the root the proof leads to.
    """

    def __init__(self, message: str, *, expected: bytes, found: bytes) -> None:
        super().__init__(f"{message}: expected {expected.hex()}, found {found.hex()}")
        self.expected = expected
        self.found = found
