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
from ledger.merkle.tiles import TILE_WIDTH

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

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        """Insert or replace each tile. Precondition: each value is 1..256 whole 32-byte hashes."""
        ...


def _check_tile(key: TileKey, hashes: bytes) -> int:
    width, rest = divmod(len(hashes), HASH_SIZE)
    if rest or not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile {key} must hold 1..{TILE_WIDTH} whole hashes, got {len(hashes)} bytes")
    return width


class MemoryTileStore:
    """Tiles in a dict; for tests and for building trees in memory."""

    def __init__(self) -> None:
        self.tiles: dict[TileKey, bytes] = {}

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """See :meth:`TileReader.read_tiles`."""
        return {k: self.tiles[k] for k in keys if k in self.tiles}

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        """See :meth:`TileStore.write_tiles`."""
        for key, hashes in tiles.items():
            _check_tile(key, hashes)
            self.tiles[key] = bytes(hashes)


@lru_cache(maxsize=64)
def _read_statement(n_levels: int) -> sa.TextClause:
    """``SELECT level, idx, hashes FROM merkle_tiles WHERE (level = :l0 AND idx IN :i0) OR ...``."""
    where = " OR ".join(f"(level = :l{i} AND idx IN :i{i})" for i in range(n_levels))
    stmt = sa.text(f"SELECT level, idx, hashes FROM {merkle_tiles.name} WHERE {where}")
    return stmt.bindparams(*(sa.bindparam(f"i{i}", expanding=True) for i in range(n_levels)))


class SqlTileStore:
    """Tiles in the ``merkle_tiles`` table, read and written through the caller's connection.

    Everything runs inside the caller's connection and transaction: this class never begins, commits or
    rolls back, so the integrator can write tiles and its tracking row atomically. Upserts use the
    dialect's ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL).
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """One ``SELECT`` for all keys: ``WHERE (level = :l0 AND idx IN (...)) OR ...``.

        See :meth:`TileReader.read_tiles`. The statement text is cached per number of levels (a proof
        touches ``O(log n)`` tiles, so statement building would otherwise dominate).
        """
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        if not by_level:
            return {}
        params: dict[str, object] = {}
        for i, (level, idxs) in enumerate(by_level.items()):
            params[f"l{i}"] = level
            params[f"i{i}"] = sorted(set(idxs))
        rows = self.conn.execute(_read_statement(len(by_level)), params)
        return {(int(lvl), int(idx)): bytes(h) for lvl, idx, h in rows}

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        """One executemany upsert; see :meth:`TileStore.write_tiles`."""
        if not tiles:
            return
        rows = [
            {"level": lvl, "idx": idx, "width": _check_tile((lvl, idx), h), "hashes": bytes(h)}
            for (lvl, idx), h in tiles.items()
        ]
        dialect = self.conn.dialect.name
        if dialect == "sqlite":
            ins = sqlite.insert(merkle_tiles)
            stmt = ins.on_conflict_do_update(
                index_elements=[merkle_tiles.c.level, merkle_tiles.c.idx],
                set_={"width": ins.excluded.width, "hashes": ins.excluded.hashes},
            )
            self.conn.execute(stmt, rows)
        elif dialect == "postgresql":
            pins = postgresql.insert(merkle_tiles)
            pstmt = pins.on_conflict_do_update(
                index_elements=[merkle_tiles.c.level, merkle_tiles.c.idx],
                set_={"width": pins.excluded.width, "hashes": pins.excluded.hashes},
            )
            self.conn.execute(pstmt, rows)
        else:  # portable fallback: delete then insert, still inside the caller's transaction
            t = merkle_tiles.c
            for row in rows:
                self.conn.execute(sa.delete(merkle_tiles).where(t.level == row["level"], t.idx == row["idx"]))
            self.conn.execute(sa.insert(merkle_tiles), rows)
