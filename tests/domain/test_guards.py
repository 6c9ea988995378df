"""Signatures and votes are ordered against the petition/ballot changes they read (domain.guards).

Each race test holds one command inside its save for a while and lets the competing command run meanwhile:
without the guards the competitor commits first and the log shows a signature after a close, a vote after the
tally, or a threshold event with the wrong count; with them the competitor waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.ballots.aggregate import Ballot
from domain.base import LedgerAggregate
from domain.guards import HotAggregates, StreamGuards
from domain.petitions.aggregate import Signature
from domain.petitions.rules import SUMY
from tests.domain.conftest import CITY, T0, citizen, days, make_app

HOLD = 0.5  # seconds a held save waits for its competitor (which must NOT get through meanwhile)


def log_types(app: CityApp) -> list[str]:
    return [type(app.mapper.to_domain_event(n)).TYPE for n in app.recorder.select_notifications(1, 10_000)]


def hold_saves_of(app: CityApp, cls: type[LedgerAggregate], started: threading.Event) -> None:
    """The first save that stores a `cls` aggregate signals `started`, then pauses HOLD seconds."""
    real = app._save
    done = {"once": False}

    def save(*aggregates: LedgerAggregate) -> None:
        if not done["once"] and any(isinstance(a, cls) for a in aggregates):
            done["once"] = True
            started.set()
            time.sleep(HOLD)
        real(*aggregates)

    app._save = save  # type: ignore[method-assign]


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as e:
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def published(app: CityApp, threshold: int) -> UUID:
    pid = app.create_petition(
        by=citizen("author"), title="Сквер", text="Облаштувати сквер", rules=dict(SUMY, threshold=threshold), at=T0
    )
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    return pid


@pytest.fixture(params=[False, True], ids=["no-cache", "cache"])
def app(request: pytest.FixtureRequest) -> Any:
    a = make_app(single_writer=request.param)
    yield a
    a.close()


def test_close_waits_for_a_signature_decided_on_the_open_petition(app: CityApp) -> None:
    pid = published(app, threshold=100)
    started = threading.Event()
    hold_saves_of(app, Signature, started)
    last_second = T0 + days(45) - days(1 / 86400)  # SUMY collects for 45 days
    signer, signed = in_thread(lambda: app.sign_petition(by=citizen(1), petition_id=pid, at=last_second))
    assert started.wait(5)
    closer, closed = in_thread(lambda: app.close_petition(by=CITY, petition_id=pid, at=T0 + days(45)))
    signer.join(10)
    closer.join(10)
    assert not isinstance(signed[0], Exception) and closed == [None]
    types = [t for t in log_types(app) if t in ("petition.signed", "petition.closed")]
    assert types == ["petition.signed", "petition.closed"]
    assert list(app.events.get(pid))[-1].signatures == 1  # the close counted it
    assert app.guards.held() == 0


def test_the_cache_sees_moderation(app: CityApp) -> None:
    pid = app.create_petition(by=citizen("author"), title="Сквер", text="Облаштувати сквер", rules=SUMY, at=T0)
    with pytest.raises(errors.PetitionNotOpen):  # pending: the refusal read (and cached) the petition
        app.sign_petition(by=citizen(1), petition_id=pid, at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    other = app.create_petition(
        by=citizen("author"), title="Сквер 2", text="Ще один сквер", rules=SUMY, at=T0 + days(1)
    )
    with pytest.raises(errors.PetitionNotOpen):
        app.sign_petition(by=citizen(1), petition_id=other, at=T0 + days(1))
    app.reject_petition(by=CITY, petition_id=other, reason="Не належить до компетенції", at=T0 + days(1))
    with pytest.raises(errors.PetitionNotOpen):
        app.sign_petition(by=citizen(1), petition_id=other, at=T0 + days(2))
    assert app.get_petition(other).state["status"] == "rejected"


def test_threshold_count_is_exact_when_signatures_race(app: CityApp) -> None:
    pid = published(app, threshold=3)
    app.sign_petition(by=citizen(0), petition_id=pid, at=T0 + days(1))
    started = threading.Event()
    hold_saves_of(app, Signature, started)
    first, _ = in_thread(lambda: app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1)))
    assert started.wait(5)
    second, _ = in_thread(lambda: app.sign_petition(by=citizen(2), petition_id=pid, at=T0 + days(1)))
    first.join(10)
    second.join(10)
    log = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1000)]
    types = [type(e).TYPE for e in log]
    assert types.count("petition.threshold_reached") == 1
    idx = types.index("petition.threshold_reached")
    assert types[:idx].count("petition.signed") == 3 == log[idx].count


def test_many_concurrent_signers_cross_the_threshold_once_and_exactly(app: CityApp) -> None:
    pid = published(app, threshold=7)
    threads = [
        in_thread(lambda i=i: app.sign_petition(by=citizen(i), petition_id=pid, at=T0 + days(1)))  # type: ignore[misc]
        for i in range(20)
    ]
    for t, out in threads:
        t.join(20)
        assert not isinstance(out[0], Exception), out
    log = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1000)]
    types = [type(e).TYPE for e in log]
    idx = types.index("petition.threshold_reached")
    assert types.count("petition.threshold_reached") == 1
    assert types[:idx].count("petition.signed") == 7 == log[idx].count
    assert app.signature_count(pid) == 20 and app.guards.held() == 0


def open_ballot(app: CityApp) -> UUID:
    return app.open_ballot(
        by=CITY,
        title="Опитування",
        kind="poll",
        options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"},
        opens_at=T0,
        closes_at=T0 + days(2),
        eligibility={"identity_methods": ["diia"]},
        at=T0,
    )


def test_close_ballot_waits_for_a_vote_decided_on_the_open_ballot(app: CityApp) -> None:
    bid = open_ballot(app)
    from domain.ballots.aggregate import VoteRecord

    started = threading.Event()
    hold_saves_of(app, VoteRecord, started)
    voter, voted = in_thread(lambda: app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0 + days(1)))
    assert started.wait(5)
    closer, tally = in_thread(lambda: app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(2)))
    voter.join(10)
    closer.join(10)
    assert not isinstance(voted[0], Exception) and not isinstance(tally[0], Exception), (voted, tally)
    types = [t for t in log_types(app) if t.startswith("ballot.")]
    assert types == ["ballot.opened", "ballot.vote_cast", "ballot.closed"]
    closed = list(app.events.get(bid))[-1]
    assert isinstance(closed, Ballot.Closed) and closed.voters == 1 == tally[0]["voters"]


def test_revote_after_the_cache_filled_is_a_change(app: CityApp) -> None:
    bid = open_ballot(app)
    first = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0 + days(1))
    again = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=T0 + days(1))
    assert type(first).TYPE == "ballot.vote_cast" and type(again).TYPE == "ballot.vote_changed"
    assert app.counted_votes(bid) == [["b"]]


def test_vote_guessed_first_but_already_recorded_is_redecided_as_a_change(app: CityApp) -> None:
    """The projection may not know a vote (another writer): the first-vote guess conflicts and is re-decided."""
    bid = open_ballot(app)
    app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0 + days(1))
    app.projections.votes.clear()  # forget it, as a process that did not see that write would
    again = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=T0 + days(1))
    assert type(again).TYPE == "ballot.vote_changed"


def test_ballot_id_of_a_petition_is_not_found_through_the_cache(app: CityApp) -> None:
    pid = published(app, threshold=5)
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))  # caches the petition
    with pytest.raises(errors.NotFound):
        app.cast_vote(by=citizen(1), ballot_id=pid, selection=["a"], at=T0 + days(1))


# -- the primitives -----------------------------------------------------------------------------------------
def test_readers_share_and_a_writer_waits_for_them() -> None:
    g = StreamGuards()
    key = UUID(int=1)
    order: list[str] = []
    with g.shared(key), g.shared(key):  # two readers at once
        w, _ = in_thread(lambda: (g.exclusive(key).__enter__(), order.append("writer")))
        time.sleep(0.1)
        order.append("readers done")
    w.join(5)
    assert order == ["readers done", "writer"]


def test_a_waiting_writer_stops_new_readers() -> None:
    g = StreamGuards()
    key = UUID(int=2)
    order: list[str] = []
    entered = threading.Event()

    def writer() -> None:
        with g.exclusive(key):
            order.append("writer")

    def reader() -> None:
        with g.shared(key):
            order.append("late reader")

    with g.shared(key):
        w, _ = in_thread(writer)
        time.sleep(0.1)  # the writer now waits
        r, _ = in_thread(reader)
        time.sleep(0.1)
        entered.set()
        order.append("first reader done")
    w.join(5)
    r.join(5)
    assert order == ["first reader done", "writer", "late reader"]
    assert g.held() == 0


def test_exclusive_on_several_keys_in_any_order_does_not_deadlock() -> None:
    g = StreamGuards()
    a, b = UUID(int=3), UUID(int=4)

    def lock(*keys: UUID) -> None:
        for _ in range(200):
            with g.exclusive(*keys):
                pass

    t1, _ = in_thread(lambda: lock(a, b))
    t2, _ = in_thread(lambda: lock(b, a))
    t1.join(10)
    t2.join(10)
    assert not t1.is_alive() and not t2.is_alive() and g.held() == 0


def test_hot_cache_disabled_always_loads_and_invalidate_forgets() -> None:
    loads: list[int] = []
    off = HotAggregates(enabled=False)
    off.get(UUID(int=5), lambda: loads.append(1))
    off.get(UUID(int=5), lambda: loads.append(1))
    assert len(loads) == 2
    on = HotAggregates(enabled=True)
    assert on.get(UUID(int=5), lambda: "v1") == "v1"
    assert on.get(UUID(int=5), lambda: "v2") == "v1"
    on.invalidate([UUID(int=5)])
    assert on.get(UUID(int=5), lambda: "v2") == "v2"
