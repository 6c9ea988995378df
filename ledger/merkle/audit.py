"""Full audit of a tile store: recompute every upper tile level from the level-0 tiles.

:class:`~ledger.merkle.tree.TreeReader` reads ``O(log n)`` tiles, so a root or proof only depends on the
tiles on its path: an edited level-0 hash under a full tile changes the inclusion proofs through it (they
stop verifying against a signed root) but not ``root_at``, which reads the level-1 hash above it. This
module is the ``O(n)`` check that closes that gap: every stored level-``L+1`` hash must equal the root of
the level-``L`` tile below it, and every tile must have exactly the width the tree size implies.
"""

from __future__ import annotations

from ledger.merkle.append import full_tile_root
from ledger.merkle.errors import MerkleError, TreeSizeError
from ledger.merkle.hasher import HASH_SIZE
from ledger.merkle.storage import TileKey, TileReader
from ledger.merkle.tiles import TILE_WIDTH, hashes_at_level
from ledger.merkle.tree import TreeReader


class TileMismatch(MerkleError):
    """A stored hash differs from the one recomputed from the tile level below it.

    ``level``/``index`` name the hash (tile level, hash index at that level); ``expected`` is the
    recomputed hash, ``found`` the stored one.
    """

    def __init__(self, level: int, index: int, *, expected: bytes, found: bytes) -> None:
        super().__init__(f"stored hash {index} of tile level {level} is {found.hex()}, recomputed {expected.hex()}")
        self.level = level
        self.index = index
        self.expected = expected
        self.found = found


def verify_tiles(reader: TileReader, size: int, *, batch_tiles: int = 256) -> bytes:
    """Check every tile of the tree of ``size`` and return its root.

    Reads all tiles (``batch_tiles`` per ``read_tiles`` call). Raises :class:`TreeSizeError` when a tile
    is missing or shorter than ``size`` implies and :class:`TileMismatch` for the first stored hash at
    tile level >= 1 that is not the root of the full tile below it. Level-0 hashes are taken as given:
    checking them against the entries (``leaf_hash(entry)``) is the caller's part.
    Precondition: ``size >= 0``.
    """
    level = 0
    computed: list[bytes] | None = None  # recomputed hashes of this level (None at level 0)
    while (count := hashes_at_level(size, level)) > 0:
        n_tiles = -(-count // TILE_WIDTH)
        parents: list[bytes] = []
        for first in range(0, n_tiles, batch_tiles):
            keys: list[TileKey] = [(level, t) for t in range(first, min(n_tiles, first + batch_tiles))]
            got = reader.read_tiles(keys)
            for key in keys:
                width = min(TILE_WIDTH, count - key[1] * TILE_WIDTH)
                data = got.get(key)
                if data is None or len(data) < width * HASH_SIZE:
                    raise TreeSizeError(f"tile {key} is missing or shorter than {width} hashes", size=size)
                data = data[: width * HASH_SIZE]
                if computed is not None:
                    base = key[1] * TILE_WIDTH
                    for i in range(width):
                        stored = data[i * HASH_SIZE : (i + 1) * HASH_SIZE]
                        if stored != computed[base + i]:
                            raise TileMismatch(level, base + i, expected=computed[base + i], found=stored)
                if width == TILE_WIDTH:
                    parents.append(full_tile_root(data))
        computed = parents
        level += 1
    return TreeReader(reader, size).root()
