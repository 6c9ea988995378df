"""The Alembic migrations produce exactly the tables the code declares (ledger + anchoring), on both backends."""

from __future__ import annotations

from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import anchoring.schema  # noqa: F401 - registers the anchoring tables on the shared metadata
import api.schema  # noqa: F401 - and the HTTP layer's
from ledger.db.engine import make_engine
from ledger.db.migrate import alembic_config, upgrade
from ledger.db.schema import event_index, merkle_tiles, metadata
from ledger.leafmap import leaf_index_of_event
from ledger.merkle import (
    MemoryTileStore,
    SqlTileStore,
    TreeReader,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from ledger.merkle.audit import verify_tiles
from ledger.merkle.tiles import tile_subtrees


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def _upgrade_to(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_0006_keeps_the_event_index_of_an_existing_store(database_url: str) -> None:
    """A store written before 0006 upgrades in place: every event id still finds its leaf, new rows go in, and on
    SQLite the table is now clustered by event id (WITHOUT ROWID)."""
    engine = make_engine(database_url)
    _upgrade_to(engine, "0005")
    ids = [uuid4() for _ in range(50)]
    with engine.begin() as conn:
        conn.execute(sa.insert(event_index), [{"event_id": e.bytes, "leaf_index": i} for i, e in enumerate(ids)])
    upgrade(engine)
    late = uuid4()
    with engine.begin() as conn:
        conn.execute(sa.insert(event_index).values(event_id=late.bytes, leaf_index=50))
    with engine.connect() as conn:
        assert [leaf_index_of_event(conn, e) for e in ids] == list(range(50))
        assert leaf_index_of_event(conn, late) == 50
        assert leaf_index_of_event(conn, uuid4()) is None
        if engine.dialect.name == "sqlite":
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'event_index'").scalar_one()
            assert "WITHOUT ROWID" in sql
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.insert(event_index).values(event_id=late.bytes, leaf_index=51))
    engine.dispose()


def test_0007_fills_in_the_subtrees_of_existing_tiles(database_url: str) -> None:
    """Tiles written before 0007 (no subtrees column) get theirs from their hashes; proofs and roots are unchanged,
    the audit finds the store clean, and the log grows on from there."""
    leaves = [leaf_hash(b"entry %d" % i) for i in range(3000)]
    mem = MemoryTileStore()
    append_leaves(mem, 0, leaves[:2000])
    engine = make_engine(database_url)
    _upgrade_to(engine, "0006")
    old_tiles = sa.table("merkle_tiles", sa.column("level"), sa.column("idx"), sa.column("width"), sa.column("hashes"))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(old_tiles),
            [{"level": k[0], "idx": k[1], "width": len(h) // 32, "hashes": h} for k, h in mem.tiles.items()],
        )
    upgrade(engine)
    with engine.begin() as conn:
        stored = {(r.level, r.idx): r.subtrees for r in conn.execute(sa.select(merkle_tiles))}
        assert stored == {k: tile_subtrees(h)[0] for k, h in mem.tiles.items()}
        store = SqlTileStore(conn)
        assert verify_tiles(store, 2000) == TreeReader(mem, 2000).root()
        assert inclusion_proof(store, 1234, 2000) == inclusion_proof(mem, 1234, 2000)
        assert consistency_proof(store, 700, 2000) == consistency_proof(mem, 700, 2000)
        append_leaves(store, 2000, leaves[2000:])
    append_leaves(mem, 2000, leaves[2000:])
    with engine.connect() as conn:
        assert verify_tiles(SqlTileStore(conn), 3000) == TreeReader(mem, 3000).root()
    engine.dispose()
