"""Where tiles live.

A tile is stored as the concatenation of its hashes (``width * 32`` bytes), keyed by :data:`TileKey`
``(tile level, tile index)``. Readers may get a tile wider than they need (the tree grew since); they
slice the prefix they need, which never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ledger.db.schema import merkle_tiles
from ledger.merkle.hasher import HASH_SIZE
from ledger.merkle.tiles import TILE_WIDTH, tile_subtrees

TileKey = tuple[int, int]
"""``(tile level, tile index)``."""


@runtime_checkable
class TileReader(Protocol):
    """Read access to stored tiles."""

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Return the stored hashes of each requested tile that exists (missing tiles are absent).

        A returned value is ``width * 32`` bytes and may be wider than the caller needs.
        """
        ...


@runtime_checkable
class TileStore(TileReader, Protocol):
    """Read and write access to stored tiles."""

    def write_tiles(self, tiles: Mapping[TileKey, bytes], subtrees: Mapping[TileKey, bytes] | None = None) -> None:
        """Insert or replace each tile. Precondition: each value is 1..256 whole 32-byte hashes.

        ``subtrees[key]``, when given, is ``tiles.tile_subtrees(tiles[key])[0]``; a store that keeps subtrees
        computes the missing ones itself.
        """
        ...


TileRow = tuple[bytes, bytes | None]
"""A stored tile's hashes and its subtrees (``None`` when the row has none)."""


def _check_tile(key: TileKey, hashes: bytes) -> int:
    width, rest = divmod(len(hashes), HASH_SIZE)
    if rest or not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile {key} must hold 1..{TILE_WIDTH} whole hashes, got {len(hashes)} bytes")
    return width


def _subtrees_of(key: TileKey, hashes: bytes, subtrees: Mapping[TileKey, bytes] | None) -> bytes:
    given = None if subtrees is None else subtrees.get(key)
    return bytes(given) if given is not None else tile_subtrees(hashes)[0]


class MemoryTileStore:
    """Tiles (and their subtrees) in dicts; for tests and for building trees in memory."""

    def __init__(self) -> None:
        self.tiles: dict[TileKey, bytes] = {}
        self.subtrees: dict[TileKey, bytes] = {}

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """See :meth:`TileReader.read_tiles`."""
        return {k: self.tiles[k] for k in keys if k in self.tiles}

    def read_tile_rows(self, keys: Iterable[TileKey]) -> dict[TileKey, TileRow]:
        """Each existing tile's hashes and subtrees (see :meth:`SqlTileStore.read_tile_rows`)."""
        return {k: (self.tiles[k], self.subtrees.get(k)) for k in keys if k in self.tiles}

    def write_tiles(self, tiles: Mapping[TileKey, bytes], subtrees: Mapping[TileKey, bytes] | None = None) -> None:
        """See :meth:`TileStore.write_tiles`."""
        for key, hashes in tiles.items():
            _check_tile(key, hashes)
            self.tiles[key] = bytes(hashes)
            self.subtrees[key] = _subtrees_of(key, hashes, subtrees)


@lru_cache(maxsize=256)
def _read_sql(shape: tuple[int, ...], marker: str) -> str:
    """``SELECT level, idx, hashes, subtrees FROM merkle_tiles WHERE (level = ? AND idx IN (?, ...)) OR ...``, one
    group per tile level with ``shape[i]`` indices (the driver's positional ``marker``)."""
    where = " OR ".join(f"(level = {marker} AND idx IN ({', '.join([marker] * k)}))" for k in shape)
    return f"SELECT level, idx, hashes, subtrees FROM {merkle_tiles.name} WHERE {where}"


class SqlTileStore:
    """Tiles in the ``merkle_tiles`` table, read and written through the caller's connection.

    Everything runs inside the caller's connection and transaction: this class never begins, commits or
    rolls back, so the integrator can write tiles and its tracking row atomically. Upserts use the
    dialect's ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL).
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """See :meth:`TileReader.read_tiles` and :meth:`read_tile_rows` (the same query)."""
        return {key: hashes for key, (hashes, _) in self.read_tile_rows(keys).items()}

    def read_tile_rows(self, keys: Iterable[TileKey]) -> dict[TileKey, TileRow]:
        """Each existing tile's hashes and subtrees, in one ``SELECT`` for all keys.

        ``WHERE (level = ? AND idx IN (...)) OR ...``.

        See :meth:`TileReader.read_tiles`. Runs on the DB-API cursor of the caller's connection (inside its
        transaction), with the statement text cached per shape: a proof touches ``O(log n)`` tiles, so building
        and compiling a SQLAlchemy statement each time would cost more than the query itself.
        """
        by_level: dict[int, set[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, set()).add(idx)
        if not by_level:
            return {}
        params: list[int] = []
        shape: list[int] = []
        for level, idxs in by_level.items():
            params.append(level)
            params.extend(sorted(idxs))
            shape.append(len(idxs))
        marker = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_read_sql(tuple(shape), marker), params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return {(int(lvl), int(idx)): (bytes(h), None if sub is None else bytes(sub)) for lvl, idx, h, sub in rows}

    def write_tiles(self, tiles: Mapping[TileKey, bytes], subtrees: Mapping[TileKey, bytes] | None = None) -> None:
        """One executemany upsert of hashes and subtrees; see :meth:`TileStore.write_tiles`."""
        if not tiles:
            return
        rows = [
            {
                "level": lvl,
                "idx": idx,
                "width": _check_tile((lvl, idx), h),
                "hashes": bytes(h),
                "subtrees": _subtrees_of((lvl, idx), h, subtrees),
            }
            for (lvl, idx), h in tiles.items()
        ]
        dialect = self.conn.dialect.name
        if dialect == "sqlite":
            ins = sqlite.insert(merkle_tiles)
            stmt = ins.on_conflict_do_update(
                index_elements=[merkle_tiles.c.level, merkle_tiles.c.idx],
                set_={"width": ins.excluded.width, "hashes": ins.excluded.hashes, "subtrees": ins.excluded.subtrees},
            )
            self.conn.execute(stmt, rows)
        elif dialect == "postgresql":
            pins = postgresql.insert(merkle_tiles)
            pstmt = pins.on_conflict_do_update(
                index_elements=[merkle_tiles.c.level, merkle_tiles.c.idx],
                set_={"width": pins.excluded.width, "hashes": pins.excluded.hashes, "subtrees": pins.excluded.subtrees},
            )
            self.conn.execute(pstmt, rows)
        else:  # portable fallback: delete then insert, still inside the caller's transaction
            t = merkle_tiles.c
            for row in rows:
                self.conn.execute(sa.delete(merkle_tiles).where(t.level == row["level"], t.idx == row["idx"]))
            self.conn.execute(sa.insert(merkle_tiles), rows)
