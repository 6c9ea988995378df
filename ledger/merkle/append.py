"""Integrate new leaf hashes into the tiles (the single writer's job).

Cost: one ``read_tiles`` of at most one right-edge partial tile per tile level, ``O(batch)`` hashing,
one ``write_tiles`` of every tile that changed, with its subtrees (``tiles.tile_subtrees``: the same pass
that yields a full tile's root). Nothing else is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import sha256

from ledger.merkle.errors import TreeSizeError
from ledger.merkle.hasher import HASH_SIZE
from ledger.merkle.storage import TileKey, TileStore
from ledger.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, tile_subtrees

_TILE_BYTES = TILE_WIDTH * HASH_SIZE


def full_tile_root(tile: bytes) -> bytes:
    """Root of the 256-hash subtree whose bottom row is a full tile.

    Precondition: ``len(tile) == 256 * 32``.
    """
    h = sha256
    row = tile
    while len(row) > HASH_SIZE:
        row = b"".join([h(b"\x01" + row[i : i + 64]).digest() for i in range(0, len(row), 64)])
    return row


def _old_partial_keys(old_size: int) -> list[TileKey]:
    """Right-edge tiles of a tree of ``old_size`` that the next append extends (plus the level-0 check)."""
    keys: list[TileKey] = [(0, old_size >> TILE_HEIGHT)]
    level = 1
    while (count := old_size >> (TILE_HEIGHT * level)) > 0:
        if count % TILE_WIDTH:
            keys.append((level, count // TILE_WIDTH))
        level += 1
    return keys


def append_leaves(store: TileStore, old_size: int, leaf_hashes: Iterable[bytes]) -> int:
    """Append ``leaf_hashes`` (in order) to the tree of ``old_size`` held by ``store``; return the new size.

    Preconditions:

    - ``store`` holds exactly the tiles of a tree of ``old_size`` (the caller's tracking row says so);
      a missing or too-short right-edge tile, or a level-0 tile holding more than ``old_size`` leaves,
      raises :class:`TreeSizeError` and nothing is written;
    - each leaf hash is 32 bytes (``leaf_hash(entry)``), else ``ValueError``.

    All changed tiles (the right edge at every tile level) are written in one ``write_tiles`` call, so
    with :class:`~ledger.merkle.storage.SqlTileStore` the append is atomic in the caller's transaction.
    """
    if old_size < 0:
        raise TreeSizeError(f"tree size must be >= 0, got {old_size}", size=old_size)
    new_hashes = list(leaf_hashes)
    for i, lh in enumerate(new_hashes):
        if len(lh) != HASH_SIZE:
            raise ValueError(f"leaf hash {old_size + i} is {len(lh)} bytes, expected {HASH_SIZE}")
    new_size = old_size + len(new_hashes)
    if not new_hashes:
        return old_size

    stored = store.read_tiles(_old_partial_keys(old_size))
    out: dict[TileKey, bytes] = {}
    subtrees: dict[TileKey, bytes] = {}
    level = 0
    while new_hashes:
        start = old_size >> (TILE_HEIGHT * level)  # hashes already present at this tile level
        tile_index, offset = divmod(start, TILE_WIDTH)
        key = (level, tile_index)
        have = stored.get(key, b"")
        if len(have) < offset * HASH_SIZE:
            raise TreeSizeError(
                f"tile {key} holds {len(have) // HASH_SIZE} hashes, tree size {old_size} needs {offset}",
                size=old_size,
            )
        if len(have) > offset * HASH_SIZE:
            raise TreeSizeError(
                f"tile {key} holds {len(have) // HASH_SIZE} hashes, more than tree size {old_size} "
                f"allows ({offset}); refusing to overwrite",
                size=old_size,
            )
        row = have + b"".join(new_hashes)
        next_hashes: list[bytes] = []
        for pos in range(0, len(row), _TILE_BYTES):
            chunk = row[pos : pos + _TILE_BYTES]
            key = (level, tile_index + pos // _TILE_BYTES)
            out[key] = chunk
            subtrees[key], root = tile_subtrees(chunk)  # one pass: the stored heights and the full tile's root
            if root is not None:
                next_hashes.append(root)
        new_hashes = next_hashes
        level += 1

    store.write_tiles(out, subtrees)
    return new_size
