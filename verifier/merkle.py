"""RFC 9162 §2.1 Merkle tree hashing and proof verification, written from the RFC (not from the ledger).

* ``leaf_hash(d) = SHA-256(0x00 ‖ d)``, ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``, empty tree ``SHA-256("")``.
* :class:`TreeBuilder` is a streaming compact range: it holds one hash per set bit of the tree size
  (O(log n) memory) and gives the root at the current size.
* :func:`verify_inclusion` and :func:`verify_consistency` follow RFC 9162 §2.1.3.2 and §2.1.4.2 with the
  policy of the shared test vectors (``rfc6962.json`` ``probes.description``): every hash is exactly 32 bytes
  (except that equal sizes with byte-identical roots and an empty proof are consistent, as upstream probes want);
  ``index >= size`` is an error; a consistency proof from size 0 is rejected (it proves nothing);
  ``size1 == size2`` needs an empty proof and equal roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from verifier.errors import ConsistencyProofError, Evidence, InclusionProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TreeBuilder",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


class TreeBuilder:
    """Streaming Merkle tree: append leaf hashes in order, read the root at the current size.

    Memory is one hash per set bit of ``size`` (a compact range [0, size)).
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def frontier(self) -> list[bytes]:
        """The compact range [0, size): one subtree hash per set bit of ``size``, largest first (what a caller
        persists to resume with :meth:`resume`)."""
        return list(self._stack)

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """A builder at ``size`` leaves from its :meth:`frontier`; ValueError if they do not fit together."""
        if size < 0 or len(frontier) != size.bit_count() or any(len(h) != HASH_SIZE for h in frontier):
            raise ValueError(f"a frontier of size {size} is one 32-byte hash per set bit of the size")
        tree = cls()
        tree._size = size
        tree._stack = list(frontier)
        return tree

    def append(self, leaf: bytes) -> None:
        """Append one leaf *hash* (32 bytes)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        stack = self._stack
        h = leaf
        n = self._size
        while n & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def root(self) -> bytes:
        """The RFC 9162 Merkle tree hash of the leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """Root of a whole sequence of leaf hashes (streams through them)."""
    tree = TreeBuilder()
    for h in leaf_hashes:
        tree.append(h)
    return tree.root()


def _check_hash(value: bytes, what: str, exc: type[InclusionProofError | ConsistencyProofError]) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise exc(
            f"{what} must be a {HASH_SIZE}-byte hash",
            Evidence(expected=f"{HASH_SIZE} bytes", found=f"{len(value)} bytes"),
        )


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from an inclusion proof (RFC 9162 §2.1.3.2, steps 1-5). Raises on a malformed proof."""
    _check_hash(leaf, "leaf hash", InclusionProofError)
    if size <= 0 or index < 0 or index >= size:
        raise InclusionProofError(
            "leaf index is outside the tree",
            Evidence(expected=f"0 <= index < size={size}", found=f"index={index}"),
        )
    fn = index
    sn = size - 1
    r = bytes(leaf)
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}", InclusionProofError)
        if sn == 0:
            raise InclusionProofError(
                "inclusion proof is longer than the path for this index and size",
                Evidence(expected=f"{i} elements", found=f"{len(proof)} elements"),
            )
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError(
            "inclusion proof is shorter than the path for this index and size",
            Evidence(found=f"{len(proof)} elements", details={"index": index, "size": size}),
        )
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``. Raises
    :class:`~verifier.errors.InclusionProofError` if not."""
    _check_hash(root, "root", InclusionProofError)
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if computed != root:
        raise InclusionProofError(
            "inclusion proof does not lead to the expected root",
            Evidence(
                expected=bytes(root).hex(),
                found=computed.hex(),
                details={"index": index, "size": size},
            ),
        )


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree (size2, root2) extends (size1, root1) (RFC 9162 §2.1.4.2). Raises
    :class:`~verifier.errors.ConsistencyProofError` if not."""
    sizes = {"size1": size1, "size2": size2}
    if size1 < 0 or size2 < 0 or size1 > size2:
        raise ConsistencyProofError(
            "consistency needs 0 < size1 <= size2",
            Evidence(expected="size1 <= size2", found=f"size1={size1} size2={size2}"),
        )
    if size1 == 0:
        raise ConsistencyProofError(
            "a consistency proof from the empty tree proves nothing and is rejected",
            Evidence(expected="size1 > 0", found="size1=0", details=sizes),
        )
    if size1 == size2:
        if proof:
            raise ConsistencyProofError(
                "trees of equal size need an empty consistency proof",
                Evidence(expected="0 elements", found=f"{len(proof)} elements", details=sizes),
            )
        if root1 != root2:
            raise ConsistencyProofError(
                "two different roots for the same tree size",
                Evidence(expected=bytes(root1).hex(), found=bytes(root2).hex(), details=sizes),
            )
        return  # equal sizes and equal roots: consistent whatever the roots' length (upstream probe)
    _check_hash(root1, "root1", ConsistencyProofError)
    _check_hash(root2, "root2", ConsistencyProofError)
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof element {i}", ConsistencyProofError)
    if not proof:
        raise ConsistencyProofError(
            "empty consistency proof for different tree sizes", Evidence(found="0 elements", details=sizes)
        )
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is an exact power of two: the old root is the first node
        path.insert(0, bytes(root1))
    fn = size1 - 1
    sn = size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError(
                "consistency proof is longer than needed",
                Evidence(found=f"{len(proof)} elements", details=sizes),
            )
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError(
            "consistency proof is shorter than needed",
            Evidence(found=f"{len(proof)} elements", details=sizes),
        )
    if fr != root1:
        raise ConsistencyProofError(
            "consistency proof does not reproduce the old root",
            Evidence(expected=bytes(root1).hex(), found=fr.hex(), details=sizes),
        )
    if sr != root2:
        raise ConsistencyProofError(
            "consistency proof does not reproduce the new root",
            Evidence(expected=bytes(root2).hex(), found=sr.hex(), details=sizes),
        )
