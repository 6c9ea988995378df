"""Read node hashes and roots of any tree size from the tiles.

Node ``(level, index)`` is the root of the subtree over leaves ``[index << level, (index + 1) << level)``.
It is *complete* in a tree of ``size`` when ``(index + 1) << level <= size``; only complete nodes are
stored. Tree levels ``8L+4 .. 8L+7`` are stored beside each tile (its *subtrees*, ``tiles.tile_subtrees``)
when the store keeps them; levels ``8L+1 .. 8L+3`` (and all of them for a row without subtrees) are derived
by hashing the slice of the level-``L`` tile under the node. Hashes of incomplete (*ephemeral*) subtrees are
folded from the complete subtrees covering them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256

from ledger.merkle.errors import TreeSizeError
from ledger.merkle.hasher import EMPTY_ROOT, HASH_SIZE, node_hash
from ledger.merkle.storage import TileKey, TileReader, TileRow
from ledger.merkle.tiles import SUBTREE_HEIGHTS, TILE_HEIGHT, TILE_WIDTH, subtree_offset

NodeId = tuple[int, int]
"""``(tree level, node index)``."""


class TileCache:
    """A bounded LRU cache of tile rows (hashes and subtrees), shareable between :class:`TreeReader` instances.

    A cached tile serves any later read that needs no more hashes than it holds (a tile's prefix never
    changes); a wider read replaces it.
    """

    def __init__(self, max_tiles: int = 4096) -> None:
        self.max_tiles = max_tiles
        self._tiles: OrderedDict[TileKey, TileRow] = OrderedDict()

    def get(self, key: TileKey, min_bytes: int) -> TileRow | None:
        """The cached tile row if its hashes hold at least ``min_bytes`` bytes, else ``None``."""
        row = self._tiles.get(key)
        if row is None or len(row[0]) < min_bytes:
            return None
        self._tiles.move_to_end(key)
        return row

    def put(self, key: TileKey, row: TileRow) -> None:
        """Remember a tile row (keeping the wider of the old and new value)."""
        old = self._tiles.get(key)
        if old is None or len(row[0]) >= len(old[0]):
            self._tiles[key] = row
        self._tiles.move_to_end(key)
        while len(self._tiles) > self.max_tiles:
            self._tiles.popitem(last=False)


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete nodes exactly covering leaves ``[begin, end)``, left to right (a compact range).

    Precondition: ``0 <= begin <= end``.
    """
    nodes: list[NodeId] = []
    while begin < end:
        # the largest aligned power of two starting at begin that fits
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def block_root(row: bytes) -> bytes:
    """Root of a perfect subtree given its bottom row as concatenated hashes.

    Precondition: ``len(row) == 32 * 2**k`` for some ``k >= 0``.
    """
    h = sha256
    while len(row) > HASH_SIZE:
        row = b"".join([h(b"\x01" + row[i : i + 64]).digest() for i in range(0, len(row), 64)])
    return row


class TreeReader:
    """Node hashes and roots of the tree of ``size`` leaves held by ``reader``.

    Preconditions: ``reader`` holds (at least) the tiles of a tree of ``size``. Missing or too-short tiles
    raise :class:`TreeSizeError`. Tiles read are kept for the life of this object (and in ``cache``, if
    given, across objects); every query reads ``O(log size)`` tiles, batched into one ``read_tiles``.
    """

    def __init__(self, reader: TileReader, size: int, cache: TileCache | None = None) -> None:
        if size < 0:
            raise TreeSizeError(f"tree size must be >= 0, got {size}", size=size)
        self.reader = reader
        self.size = size
        self.cache = cache
        self._tiles: dict[TileKey, bytes] = {}
        self._subtrees: dict[TileKey, bytes] = {}  # only for tiles whose row has subtrees of the right length
        read_rows = getattr(reader, "read_tile_rows", None)
        self._read_rows: Callable[[Iterable[TileKey]], dict[TileKey, TileRow]] | None = read_rows

    # -- tiles -------------------------------------------------------------------------------------

    @staticmethod
    def _tile_slot(node: NodeId) -> tuple[TileKey, int, int]:
        """The tile holding the bottom row of ``node``: key, first offset, number of hashes."""
        level, index = node
        tile_level, r = divmod(level, TILE_HEIGHT)
        first = index << r
        return (tile_level, first // TILE_WIDTH), first % TILE_WIDTH, 1 << r

    def prefetch(self, nodes: Iterable[NodeId]) -> None:
        """Load, in one ``read_tiles`` call, every tile needed for the given complete nodes."""
        need: dict[TileKey, int] = {}
        for node in nodes:
            key, off, count = self._tile_slot(node)
            need[key] = max(need.get(key, 0), (off + count) * HASH_SIZE)
        missing: dict[TileKey, int] = {}
        for key, nbytes in need.items():
            have = self._tiles.get(key)
            if have is not None and len(have) >= nbytes:
                continue
            cached = self.cache.get(key, nbytes) if self.cache is not None else None
            if cached is not None:
                self._keep(key, cached)
            else:
                missing[key] = nbytes
        if not missing:
            return
        if self._read_rows is not None:
            got = self._read_rows(missing.keys())
        else:
            got = {key: (data, None) for key, data in self.reader.read_tiles(missing.keys()).items()}
        for key, nbytes in missing.items():
            row = got.get(key)
            if row is None or len(row[0]) < nbytes:
                found = 0 if row is None else len(row[0]) // HASH_SIZE
                raise TreeSizeError(
                    f"tile {key} holds {found} hashes, tree size {self.size} needs {nbytes // HASH_SIZE}",
                    size=self.size,
                )
            self._keep(key, row)
            if self.cache is not None:
                self.cache.put(key, row)

    def _keep(self, key: TileKey, row: TileRow) -> None:
        """Use this row's hashes, and its subtrees when they have the length its width implies (else derive)."""
        data, subtrees = row
        self._tiles[key] = data
        if subtrees is not None and len(subtrees) == subtree_offset(len(data) // HASH_SIZE, TILE_HEIGHT) * HASH_SIZE:
            self._subtrees[key] = subtrees
        else:
            self._subtrees.pop(key, None)

    # -- nodes -------------------------------------------------------------------------------------

    def node_hash(self, level: int, index: int) -> bytes:
        """Hash of the complete node ``(level, index)``.

        Precondition: ``level >= 0``, ``index >= 0`` and ``(index + 1) << level <= size``.
        """
        if level < 0 or index < 0 or (index + 1) << level > self.size:
            raise TreeSizeError(
                f"node ({level}, {index}) is not complete in a tree of size {self.size}", size=self.size
            )
        node = (level, index)
        key, off, count = self._tile_slot(node)
        tile = self._tiles.get(key)
        if tile is None or len(tile) < (off + count) * HASH_SIZE:
            self.prefetch([node])
            tile = self._tiles[key]
        height = level % TILE_HEIGHT
        if height in SUBTREE_HEIGHTS:
            subtrees = self._subtrees.get(key)
            if subtrees is not None:
                pos = (subtree_offset(len(tile) // HASH_SIZE, height) + (off >> height)) * HASH_SIZE
                return subtrees[pos : pos + HASH_SIZE]
        return block_root(tile[off * HASH_SIZE : (off + count) * HASH_SIZE])

    def nodes_hashes(self, nodes: Sequence[NodeId]) -> list[bytes]:
        """Hashes of the given complete nodes (tiles fetched in one batch)."""
        self.prefetch(nodes)
        return [self.node_hash(level, index) for level, index in nodes]

    def range_hash(self, begin: int, end: int) -> bytes:
        """MTH of leaves ``[begin, end)`` folded from its compact range (right to left).

        This is the hash of a (possibly ephemeral) subtree when ``[begin, end)`` is one: ``begin`` a
        multiple of the smallest power of two ``>= end - begin``, or ``begin == 0``.
        Precondition: ``0 <= begin < end <= size``.
        """
        if not 0 <= begin < end <= self.size:
            raise TreeSizeError(f"range [{begin}, {end}) not in tree of size {self.size}", size=self.size)
        return fold_right(self.nodes_hashes(range_nodes(begin, end)))

    def root_at(self, size: int) -> bytes:
        """Root hash of the tree of the first ``size`` leaves. Precondition: ``0 <= size <= self.size``."""
        if not 0 <= size <= self.size:
            raise TreeSizeError(f"size {size} not in 0..{self.size}", size=size, limit=self.size)
        if size == 0:
            return EMPTY_ROOT
        return self.range_hash(0, size)

    def root(self) -> bytes:
        """Root hash of the tree of ``size`` leaves."""
        return self.root_at(self.size)


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """``H(h0, H(h1, ... H(h_{n-2}, h_{n-1})))`` — combine a compact range into one hash.

    Precondition: ``hashes`` is not empty.
    """
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc
