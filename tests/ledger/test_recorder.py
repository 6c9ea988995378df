"""The ledger's recorders (ledger/db/recorder.py) store and read exactly what eventsourcing-sqlalchemy's do, with the
same durability and the same errors; only the path through SQLAlchemy is shorter."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from ledger.app import persistence_env
from ledger.db.recorder import LedgerApplicationRecorder


def _factory(url: str, name: str, library: bool = False) -> Any:
    env = persistence_env(url)
    env.pop("MAPPER_TOPIC")
    if library:
        env["PERSISTENCE_MODULE"] = "eventsourcing_sqlalchemy"
    return InfrastructureFactory.construct(Environment(name, env))


def _events(stream: uuid.UUID, n: int) -> list[StoredEvent]:
    return [StoredEvent(stream, v, "some.topic:Event", f"state {v} \u00e9".encode()) for v in range(1, n + 1)]


def _rows(recorder: Any) -> list[tuple[Any, ...]]:
    raw = recorder.datastore.engine.raw_connection()
    try:
        return list(raw.cursor().execute(f"SELECT * FROM {recorder.events_table_name} ORDER BY id").fetchall())
    finally:
        raw.close()


def test_the_same_rows_ids_and_reads_as_the_library(tmp_path: Path) -> None:
    ours_f = _factory(f"sqlite:///{tmp_path / 'ours.db'}", "Same")
    theirs_f = _factory(f"sqlite:///{tmp_path / 'theirs.db'}", "Same", library=True)
    ours, theirs = ours_f.application_recorder(), theirs_f.application_recorder()
    assert isinstance(ours, LedgerApplicationRecorder)
    assert not isinstance(theirs, LedgerApplicationRecorder)
    a, b = uuid.uuid4(), uuid.uuid4()
    for rec in (ours, theirs):
        assert rec.insert_events(_events(a, 3)) == [1, 2, 3]
        assert rec.insert_events(_events(b, 1)) == [4]
    assert _rows(ours) == _rows(theirs)
    for kwargs in ({}, {"gt": 1}, {"lte": 2}, {"desc": True, "limit": 1}, {"gt": 1, "lte": 2, "desc": True}):
        assert ours.select_events(a, **kwargs) == theirs.select_events(a, **kwargs), kwargs
    assert ours.select_events(str(b)) == theirs.select_events(b)
    assert ours.select_events(uuid.uuid4()) == []
    ours_f.close()
    theirs_f.close()


def test_a_conflict_stores_nothing_of_the_save_and_raises_the_library_error(tmp_path: Path) -> None:
    f = _factory(f"sqlite:///{tmp_path / 'c.db'}", "Conflict")
    rec = f.application_recorder()
    a, b = uuid.uuid4(), uuid.uuid4()
    rec.insert_events(_events(a, 1))
    with pytest.raises(IntegrityError):
        rec.insert_events([*_events(b, 1), *_events(a, 1)])  # b v1 is new, a v1 exists: the whole save fails
    assert rec.select_events(b) == []
    assert rec.insert_events(_events(b, 1)) == [2]  # the connection went back to the pool clean
    f.close()


def test_commits_are_durable_as_the_librarys(tmp_path: Path) -> None:
    """The events' engine is the library's: WAL, synchronous=FULL (one fsync per commit); nothing weakens it."""
    f = _factory(f"sqlite:///{tmp_path / 'd.db'}", "Durable")
    rec = f.application_recorder()
    rec.insert_events(_events(uuid.uuid4(), 1))
    raw = rec.datastore.engine.raw_connection()
    try:
        cur = raw.cursor()
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        raw.close()
    f.close()


def test_inside_a_library_transaction_the_library_path_is_taken(tmp_path: Path) -> None:
    """A save inside `recorder.transaction()` joins that transaction (and its rollback), as the library's would."""
    f = _factory(f"sqlite:///{tmp_path / 't.db'}", "Joined")
    rec = f.application_recorder()
    a = uuid.uuid4()
    with pytest.raises(RuntimeError), rec.transaction(commit=True):
        rec.insert_events(_events(a, 1))
        assert rec.select_events(a) == _events(a, 1)  # read in the same transaction
        raise RuntimeError("rolled back")
    assert rec.select_events(a) == []
    f.close()


def test_saves_and_reads_keep_their_connections_with_the_engines_durability(tmp_path: Path) -> None:
    """Saves run on one connection the recorder keeps and reads on kept ones, instead of a pool checkout per call;
    they are the engine's (WAL, synchronous=FULL: one fsync per commit), never left in a transaction, and closed
    with the factory."""
    f = _factory(f"sqlite:///{tmp_path / 'k.db'}", "Kept")
    rec = f.application_recorder()
    a, b = uuid.uuid4(), uuid.uuid4()
    assert rec.insert_events(_events(a, 2)) == [1, 2]
    writer = rec._writer
    assert writer is not None
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with pytest.raises(IntegrityError):
        rec.insert_events([*_events(b, 1), *_events(a, 1)])
    assert not writer.in_transaction  # rolled back: the next save does not carry b's row
    assert rec.insert_events(_events(b, 1)) == [3]
    assert rec._writer is writer
    assert rec.select_events(a) == _events(a, 2)
    assert rec.select_events(b) == _events(b, 1)
    assert len(rec._readers._idle) == 1
    reader = rec._readers._idle[0]
    assert reader.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert not reader.in_transaction
    f.close()
    assert rec._writer is None and rec._readers._idle == []
    with pytest.raises(Exception, match="closed"):
        writer.execute("SELECT 1")
    assert rec.insert_events(_events(uuid.uuid4(), 1)) == [4]  # after close: the pool's connections
    assert rec.select_events(b) == _events(b, 1)


def test_closing_a_ledger_closes_every_connection_of_its_database(tmp_path: Path) -> None:
    """The library's factory closed nothing: its pool kept a connection open until the garbage collector found
    it, so the WAL stayed beside the database and was checkpointed into it at some later moment (a backup test saw
    the file's bytes change under a command that writes nothing). With the collector off, nothing may stay open."""
    import gc
    from datetime import UTC, datetime

    from domain.identity import Actor
    from ledger.config import Settings
    from ledger.runtime import Ledger

    gc.collect()
    gc.disable()
    try:
        with Ledger(Settings(data_dir=tmp_path)) as ledger:
            ledger.app.register_service(  # type: ignore[attr-defined]
                by=Actor.system(), service="svc", name="Service", scopes=[], at=datetime.now(UTC)
            )
            ledger.integrate_and_checkpoint()
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm")))
    finally:
        gc.enable()
    assert left == []
