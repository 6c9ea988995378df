"""Real concurrent writers (threads) on the in-memory store: both load the same version, both decide, both
save at the same moment. Commands on one queue in one process take turns (its in-process lock, domain/cache.py), so
queues race as two applications (two processes) on one SQLite file, each with its own cache. The PostgreSQL variant
belongs to the ledger's tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from domain import errors
from domain.app import CityApp
from tests.domain.conftest import CITY, EDU, T0, citizen, days, make_app


class Rendezvous:
    """Makes the first decision of each of two threads wait for the other, so both loaded the same state before
    either saved. (The decisions themselves then run one after the other, domain/sequencing.py: the second decides
    on the state it loaded, which its save finds replaced.)"""

    def __init__(self, *apps: CityApp) -> None:
        self.barrier = threading.Barrier(2, timeout=10)
        self.seen: set[int] = set()
        for app in apps:
            self._install(app)

    def _install(self, app: CityApp) -> None:
        real = app.sequencer.deciding

        @contextmanager
        def deciding(at: datetime) -> Iterator[datetime]:
            me = threading.get_ident()
            if me not in self.seen:
                self.seen.add(me)
                self.barrier.wait()
            with real(at) as now:
                yield now

        app.sequencer.deciding = deciding  # type: ignore[method-assign]


def race(*commands: Any) -> list[Any]:
    results: list[Any] = [None] * len(commands)

    def go(i: int) -> None:
        try:
            results[i] = commands[i]()
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(commands))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


def two_writers(path: Path) -> tuple[CityApp, CityApp]:
    """Two applications on one SQLite file, as two processes would be (each its own cache and sequencer)."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "SQLITE_LOCK_TIMEOUT": "10"}
    a = make_app(env=env)
    b = CityApp(env=env, pseudonymizer=a.pseudonymizer, vault=a.vault)
    return a, b


def queue_of_two(app: CityApp) -> tuple[Any, list[str]]:
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    entries = [
        app.register_kindergarten_entry(
            by=citizen(i),
            queue_id=q,
            child_key=f"c{i}",
            child_data={"n": i},
            birth_year=2023,
            institutions=["k1"],
            at=T0 + days(i),
        )
        for i in range(2)
    ]
    return q, entries


def test_two_offers_for_the_same_place_at_the_same_time(tmp_path: Path) -> None:
    a, b = two_writers(tmp_path / "city.db")
    q, _ = queue_of_two(a)
    Rendezvous(a, b)

    def offer(app: CityApp) -> str:
        return app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p1", at=T0 + days(3))

    results = race(lambda: offer(a), lambda: offer(b))
    ok = [r for r in results if isinstance(r, str)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 1 and len(failed) == 1 and isinstance(failed[0], errors.PlaceUnavailable), results
    assert [type(e).TYPE for e in a.events.get(q)].count("kindergarten.offer_issued") == 1


def test_two_offers_for_different_places_both_succeed_in_turn(tmp_path: Path) -> None:
    a, b = two_writers(tmp_path / "city.db")
    q, entries = queue_of_two(a)
    b.get_kindergarten_queue(q)
    Rendezvous(a, b)
    results = race(
        lambda: a.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p1", at=T0 + days(3)),
        lambda: b.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p2", at=T0 + days(3)),
    )
    assert all(isinstance(r, str) for r in results), results
    for app in (a, b):  # re-decided: no double offer, and each cached copy caught up with the other's write
        queue = app.get_kindergarten_queue(q)
        assert sorted(queue.offer(o)["entry"] for o in results) == sorted(entries)
        assert app.kindergarten_offer(q, results[0])["entry"] in entries


def test_commands_on_one_queue_in_one_process_take_turns() -> None:
    app = make_app()
    q, _ = queue_of_two(app)

    def offer() -> str:
        return app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p1", at=T0 + days(3))

    results = race(offer, offer)
    assert sorted(type(r).__name__ for r in results) == ["PlaceUnavailable", "str"], results
    assert [type(e).TYPE for e in app.events.get(q)].count("kindergarten.offer_issued") == 1


def test_first_votes_of_one_voter_from_two_devices() -> None:
    app = make_app()
    bid = app.open_ballot(
        by=CITY, title="b", kind="poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"}, opens_at=T0, closes_at=T0 + days(1), eligibility={"identity_methods": ["diia"]},
        at=T0,
    )  # fmt: skip
    Rendezvous(app)
    results = race(
        lambda: app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0),
        lambda: app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=T0),
    )
    types = sorted(type(r).TYPE for r in results)
    assert types == ["ballot.vote_cast", "ballot.vote_changed"], results
    assert len(app.counted_votes(bid)) == 1


@pytest.mark.parametrize("n", [2])
def test_same_citizen_signs_twice_at_once(n: int) -> None:
    app = make_app()
    from domain.petitions.rules import SUMY

    pid = app.create_petition(by=citizen("a"), title="t", text="x", rules=SUMY, at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    Rendezvous(app)
    results = race(*[lambda: app.sign_petition(by=citizen(1), petition_id=pid, at=T0)] * n)
    assert sum(isinstance(r, errors.DuplicateSignature) for r in results) == 1, results
    assert app.signature_count(pid) == 1


def test_projections_tolerate_out_of_order_delivery() -> None:
    from domain.projections import Projections, record_of

    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=T0)
    for i in range(3):
        app.register_kindergarten_entry(
            by=citizen(i),
            queue_id=q,
            child_key=f"c{i}",
            child_data={"n": i},
            birth_year=2023,
            institutions=["k1"],
            at=T0 + days(i),
        )
    records = [record_of(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 1000)]
    in_order = Projections()
    in_order.apply_all(records)
    shuffled = Projections()
    for r in reversed(records):
        shuffled.apply(r)
    assert shuffled.public_state() == in_order.public_state() == app.projections.public_state()
    assert shuffled.early == {str(q): {}} or not any(shuffled.early.values())
