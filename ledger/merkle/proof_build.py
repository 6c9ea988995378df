"""Build RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs from tiles.

The decomposition follows transparency-dev/merkle ``proof.nodes``: for a node ``(level, index)`` in a
tree of ``size``, let the *fork* be its highest ancestor that is still complete and whose sibling is
not. The proof is, bottom-up:

1. the siblings of the path from the node up to the fork (*inner* nodes; all complete);
2. the hash of the fork's sibling if it exists: an *ephemeral* node over ``[fork end, size)``, folded
   from the complete subtrees covering that range (*border*, right side);
3. the complete subtrees covering ``[0, fork begin)``, lowest level first (left side).

Every hash comes from ``O(log size)`` tiles read in one batch.
"""

from __future__ import annotations

from ledger.merkle.errors import TreeSizeError
from ledger.merkle.storage import TileReader
from ledger.merkle.tree import NodeId, TileCache, TreeReader, fold_right, range_nodes


def _plan(level: int, index: int, size: int) -> tuple[list[NodeId], list[NodeId], list[NodeId]]:
    """Inner, right (ephemeral parts, left to right) and left (lowest level first) nodes.

    Precondition: node ``(level, index)`` is complete in a tree of ``size`` and is not its root.
    """
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level = level + inner
    fork_index = index >> inner
    begin = fork_index << fork_level
    end = (fork_index + 1) << fork_level
    inner_nodes = [(level + i, (index >> i) ^ 1) for i in range(inner)]
    right = range_nodes(end, size)
    left = range_nodes(0, begin)
    left.reverse()
    return inner_nodes, right, left


def _assemble(tree: TreeReader, seed: list[NodeId], level: int, index: int, size: int) -> list[bytes]:
    inner, right, left = _plan(level, index, size)
    hashes = tree.nodes_hashes(seed + inner + right + left)  # one batched tile read
    n_seed, n_inner, n_right = len(seed), len(inner), len(right)
    proof = hashes[: n_seed + n_inner]
    if n_right:
        proof.append(fold_right(hashes[n_seed + n_inner : n_seed + n_inner + n_right]))
    proof.extend(hashes[n_seed + n_inner + n_right :])
    return proof


def _tree(reader: TileReader | TreeReader, size: int, cache: TileCache | None) -> TreeReader:
    if isinstance(reader, TreeReader):
        if reader.size < size:
            raise TreeSizeError(f"tree reader of size {reader.size} < {size}", size=size, limit=reader.size)
        return reader
    return TreeReader(reader, size, cache)


def inclusion_proof(
    reader: TileReader | TreeReader, index: int, size: int, *, cache: TileCache | None = None
) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Preconditions: ``0 <= index < size`` (else :class:`TreeSizeError`); ``reader`` holds the tiles of a
    tree of at least ``size`` leaves.
    """
    if not 0 <= index < size:
        raise TreeSizeError(f"leaf index {index} not in tree of size {size}", size=size, limit=index)
    if size == 1:
        return []
    return _assemble(_tree(reader, size, cache), [], 0, index, size)


def consistency_proof(
    reader: TileReader | TreeReader, size1: int, size2: int, *, cache: TileCache | None = None
) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of ``size1`` leaves to the tree of ``size2`` leaves.

    Preconditions: ``0 < size1 <= size2`` (else :class:`TreeSizeError`; a proof from the empty tree is
    meaningless); ``reader`` holds the tiles of a tree of at least ``size2`` leaves. ``size1 == size2``
    gives the empty proof.
    """
    if not 0 < size1 <= size2:
        raise TreeSizeError(f"consistency needs 0 < size1 <= size2, got {size1}, {size2}", size=size1, limit=size2)
    if size1 == size2:
        return []
    # The largest perfect subtree ending at size1; a power-of-two size1 is its own root (known to the
    # verifier from the checkpoint), so it is not sent.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    seed = [] if index == 0 else [(level, index)]
    return _assemble(_tree(reader, size2, cache), seed, level, index, size2)
