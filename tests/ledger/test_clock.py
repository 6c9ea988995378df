"""The clock (domain/clock.py, ledger/clock.py): deadlines acted on once, on time, by ``system:clock``, across rounds,
restarts and processes; the log it leaves audits clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.base import rfc3339
from domain.clock import ACTIONS, run_due
from domain.errors import DomainError
from hromada.demo import BUDGET_RULES, CITY, EDU, OPERATOR, Demo
from ledger.clock import ClockThread, tick
from ledger.config import Settings
from ledger.export import write_bundle
from ledger.runtime import Ledger
from ledger.writerlock import WriterLock
from verifier.audit import run_audit
from verifier.note import parse_verifier_key

CLOCK_ACTOR = {"kind": "system", "id": "clock"}


def city(ledger: Ledger) -> tuple[Demo, dict[str, Any]]:
    """Services, two published petitions, a kindergarten queue with one offer left pending, an open ballot."""
    demo = Demo(ledger, events=250, seed=5)
    demo.clock.on_advance = None  # this test runs the clock's rounds itself
    demo.register_services()
    demo.publish_statutes()
    demo.petitions()
    demo.kindergarten()
    app: Any = ledger.app
    q = UUID(demo.report.ids["kindergarten"])
    offer = None
    for inst in ("dnz-12", "dnz-47", "dnz-101"):
        for year in (2022, 2023, 2024):
            try:
                offer = app.issue_offer(by=EDU, queue_id=q, institution=inst, birth_year=year, place=f"{inst}/x",
                                        at=demo.clock.tick(60))  # fmt: skip
                break
            except DomainError:
                continue
        if offer:
            break
    assert offer is not None
    opens = demo.clock.tick(60)
    ballot = app.open_ballot(
        by=CITY, title="Сквер", rule_set=BUDGET_RULES, secrecy="open",
        options=[{"id": "a", "title": "A", "cost": 100, "district": "podil"}],
        method={"type": "budget", "budgets": {"podil": 1000}}, opens_at=opens, closes_at=opens + timedelta(days=3),
        at=opens,
    )  # fmt: skip
    return demo, {"queue": q, "offer": offer, "ballot": ballot}


def waiting(app: Any) -> dict[tuple[str, str, str | None], str]:
    """(action, stream, item) -> due, for every deadline still waiting, from the folded state (O(all): the test's
    reference for the heap)."""
    out: dict[tuple[str, str, str | None], str] = {}
    for sid, st in app.projections.of_kind("petition").items():
        if st.get("status") == "published":
            out[("petition.closed", sid, None)] = st["deadline"]
    for sid, st in app.projections.of_kind("ballot").items():
        if st.get("status") == "open":
            out[("ballot.closed", sid, None)] = st["closes_at"]
    for sid, st in app.projections.of_kind("kindergarten").items():
        for oid, o in st["offers"].items():
            if o["status"] == "pending":
                out[("kindergarten.offer_expired", sid, oid)] = o["expires_at"]
    return out


def rows(ledger: Ledger) -> list[dict[str, Any]]:
    return [json.loads(r.state) for r in ledger.app.recorder.select_notifications(start=1, limit=100_000)]


def clock_events(ledger: Ledger) -> list[dict[str, Any]]:
    return [e for e in rows(ledger) if e["actor"] == CLOCK_ACTOR]


def audit(ledger: Ledger, out: Path) -> None:
    ledger.integrate_and_checkpoint()
    write_bundle(ledger.engine, events_table=ledger.integrator.events.name, origin=ledger.settings.origin,
                 verifier_key=ledger.signer.verifier_key, out=out, state=ledger.published_state)  # fmt: skip
    report = run_audit(out, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.verified, [f.describe() for f in report.findings()]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    with Ledger(settings) as ledger:
        yield ledger


def test_the_registry_has_one_row_per_action() -> None:
    assert [a.name for a in ACTIONS] == [
        "petition.closed",
        "ballot.closed",
        "kindergarten.offer_expired",
        "petition.response_overdue",
    ]
    assert len({a.sets for a in ACTIONS}) == len(ACTIONS)


def test_a_round_acts_on_exactly_what_is_due_and_nothing_early(ledger: Ledger) -> None:
    demo, ids = city(ledger)
    app: Any = ledger.app
    before = waiting(app)
    assert {a for a, _, _ in before} == {"petition.closed", "ballot.closed", "kindergarten.offer_expired"}
    assert len(app.projections.deadlines) >= len(before)
    dues = sorted(set(before.values()))
    # a fake clock stepped to one microsecond before each deadline, then to the deadline itself
    seen: set[tuple[str, str, str | None]] = set()
    for due in dues:
        at = datetime.strptime(due, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=demo.clock.now.tzinfo)
        if at > demo.clock.now:
            early = run_due(app, at - timedelta(microseconds=1))
            assert [(f.action, f.stream, f.item) for f in early] == []  # nothing before its time
            demo.clock.jump_to(at)
        fired = run_due(app, demo.clock.now)
        assert all(f.error is None for f in fired)
        got = {(f.action, f.stream, f.item) for f in fired}
        assert got == {k for k, d in before.items() if d == due} - seen
        seen |= got
    assert seen == set(before)
    # what waits now is only the expired offer's place, offered on by the clock to the group's next entry
    passed = passed_on(ledger)
    rest = waiting(app)
    assert {(a, s, i) for a, s, i in rest} == {("kindergarten.offer_expired", e["stream"], e["data"]["offer"])
                                               for e in passed}  # fmt: skip
    assert len(app.projections.deadlines) == len(rest)
    assert run_due(app, demo.clock.tick(60)) == []  # once
    events = [e for e in clock_events(ledger) if e["type"] != "kindergarten.offer_issued"]
    assert sorted(e["type"] for e in events) == sorted(a for a, _, _ in before)
    expired = app.get_kindergarten_queue(ids["queue"]).offer(ids["offer"])
    assert expired["status"] == "expired"
    if passed:  # the same place, the same group
        [again] = passed
        assert (again["data"]["institution"], again["data"]["birth_year"], again["data"]["place"]) == (
            expired["institution"], expired["birth_year"], expired["place"])  # fmt: skip


def passed_on(ledger: Ledger) -> list[dict[str, Any]]:
    """The clock's offers: each is the queue's next event after the clock's expiry of an offer of that place."""
    log = rows(ledger)
    out = []
    for i, e in enumerate(log):
        if e["type"] == "kindergarten.offer_issued" and e["actor"] == CLOCK_ACTOR:
            before = [x for x in log[:i] if x["stream"] == e["stream"]][-1]
            assert before["type"] == "kindergarten.offer_expired" and before["actor"] == CLOCK_ACTOR
            assert before["time"] == e["time"] and before["version"] + 1 == e["version"]  # one save
            out.append(e)
    return out


def test_a_command_first_leaves_the_clock_nothing(ledger: Ledger) -> None:
    demo, ids = city(ledger)
    app: Any = ledger.app
    app.close_ballot(by=CITY, ballot_id=ids["ballot"], at=demo.clock.tick(4 * 86400))  # the city closed it itself
    fired = run_due(app, demo.clock.tick(60))
    assert ("ballot.closed", str(ids["ballot"])) not in {(f.action, f.stream) for f in fired}
    assert [e["type"] for e in clock_events(ledger)].count("ballot.closed") == 0


def test_tick_twice_and_after_a_restart_appends_once(settings: Settings) -> None:
    with Ledger(settings) as ledger:
        demo, _ = city(ledger)
        later = demo.clock.now + timedelta(days=400)
        expected = len(waiting(ledger.app))
        first = tick(ledger, now=lambda: later)
        assert first is not None and len(first) == expected and all(f.error is None for f in first)
        assert tick(ledger, now=lambda: later) == []
        n = len(rows(ledger))
    with Ledger(settings) as ledger:  # a restart rebuilds the deadlines from the log: nothing left
        assert tick(ledger, now=lambda: later + timedelta(days=1)) == []
        assert len(rows(ledger)) == n and len(clock_events(ledger)) == expected + len(passed_on(ledger))


def test_tick_beside_the_lock_holder_does_nothing(ledger: Ledger) -> None:
    city(ledger)
    with WriterLock(ledger.engine):  # a running `serve` (or another tick)
        assert tick(ledger) is None
    assert clock_events(ledger) == []


def test_two_tick_processes_at_once_append_once(settings: Settings) -> None:
    with Ledger(settings) as ledger:
        city(ledger)  # the demo's 2026 deadlines lie before the wall clock's "now" well into the future
        expected = len([d for d in waiting(ledger.app).values() if d <= rfc3339(datetime.now(demo_tz()))])
        assert expected >= 1
    env = {**os.environ, "HROMADA_DATA_DIR": str(settings.data_dir)}
    cmd = [sys.executable, "-m", "hromada", "tick"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with Ledger(settings) as ledger:
        assert len(clock_events(ledger)) == expected + len(passed_on(ledger)), outs
        third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
        assert "0 clock event(s) appended" in third.stdout
        assert len(clock_events(ledger)) == expected + len(passed_on(ledger))


def demo_tz() -> Any:
    from datetime import UTC

    return UTC


def test_a_served_ledger_closes_a_petition_by_itself(ledger: Ledger) -> None:
    demo, _ = city(ledger)
    app: Any = ledger.app
    petitions = [k for k in waiting(app) if k[0] == "petition.closed"]
    late = demo.clock.now + timedelta(days=400)
    thread = ClockThread(app, every=0.05, now=lambda: late)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(k in waiting(app) for k in petitions):
            time.sleep(0.05)
    finally:
        thread.stop()
    assert thread.rounds >= 1
    closed = [e for e in clock_events(ledger) if e["type"] == "petition.closed"]
    assert sorted(e["stream"] for e in closed) == sorted(s for _, s, _ in petitions)


def test_simulated_days_across_restarts_audit_clean(settings: Settings, tmp_path: Path) -> None:
    """Sixty days on a fake clock, a round a day, the server restarted twice: every deadline acted on in the first
    round at or after it, once, and the log audits clean after each phase."""
    with Ledger(settings) as ledger:
        demo, _ = city(ledger)
        start = demo.clock.now
        expected = waiting(ledger.app)
    day = 0
    fired_at: dict[tuple[str, str, str | None], str] = {}
    dues: dict[tuple[str, str, str | None], str] = {}
    for phase in range(3):
        with Ledger(settings) as ledger:
            for _ in range(20):
                day += 1
                now = start + timedelta(days=day)
                for f in tick(ledger, now=lambda now=now: now) or []:  # type: ignore[misc]
                    assert f.error is None and (f.action, f.stream, f.item) not in fired_at
                    fired_at[(f.action, f.stream, f.item)] = rfc3339(now)
                    dues[(f.action, f.stream, f.item)] = f.due
            audit(ledger, tmp_path / f"bundle-{phase}")
    due_by_day60 = {k: d for k, d in expected.items() if d <= rfc3339(start + timedelta(days=60))}
    assert {a for a, _, _ in due_by_day60} >= {"ballot.closed", "kindergarten.offer_expired"}
    assert set(fired_at) >= set(due_by_day60)
    with Ledger(settings) as ledger:  # anything else the clock acted on is an offer it passed on itself
        offered = {("kindergarten.offer_expired", e["stream"], e["data"]["offer"]) for e in passed_on(ledger)}
    assert set(fired_at) - set(due_by_day60) <= offered
    for k, due in dues.items():  # on time: in the daily round right after the deadline
        assert due <= fired_at[k] < rfc3339(datetime.strptime(due, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=demo_tz()) + timedelta(days=1))  # fmt: skip


def test_a_refused_deadline_is_retried_next_round(ledger: Ledger) -> None:
    """A round whose command is refused (here: its time is behind the log) keeps the deadline for the next round."""
    demo, ids = city(ledger)
    app: Any = ledger.app
    due = datetime.strptime(waiting(app)[("ballot.closed", str(ids["ballot"]), None)], "%Y-%m-%dT%H:%M:%S.%fZ")
    due = due.replace(tzinfo=demo.clock.now.tzinfo)
    later = due + timedelta(hours=1)
    app.register_service(by=OPERATOR, service="city.late", name="Late", scopes=["petition:respond"], at=later)
    refused = [f for f in run_due(app, due) if f.stream == str(ids["ballot"])]
    assert [(f.action, (f.error or "").split(":")[0]) for f in refused] == [("ballot.closed", "TimeBeforeLog")]
    assert ("ballot.closed", str(ids["ballot"]), None) in waiting(app)
    again = [f for f in run_due(app, later) if f.stream == str(ids["ballot"])]
    assert [(f.action, f.error) for f in again] == [("ballot.closed", None)]
    assert ("ballot.closed", str(ids["ballot"]), None) not in waiting(app)
