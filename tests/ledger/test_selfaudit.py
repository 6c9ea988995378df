"""`hromada log verify`: any edited event byte or tile byte, at any level, is found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import and_, select, text, update

from ledger.config import Settings
from ledger.db.schema import merkle_tiles
from ledger.runtime import Ledger
from ledger.selfaudit import StorageTampered, self_audit
from tests.ledger.sample import SYSTEM, Note, NotesApp

ORIGIN = "test.local/selfaudit"


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN), NotesApp) as ledger:
        app = ledger.app
        assert isinstance(app, NotesApp)
        for i in range(0, 600, 50):
            app.save(*[Note(actor=SYSTEM, text=f"e{i + j}") for j in range(50)])
        ledger.integrate_and_checkpoint()
        yield ledger


def audit(ledger: Ledger) -> None:
    self_audit(ledger.engine, events_table=ledger.integrator.events.name, origin=ORIGIN)


def flip_tile_byte(ledger: Ledger, level: int, idx: int, offset: int) -> None:
    where = and_(merkle_tiles.c.level == level, merkle_tiles.c.idx == idx)
    with ledger.engine.begin() as conn:
        data = bytearray(conn.execute(select(merkle_tiles.c.hashes).where(where)).scalar_one())
        data[offset] ^= 0x01
        conn.execute(update(merkle_tiles).where(where).values(hashes=bytes(data)))


def test_untouched_storage_passes(ledger: Ledger) -> None:
    report = self_audit(ledger.engine, events_table=ledger.integrator.events.name, origin=ORIGIN)
    assert report.tree_size == 600 and report.checkpoints_checked == 1


def test_an_edited_event_is_found(ledger: Ledger) -> None:
    table = ledger.integrator.events.name
    with ledger.engine.begin() as conn:
        state = bytes(conn.execute(text(f"SELECT state FROM {table} WHERE id = 301")).scalar_one())
        assert b'"e300"' in state
        conn.execute(text(f"UPDATE {table} SET state = :s WHERE id = 301"), {"s": state.replace(b"e300", b"e3OO")})
    with pytest.raises(StorageTampered, match="leaf 300"):
        audit(ledger)


@pytest.mark.parametrize(("level", "idx", "offset"), [(0, 0, 5), (0, 1, 32 * 200), (0, 2, 7), (1, 0, 33)])
def test_an_edited_tile_byte_is_found_at_any_level(ledger: Ledger, level: int, idx: int, offset: int) -> None:
    flip_tile_byte(ledger, level, idx, offset)
    with pytest.raises(StorageTampered):
        audit(ledger)


def test_edited_subtrees_are_found(ledger: Ledger) -> None:
    """The subtrees stored beside tile 1 (read by proofs) no longer those of its hashes: named as such."""
    where = and_(merkle_tiles.c.level == 0, merkle_tiles.c.idx == 1)
    with ledger.engine.begin() as conn:
        data = bytearray(conn.execute(select(merkle_tiles.c.subtrees).where(where)).scalar_one())
        data[3] ^= 0x01
        conn.execute(update(merkle_tiles).where(where).values(subtrees=bytes(data)))
    with pytest.raises(StorageTampered, match=r"tile \(0, 1\): stored subtrees are not those of its hashes"):
        audit(ledger)
