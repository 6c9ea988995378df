"""The group committer's batch insert on SQLite and PostgreSQL: one transaction per batch, commit order is
queue order, and a conflicting write fails alone (its batch is re-run one write per transaction)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from ledger.app import persistence_env
from ledger.groupcommit import GroupCommitter, batch_inserter


@pytest.fixture
def recorder(database_url: str) -> Any:
    env = {**persistence_env(database_url)}
    env.pop("MAPPER_TOPIC")
    factory = InfrastructureFactory.construct(Environment("GroupCommitTest", env))
    rec = factory.application_recorder()
    yield rec
    factory.close()


def _event(stream: uuid.UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(stream, version, "test", f"state of {stream} v{version}".encode())


def _stored(recorder: Any) -> list[tuple[uuid.UUID, int]]:
    return [(n.originator_id, n.originator_version) for n in recorder.select_notifications(1, 100)]


def test_a_batch_is_inserted_in_order_and_a_conflict_fails_it_whole(recorder: Any) -> None:
    insert = batch_inserter(recorder)
    a, b = uuid.uuid4(), uuid.uuid4()
    assert insert([[_event(a), _event(b)], [_event(a, 2)]], [None, None]) == [None, None]
    assert _stored(recorder) == [(a, 1), (b, 1), (a, 2)]
    with pytest.raises(IntegrityError):
        insert([[_event(uuid.uuid4())], [_event(b)]], [None, None])  # b v1 exists: nothing of this batch is kept
    assert len(_stored(recorder)) == 3
    assert insert([[]], [None]) == [None]  # a command that decided to store nothing
    assert len(_stored(recorder)) == 3


def test_only_the_conflicting_write_of_a_batch_fails(recorder: Any) -> None:
    committer = GroupCommitter(recorder, max_batch=64)
    taken = uuid.uuid4()
    committer.insert_events([_event(taken)])
    gate = threading.Lock()
    results: dict[int, BaseException | None] = {}
    streams = [uuid.uuid4() for _ in range(6)]

    def write(i: int) -> None:
        with gate:
            pass
        try:
            committer.insert_events([_event(taken if i == 3 else streams[i])])
            results[i] = None
        except BaseException as e:
            results[i] = e

    with gate:  # queue all six before any runs far
        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
    for t in threads:
        t.join(10)
    committer.stop()
    assert isinstance(results[3], IntegrityError)
    assert all(results[i] is None for i in range(6) if i != 3)
    stored = {s for s, _ in _stored(recorder)}
    assert stored == {taken, *(streams[i] for i in range(6) if i != 3)}
    assert recorder.insert_events == committer.original_insert  # stop() restored the recorder
