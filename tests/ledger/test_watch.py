"""The ledger watches itself (ledger/watch.py): each round checks the new leaves and a sweep of old ones, a
finding stops signing, and a clean pass from the start clears it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, select, text, update

import ledger.watch as watch_module
from ledger.config import Settings
from ledger.db.schema import checkpoints, merkle_tiles
from ledger.errors import StorageTampered
from ledger.runtime import Ledger
from ledger.watch import Watch
from tests.ledger.sample import SYSTEM, Note, NotesApp

ORIGIN = "test.local/watch"


def write(ledger: Ledger, n: int, start: int = 0) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    for i in range(start, start + n, 50):
        app.save(*[Note(actor=SYSTEM, text=f"e{i + j}") for j in range(min(50, start + n - i))])
    ledger.integrate_and_checkpoint()


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN), NotesApp) as ledger:
        write(ledger, 600)
        yield ledger


def new_watch(ledger: Ledger, **kw: Any) -> Watch:
    return Watch(ledger.engine, events=ledger.integrator.events, origin=ORIGIN, **kw)


def edit_event(ledger: Ledger, notification_id: int, old: bytes, new: bytes) -> None:
    table = ledger.integrator.events.name
    with ledger.engine.begin() as conn:
        state = bytes(
            conn.execute(text(f"SELECT state FROM {table} WHERE id = :i"), {"i": notification_id}).scalar_one()
        )
        assert old in state
        conn.execute(
            text(f"UPDATE {table} SET state = :s WHERE id = :i"), {"s": state.replace(old, new), "i": notification_id}
        )


def test_a_clean_store_passes_and_the_pass_completes(ledger: Ledger) -> None:
    w = new_watch(ledger)
    status = w.round()
    assert status.ok and status.checked_size == 600 and status.complete_at is not None and status.finding is None


def test_an_edited_event_is_found_in_the_next_round_and_stops_signing(ledger: Ledger) -> None:
    w = new_watch(ledger)
    assert w.round().ok
    edit_event(ledger, 301, b'"e300"', b'"e3OO"')
    status = w.round()  # leaf 300 is old by now: the sweep finds it
    assert not status.ok and status.finding is not None
    assert status.finding["where"] == "leaf 300"
    app = ledger.app
    assert isinstance(app, NotesApp)
    app.save(Note(actor=SYSTEM, text="after"))
    ledger.integrator.integrate_all()
    with pytest.raises(StorageTampered, match="refusing to sign"):
        ledger.checkpointer.checkpoint()


def test_the_sweep_reaches_every_old_leaf_and_a_round_reads_only_new_plus_sweep(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    original = watch_module.iter_entry_range

    def counting(conn: Any, events: Any, begin: int, end: int) -> Iterator[bytes]:
        read.append(end - begin)
        return original(conn, events, begin, end)

    monkeypatch.setattr(watch_module, "iter_entry_range", counting)
    w = new_watch(ledger, new_per_round=1000, sweep_per_round=100)
    assert w.round().ok  # the start's pass: 600 new leaves
    edit_event(ledger, 551, b'"e550"', b'"e55O"')  # near the end: the sweep gets there last
    found_after = None
    for n in range(1, 8):
        read.clear()
        write(ledger, 10, start=600 + 10 * n)
        status = w.round()
        assert sum(read) <= 10 + 100, read  # O(new + sweep), never O(log)
        if not status.ok:
            found_after = n
            break
    assert found_after == 6, found_after  # 600 old leaves / 100 per round: the 6th sweep reads 500..599


@pytest.mark.parametrize(
    ("level", "idx", "offset", "where"),
    [(0, 1, 32 * 200, "leaf 456"), (1, 0, 33, "tile level 1 hash 1")],
)
def test_an_edited_tile_hash_is_found(ledger: Ledger, level: int, idx: int, offset: int, where: str) -> None:
    w = new_watch(ledger)
    assert w.round().ok
    key = and_(merkle_tiles.c.level == level, merkle_tiles.c.idx == idx)
    with ledger.engine.begin() as conn:
        data = bytearray(conn.execute(select(merkle_tiles.c.hashes).where(key)).scalar_one())
        data[offset] ^= 0x01
        conn.execute(update(merkle_tiles).where(key).values(hashes=bytes(data)))
    status = w.round()
    assert not status.ok and status.finding is not None and status.finding["where"] == where


def test_edited_subtrees_are_found(ledger: Ledger) -> None:
    """The subtrees stored beside a tile (what proofs read above height 3) must be those of its hashes."""
    w = new_watch(ledger)
    assert w.round().ok
    key = and_(merkle_tiles.c.level == 0, merkle_tiles.c.idx == 1)
    with ledger.engine.begin() as conn:
        data = bytearray(conn.execute(select(merkle_tiles.c.subtrees).where(key)).scalar_one())
        data[29 * 32] ^= 0x01
        conn.execute(update(merkle_tiles).where(key).values(subtrees=bytes(data)))
    status = w.round()
    assert not status.ok and status.finding is not None
    assert status.finding["where"] == "tile level 0 tile 1 subtrees"


def test_an_edited_checkpoint_root_is_found(ledger: Ledger) -> None:
    w = new_watch(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(update(checkpoints).values(root=b"\x00" * 32))
    status = w.round()
    assert not status.ok and status.finding is not None and status.finding["where"] == "checkpoint 600"


def test_a_finding_stays_until_a_clean_pass_from_the_start(ledger: Ledger) -> None:
    w = new_watch(ledger)
    edit_event(ledger, 11, b'"e10"', b'"eIO"')
    assert not w.round().ok
    edit_event(ledger, 11, b'"eIO"', b'"e10"')  # the operator puts the row back
    assert not w.round().ok  # the same watch has moved on: no clean pass since its start
    again = new_watch(ledger)  # a restart of the ledger: a pass from leaf 0
    status = again.round()
    assert status.ok and status.finding is None and status.complete_at is not None
    ledger.checkpointer.checkpoint()  # signing works again (nothing new: returns None, but does not refuse)
