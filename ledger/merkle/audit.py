"""Full audit of a tile store: recompute every upper tile level from the level-0 tiles.

:class:`~ledger.merkle.tree.TreeReader` reads ``O(log n)`` tiles, so a root or proof only depends on the
tiles on its path: an edited level-0 hash under a full tile changes the inclusion proofs through it (they
stop verifying against a signed root) but not ``root_at``, which reads the level-1 hash above it. This
module is the ``O(n)`` check that closes that gap: every stored level-``L+1`` hash must equal the root of
the level-``L`` tile below it, every tile's stored subtrees must be those of its hashes (proofs read them), and
every tile must have exactly the width the tree size implies.
"""

from __future__ import annotations

from ledger.merkle.errors import MerkleError, TreeSizeError
from ledger.merkle.hasher import HASH_SIZE
from ledger.merkle.storage import TileKey, TileReader, TileRow
from ledger.merkle.tiles import TILE_WIDTH, hashes_at_level, tile_subtrees
from ledger.merkle.tree import TreeReader


class SubtreeMismatch(MerkleError):
    """A tile's stored subtrees (``merkle_tiles.subtrees``) differ from those recomputed from its hashes.

    ``key`` is the tile; ``expected``/``found`` the recomputed and stored bytes. Either the subtrees or the tile's
    hashes were changed after they were written together.
    """

    def __init__(self, key: TileKey, *, expected: bytes, found: bytes) -> None:
        super().__init__(f"tile {key}: stored subtrees are not those of its hashes")
        self.key = key
        self.expected = expected
        self.found = found


def check_subtrees(key: TileKey, hashes: bytes, subtrees: bytes | None) -> bytes | None:
    """Raise :class:`SubtreeMismatch` unless ``subtrees`` is absent or those of ``hashes``; return the tile's root
    when it is full (the one pass computes both)."""
    expected, root = tile_subtrees(hashes)
    if subtrees is not None and subtrees != expected:
        raise SubtreeMismatch(key, expected=expected, found=subtrees)
    return root


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


def _read_rows(reader: TileReader, keys: list[TileKey]) -> dict[TileKey, TileRow]:
    read_rows = getattr(reader, "read_tile_rows", None)
    if read_rows is not None:
        rows: dict[TileKey, TileRow] = read_rows(keys)
        return rows
    return {key: (data, None) for key, data in reader.read_tiles(keys).items()}


def verify_tiles(reader: TileReader, size: int, *, batch_tiles: int = 256) -> bytes:
    """Check every tile of the tree of ``size`` and return its root.

    Reads all tiles (``batch_tiles`` per read). Raises :class:`TreeSizeError` when a tile
    is missing or shorter than ``size`` implies, :class:`SubtreeMismatch` for a tile whose stored subtrees are
    not those of its hashes, and :class:`TileMismatch` for the first stored hash at tile level >= 1 that is not
    the root of the full tile below it (checked first: it names the changed hash). Level-0 hashes are taken
    as given (beyond agreeing with their subtrees): checking them against the entries (``leaf_hash(entry)``)
    is the caller's part.
    Precondition: ``size >= 0``.
    """
    level = 0
    computed: list[bytes] | None = None  # recomputed hashes of this level (None at level 0)
    subtree_error: SubtreeMismatch | None = None  # raised last: a TileMismatch names the changed hash itself
    while (count := hashes_at_level(size, level)) > 0:
        n_tiles = -(-count // TILE_WIDTH)
        parents: list[bytes] = []
        for first in range(0, n_tiles, batch_tiles):
            keys: list[TileKey] = [(level, t) for t in range(first, min(n_tiles, first + batch_tiles))]
            got = _read_rows(reader, keys)
            for key in keys:
                width = min(TILE_WIDTH, count - key[1] * TILE_WIDTH)
                row = got.get(key)
                if row is None or len(row[0]) < width * HASH_SIZE:
                    raise TreeSizeError(f"tile {key} is missing or shorter than {width} hashes", size=size)
                data = row[0][: width * HASH_SIZE]
                if computed is not None:
                    base = key[1] * TILE_WIDTH
                    for i in range(width):
                        stored = data[i * HASH_SIZE : (i + 1) * HASH_SIZE]
                        if stored != computed[base + i]:
                            raise TileMismatch(level, base + i, expected=computed[base + i], found=stored)
                try:
                    full_root = check_subtrees(key, row[0], row[1])  # the stored row as a whole, at its own width
                except SubtreeMismatch as e:
                    subtree_error = subtree_error or e
                    full_root = tile_subtrees(row[0])[1]
                if width == TILE_WIDTH:
                    assert full_root is not None  # the stored row is at least `width` == 256 hashes: full
                    parents.append(full_root)
        computed = parents
        level += 1
    if subtree_error is not None:
        raise subtree_error
    return TreeReader(reader, size).root()
