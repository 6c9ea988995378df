"""RFC 9162 Merkle log stored as C2SP tlog-tiles.

Modules, bottom-up:

- :mod:`.hasher`: the RFC 9162 hash functions (leaf, node, empty tree);
- :mod:`.tiles`: tile geometry and paths (C2SP tlog-tiles), entry bundles;
- :mod:`.storage`: where tiles live (:class:`MemoryTileStore`, :class:`SqlTileStore`);
- :mod:`.append`: integrate new leaf hashes into the tiles;
- :mod:`.tree`: read node hashes and roots of any tree size from the tiles;
- :mod:`.proof_build` / :mod:`.proof_verify`: inclusion and consistency proofs.
"""

from __future__ import annotations

from ledger.merkle.append import append_leaves
from ledger.merkle.errors import MerkleError, ProofError, RootMismatch, TreeSizeError
from ledger.merkle.hasher import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from ledger.merkle.proof_build import consistency_proof, inclusion_proof
from ledger.merkle.proof_verify import (
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle.storage import MemoryTileStore, SqlTileStore, TileKey, TileReader, TileStore
from ledger.merkle.tree import TileCache, TreeReader

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTileStore",
    "MerkleError",
    "ProofError",
    "RootMismatch",
    "SqlTileStore",
    "TileCache",
    "TileKey",
    "TileReader",
    "TileStore",
    "TreeReader",
    "TreeSizeError",
    "append_leaves",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]
