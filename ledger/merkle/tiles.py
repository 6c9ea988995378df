"""Tile geometry and paths of C2SP tlog-tiles (https://c2sp.org/tlog-tiles).

A tile at *tile level* ``L`` and *tile index* ``N`` holds up to :data:`TILE_WIDTH` consecutive hashes of
*tree level* ``8*L``: node indices ``N*256 .. N*256+width-1``. A level-``L`` hash exists only once the
``2**(8*L)``-leaf subtree under it is complete, so a tree of size ``s`` has ``s >> (8*L)`` hashes at
tile level ``L``. Tiles with fewer than 256 hashes are *partial*; they grow as the log grows and their
prefix never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256

TILE_HEIGHT = 8
"""Tree levels covered by one tile."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (and entries in a full entry bundle)."""

MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can hold (uint16 length prefix)."""

SUBTREE_HEIGHTS = range(4, TILE_HEIGHT)
"""In-tile heights whose node hashes are stored beside each tile (``merkle_tiles.subtrees``).

A tile stores tree level ``8L``; the nodes at levels ``8L+1 .. 8L+7`` are derived by hashing the slice under
them, up to 127 hashes for one node. Keeping heights 4..7 (30 hashes for a full tile, 12 % of its size) bounds
that to 7 hashes per node. They are derived data: the audit recomputes them (``ledger.merkle.audit``) and a
reader that finds none (a row written before migration 0007) hashes the tile as before.
"""

_HASH = 32


def subtree_offset(width: int, height: int) -> int:
    """Index (in hashes) of the first height-``height`` node in the subtrees of a tile of ``width`` hashes.

    Precondition: ``height in SUBTREE_HEIGHTS`` (or ``TILE_HEIGHT``, giving their total count).
    """
    return sum(width >> k for k in range(SUBTREE_HEIGHTS.start, height))


def tile_subtrees(tile: bytes) -> tuple[bytes, bytes | None]:
    """The stored subtrees of a tile and, when it is full, its root (the hash one tile level up).

    The subtrees are the hashes of the complete nodes at in-tile heights 4..7 over ``tile``, height by height,
    left to right: ``width >> 4`` hashes, then ``width >> 5``, ... (``subtree_offset``). One pass hashes each
    node once (``width - 1`` hashes for a full tile). Precondition: ``tile`` is 1..256 whole 32-byte hashes.
    """
    h = sha256
    row = tile
    parts: list[bytes] = []
    height = 0
    while len(row) >= 2 * _HASH:
        end = len(row) - len(row) % (2 * _HASH)
        row = b"".join([h(b"\x01" + row[i : i + 2 * _HASH]).digest() for i in range(0, end, 2 * _HASH)])
        height += 1
        if height in SUBTREE_HEIGHTS:
            parts.append(row)
    root = row if len(tile) == TILE_WIDTH * _HASH else None
    return b"".join(parts), root


def encode_index(n: int) -> str:
    """Encode a tile index as path elements: 3-digit groups, ``x`` before all but the last.

    ``1234067`` -> ``"x001/x234/067"``. Precondition: ``n >= 0``.
    """
    if n < 0:
        raise ValueError(f"tile index must be >= 0, got {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be in 1..{TILE_WIDTH}, got {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return ``tile/<L>/<N>[.p/<W>]``.

    Preconditions: ``0 <= level <= 63``, ``index >= 0``, ``1 <= width <= 256``.
    """
    if not 0 <= level <= 63:
        raise ValueError(f"tile level must be in 0..63, got {level}")
    return f"tile/{level}/{encode_index(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Return ``tile/entries/<N>[.p/<W>]``. Preconditions: ``index >= 0``, ``1 <= width <= 256``."""
    return f"tile/entries/{encode_index(index)}{_width_suffix(width)}"


def hashes_at_level(tree_size: int, level: int) -> int:
    """Number of tile-level-``level`` hashes (complete ``2**(8*level)``-leaf subtrees) in ``tree_size``."""
    return tree_size >> (TILE_HEIGHT * level)


def tile_width(tree_size: int, level: int, index: int) -> int:
    """Width of tile ``(level, index)`` in a tree of ``tree_size`` (0 when the tile does not exist yet)."""
    return max(0, min(TILE_WIDTH, hashes_at_level(tree_size, level) - index * TILE_WIDTH))


@dataclass(frozen=True, slots=True)
class LevelTiles:
    """The tiles of one tile level in a tree: ``full_tiles`` full ones, then maybe one partial one."""

    level: int
    full_tiles: int
    partial_width: int

    def partial_path(self) -> str | None:
        """Path of the partial tile, or ``None`` when the level has none."""
        if self.partial_width == 0:
            return None
        return tile_path(self.level, self.full_tiles, self.partial_width)


def tiles_for_size(tree_size: int) -> list[LevelTiles]:
    """The tiles a tree of ``tree_size`` has, one entry per tile level that has at least one hash.

    Precondition: ``tree_size >= 0`` (an empty tree has no tiles).
    """
    if tree_size < 0:
        raise ValueError(f"tree size must be >= 0, got {tree_size}")
    levels: list[LevelTiles] = []
    level = 0
    while (count := hashes_at_level(tree_size, level)) > 0:
        levels.append(LevelTiles(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return levels


def iter_tile_paths(tree_size: int) -> Iterator[str]:
    """Every tile path of a tree of ``tree_size`` (hash tiles only), level by level, in index order."""
    for lt in tiles_for_size(tree_size):
        for index in range(lt.full_tiles):
            yield tile_path(lt.level, index)
        if lt.partial_width:
            yield tile_path(lt.level, lt.full_tiles, lt.partial_width)


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Concatenate ``uint16 big-endian length || entry`` for each entry.

    Preconditions: every entry is at most :data:`MAX_ENTRY_SIZE` bytes; a bundle holds at most
    :data:`TILE_WIDTH` entries.
    """
    out = bytearray()
    count = 0
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big")
        out += entry
        count += 1
    if count > TILE_WIDTH:
        raise ValueError(f"an entry bundle holds at most {TILE_WIDTH} entries, got {count}")
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle into its entries; raise ``ValueError`` on a truncated bundle or > 256 entries."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError(f"truncated length prefix at offset {pos}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise ValueError(f"entry at offset {pos - 2} declares {length} bytes, {len(data) - pos} remain")
        entries.append(data[pos : pos + length])
        pos += length
        if len(entries) > TILE_WIDTH:
            raise ValueError(f"an entry bundle holds at most {TILE_WIDTH} entries")
    return entries
