"""Verify RFC 9162 §2.1.3.2 inclusion and §2.1.4.2 consistency proofs.

Policy (as transparency-dev/merkle, see rfc6962.json ``probes``): every hash is exactly 32 bytes;
``index >= size`` is an error; a consistency proof from size 0 is rejected even when empty;
``size1 == size2`` needs an empty proof and byte-equal roots (the one case where, as upstream, root
length is not checked). Errors are :class:`ProofError` subclasses:
:class:`MalformedProofError` (shape) and :class:`RootMismatch` (a recomputed root differs).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.merkle.errors import MalformedProofError, RootMismatch
from ledger.merkle.hasher import HASH_SIZE, node_hash


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise MalformedProofError(f"{what} is {len(h)} bytes, expected {HASH_SIZE}", expected=HASH_SIZE, found=len(h))


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to for leaf ``index`` with ``leaf_hash`` in a tree of ``size``.

    Raises :class:`MalformedProofError` when ``index >= size``, a hash is not 32 bytes, or the proof has
    the wrong number of hashes for ``(index, size)``.
    """
    if not 0 <= index < size:
        raise MalformedProofError(f"index {index} not in tree of size {size}", expected=f"< {size}", found=index)
    _check_hash("leaf hash", leaf_hash)
    _check_proof(proof)
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise MalformedProofError(
                f"inclusion proof too long for index {index} in size {size}",
                expected="shorter",
                found=len(proof),
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProofError(
            f"inclusion proof too short for index {index} in size {size}", expected="longer", found=len(proof)
        )
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``proof`` proves leaf ``index`` (``leaf_hash``) into the tree of ``size`` with ``root``.

    Returns ``None`` on success, raises a :class:`ProofError` subclass otherwise.
    """
    _check_hash("root", root)
    found = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if found != root:
        raise RootMismatch(f"inclusion proof of leaf {index} in size {size}", expected=root, found=found)


def root_from_consistency_proof(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    """The size-``size2`` root that ``proof`` leads to from the trusted size-``size1`` ``root1``.

    Raises :class:`MalformedProofError` for bad sizes or shape, :class:`RootMismatch` when the proof does
    not lead back to ``root1``.
    """
    if size2 < size1:
        raise MalformedProofError(f"size2 {size2} < size1 {size1}", expected=f">= {size1}", found=size2)
    if size1 <= 0:
        raise MalformedProofError("consistency from an empty tree is meaningless", expected="> 0", found=size1)
    if size1 == size2:
        # As upstream (probe "sizes are equal (one) and proof is empty"): only byte equality of the
        # roots is checked here, whatever their length.
        if proof:
            raise MalformedProofError("size1 == size2 needs an empty proof", expected=0, found=len(proof))
        return root1
    _check_hash("root1", root1)
    _check_proof(proof)
    if not proof:
        raise MalformedProofError("empty consistency proof", expected="> 0 hashes", found=0)

    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MalformedProofError(
                f"consistency proof too long for {size1} -> {size2}", expected="shorter", found=len(proof)
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProofError(
            f"consistency proof too short for {size1} -> {size2}", expected="longer", found=len(proof)
        )
    if fr != root1:
        raise RootMismatch(f"consistency proof {size1} -> {size2} does not match root1", expected=root1, found=fr)
    return sr


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    Returns ``None`` on success, raises a :class:`ProofError` subclass otherwise.
    """
    found = root_from_consistency_proof(size1, size2, proof, root1)
    if size1 != size2:
        _check_hash("root2", root2)
    if found != root2:
        raise RootMismatch(f"consistency proof {size1} -> {size2}", expected=root2, found=found)
