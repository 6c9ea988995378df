"""Commands decide on cached aggregates (domain/cache.py): what they read from the store, what another writer's
events do to a cached copy, a failed save, the bound, snapshots taken from the saved object, and that nothing
acknowledged lives only in the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from domain import errors
from domain.app import CityApp
from domain.cache import AggregateCache
from domain.core import snapshot_step
from tests.domain.conftest import EDU, OPERATOR, T0, citizen, days, make_app


def sqlite_env(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "SQLITE_LOCK_TIMEOUT": "10"}


def register(app: CityApp, q: Any, n: int) -> str:
    return app.register_kindergarten_entry(
        by=citizen(n), queue_id=q, child_key=f"c{n}", child_data={"n": n}, birth_year=2023, institutions=["k1"],
        at=T0 + days(n / 1000),
    )  # fmt: skip


class CountingReads:
    """Counts the events commands read from the store, and the reads."""

    def __init__(self, app: CityApp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        self.events = 0
        real = app.events.get

        def get(*a: Any, **kw: Any) -> Any:
            self.reads += 1
            found = list(real(*a, **kw))
            self.events += len(found)
            return iter(found)

        monkeypatch.setattr(app.events, "get", get)


def test_a_command_on_a_cached_queue_reads_only_newer_events(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    for i in range(300):
        register(app, q, i)
    counting = CountingReads(app, monkeypatch)
    register(app, q, 300)
    app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(1))
    # two version checks on the queue (nothing newer), one on the service: no event of the 301 entries is read
    assert counting.events == 0 and counting.reads == 3


def test_the_one_writer_reads_no_queue_before_deciding(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(single_writer=True)
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    register(app, q, 0)
    app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p0", at=T0 + days(1))
    counting = CountingReads(app, monkeypatch)
    register(app, q, 2000)  # two days in
    app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p1", at=T0 + days(3))
    assert counting.reads == 1 and counting.events == 0  # the service's version check only (see below)


def test_another_writers_events_are_fast_forwarded(tmp_path: Path) -> None:
    a = make_app(env=sqlite_env(tmp_path / "city.db"))
    b = CityApp(env=sqlite_env(tmp_path / "city.db"), pseudonymizer=a.pseudonymizer, vault=a.vault)
    q = a.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    first = register(a, q, 0)
    b.kindergarten_entry(q, first)  # b caches the queue
    cached = b.cache.get(q)
    second = register(a, q, 1)  # a writes; b's copy is behind
    assert b.kindergarten_entry(q, second)["status"] == "waiting"
    assert b.cache.get(q) is cached and cached.version == 3  # caught up in place, not reloaded
    offer = b.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(1))
    assert a.kindergarten_offer(q, offer)["entry"] == first  # and a catches up with b's


def test_a_failed_save_drops_the_copy_and_nothing_unsaved_is_decided_on(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    first = register(app, q, 0)
    real = app.recorder.insert_events

    def failing(*a: Any, **kw: Any) -> Any:
        raise OperationalError("disk full")

    monkeypatch.setattr(app.recorder, "insert_events", failing)
    with pytest.raises(OperationalError):
        register(app, q, 1)
    assert app.cache.get(q) is None  # its state held the unsaved registration
    monkeypatch.setattr(app.recorder, "insert_events", real)
    again = register(app, q, 1)
    assert again != first and app.kindergarten_entry(q, again)["child"] != app.kindergarten_entry(q, first)["child"]
    assert app.get_kindergarten_queue(q).state == app.cache.get(q).state
    assert [e.originator_version for e in app.events.get(q)] == [1, 2, 3]


def test_a_refused_command_keeps_the_copy() -> None:
    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    register(app, q, 0)
    cached = app.cache.get(q)
    with pytest.raises(errors.DuplicateEntry):
        register(app, q, 0)
    assert app.cache.get(q) is cached and cached.version == 2


def test_the_cache_is_bounded() -> None:
    cache = AggregateCache(maxsize=2)
    app = make_app()
    app.cache = cache
    queues = [app.create_kindergarten_queue(by=EDU, name=f"q{i}", institutions=["k1"], at=T0) for i in range(3)]
    for i, q in enumerate(queues):
        register(app, q, i)
    assert len(cache) == 2 and cache.get(queues[0]) is None and cache.get(queues[2]) is not None
    assert app.kindergarten_entry(queues[0], register(app, queues[0], 10))["status"] == "waiting"  # reloaded


def test_nothing_acknowledged_lives_only_in_the_cache(tmp_path: Path) -> None:
    """A crash loses the cache only: a new process on the same store has every acknowledged command."""
    app = make_app(env=sqlite_env(tmp_path / "city.db"), single_writer=True)
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1", "k2"], at=T0)
    entries = [register(app, q, i) for i in range(250)]  # a snapshot at 200, then a tail
    app.grant_benefit(by=EDU, queue_id=q, entry=entries[7], code="large_family", document={"d": 1}, at=T0 + days(1))
    offer = app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(1))
    state = app.cache.get(q).state
    restarted = CityApp(env=sqlite_env(tmp_path / "city.db"), pseudonymizer=app.pseudonymizer, vault=app.vault)
    assert restarted.get_kindergarten_queue(q).state == state
    assert restarted.kindergarten_offer(q, offer)["entry"] == entries[7]


def test_snapshots_are_taken_from_the_saved_object_without_its_index() -> None:
    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    for i in range(198):
        register(app, q, i)
    app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(1))  # v200
    assert app.cache.get(q).__dict__.get("_index") is not None
    assert app.snapshots is not None
    (snap,) = app.snapshots.get(q)
    assert snap.originator_version == 200 and "_index" not in snap.state  # taken after the offer built the index
    assert app.get_kindergarten_queue(q).state == app.cache.get(q).state


def test_snapshots_thin_out_as_a_stream_grows() -> None:
    assert [snapshot_step(200, v) for v in (1, 1599, 1600, 3200, 100_000, 1_000_000)] == [
        200, 200, 400, 800, 12_800, 204_800,
    ]  # fmt: skip
    # a cold load replays at most a quarter of the stream; a snapshot (O(state)) comes every v/8 events or more
    for v in (10_000, 100_000, 1_000_000):
        assert v / 8 < snapshot_step(200, v) <= v / 4


def test_the_one_writer_still_sees_a_service_revoked_from_another_process(tmp_path: Path) -> None:
    """`hromada service revoke` runs in its own process beside `hromada serve` (docs/api.md)."""
    server = make_app(env=sqlite_env(tmp_path / "city.db"), single_writer=True)
    q = server.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    register(server, q, 0)
    operator = CityApp(env=sqlite_env(tmp_path / "city.db"), pseudonymizer=server.pseudonymizer, vault=server.vault)
    operator.revoke_service(by=OPERATOR, service=EDU.id, reason="key leaked", at=T0 + days(1))
    with pytest.raises(errors.ServiceRevoked):
        server.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(2))
