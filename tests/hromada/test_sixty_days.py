"""A city left to run by itself for sixty simulated days (issue #15, "Show it"), across two server restarts.

Days 0-20 and 40-60 run the served ledger's clock (:class:`ledger.clock.ClockThread`, as `hromada serve` does), days
20-40 `hromada tick`'s round (:func:`ledger.clock.tick`), each phase on a freshly opened ledger (a restart: the
deadlines are rebuilt from the log), all on one fake clock stepped an hour at a time. The city only does what people
do (publish, sign, offer a place, accept it); the clock does the rest: the ballot and the petitions close on time, an
ignored kindergarten offer expires and its place goes to the next child in the same save, and the petition nobody
answered gets ``petition.response_overdue``. The exported bundle audits clean with `hromada-verify`; a history
re-signed without any one of the clock's events fails, naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.base import rfc3339
from domain.petitions.rules import SUMY
from hromada.demo import CITY, EDU, OPERATOR, citizen
from ledger.clock import ClockThread, tick
from ledger.config import Settings
from ledger.export import write_bundle
from ledger.runtime import Ledger
from tests.verifier import factory
from verifier.audit import run_audit
from verifier.note import parse_verifier_key
from verifier.rules.clock import GRACE_SECONDS

CLOCK = {"kind": "system", "id": "clock"}
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


class FakeNow:
    def __init__(self, at: datetime) -> None:
        self.at = at
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.at

    def set(self, at: datetime) -> None:
        with self._lock:
            self.at = at


def rules(threshold: int, days: int) -> dict[str, Any]:
    return {**SUMY, "threshold": threshold, "period": {"days": days}}


class City:
    """What people do on which day (the clock's part is not here)."""

    def __init__(self) -> None:
        self.ids: dict[str, Any] = {}

    def on(self, app: Any, day: int, at: datetime) -> None:
        ids = self.ids
        if day == 0:
            app.register_service(by=OPERATOR, service=CITY.id, name="Council", scopes=["petition:*", "ballot:*"], at=at)
            app.register_service(by=OPERATOR, service=EDU.id, name="Education", scopes=["queue:kindergarten:*"], at=at)
            # answered by nobody: reaches its threshold on day 1, its response is overdue ten working days later
            ids["ignored"] = app.create_petition(by=citizen(1), title="Ліхтарі", text="Освітлення.", rules=rules(3, 20),
                                                 at=at)  # fmt: skip
            ids["quiet"] = app.create_petition(by=citizen(2), title="Лавки", text="Лавки.", rules=rules(50, 30), at=at)
            for pid in (ids["ignored"], ids["quiet"]):
                app.publish_petition(by=CITY, petition_id=pid, at=at)
            ids["ballot"] = app.open_ballot(
                by=CITY, title="Сквер", kind="poll", secrecy="open", options=[{"id": "a", "title": "A"},
                {"id": "b", "title": "B"}], method={"type": "single"}, opens_at=at, closes_at=at + timedelta(days=5),
                eligibility={"identity_methods": ["diia"], "min_age": 14}, at=at,
            )  # fmt: skip
            q = ids["queue"] = app.create_kindergarten_queue(by=EDU, name="ДНЗ", institutions=["dnz-1"],
                                                             acceptance_days=7, at=at)  # fmt: skip
            ids["children"] = [
                app.register_kindergarten_entry(
                    by=citizen(100 + n),
                    queue_id=q,
                    child_key=f"I-КВ {n}",
                    child_data={"name": f"Дитина {n}"},
                    birth_year=2023,
                    institutions=["dnz-1"],
                    at=at + timedelta(minutes=n),
                )
                for n in range(3)
            ]
        elif day == 1:
            for n in range(3):
                app.sign_petition(by=citizen(10 + n), petition_id=self.ids["ignored"], at=at)
            app.sign_petition(by=citizen(20), petition_id=self.ids["quiet"], at=at)
            app.cast_vote(by=citizen(30), ballot_id=self.ids["ballot"], selection=["b"], at=at)
        elif day == 2:  # a place; the first child's family never answers
            ids["offer"] = app.issue_offer(by=EDU, queue_id=ids["queue"], institution="dnz-1", birth_year=2023,
                                           place="dnz-1/g1/7", at=at)  # fmt: skip
        elif day == 10:  # the second child's family accepts the place the clock passed on
            passed = [o for o, v in app.get_kindergarten_queue(ids["queue"]).state["offers"].items()
                      if v["status"] == "pending"]  # fmt: skip
            ids["passed"] = passed
            app.accept_offer(by=citizen(101), queue_id=ids["queue"], offer=passed[0], at=at)
        elif day == 25:
            ids["late"] = app.create_petition(by=citizen(3), title="Сміття", text="Урни.", rules=rules(50, 30), at=at)
            app.publish_petition(by=CITY, petition_id=ids["late"], at=at)
        elif day == 60:  # the log goes on after the last deadline (as a city's does)
            app.register_service(by=OPERATOR, service="city.archive", name="Archive", scopes=["petition:respond"],
                                 at=at)  # fmt: skip


def rounds_done(thread: ClockThread, after: int) -> None:
    """Wait until a round has started and ended after the fake clock moved (two rounds on)."""
    deadline = time.monotonic() + 30
    while thread.rounds < after + 2:
        assert time.monotonic() < deadline, "the clock thread stopped running rounds"
        time.sleep(0.001)


def run_phase(settings: Settings, city: City, now: FakeNow, days: range, *, served: bool) -> None:
    with Ledger(settings) as ledger:  # a (re)start: projections and deadlines rebuilt from the log
        app: Any = ledger.app
        thread = ClockThread(app, every=0.001, now=now) if served else None
        if thread is not None:
            thread.start()
        try:
            for hour in range(days.start * 24, days.stop * 24):
                at = START + hour * HOUR
                now.set(at)
                if thread is not None:
                    rounds_done(thread, thread.rounds)
                else:
                    fired = tick(ledger, now=now)
                    assert fired is not None and all(f.error is None for f in fired), fired
                if hour % 24 == 0:
                    city.on(app, hour // 24, at)
            if days.stop == 60:
                now.set(START + 60 * 24 * HOUR)
                city.on(app, 60, now())
        finally:
            if thread is not None:
                thread.stop()
        ledger.integrate_and_checkpoint()


def events(ledger: Ledger) -> list[dict[str, Any]]:
    return [json.loads(r.state) for r in ledger.app.recorder.select_notifications(start=1, limit=100_000)]


def instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def without(lines: list[bytes], drop: int) -> list[bytes]:
    """The log with line ``drop`` removed, as an operator holding the log key would rewrite it: the later events of
    its stream renumbered (so no version gap shows), every checkpoint re-signed (factory.write_bundle)."""
    gone = json.loads(lines[drop])
    out = []
    for raw in lines[:drop] + lines[drop + 1 :]:
        ev = json.loads(raw)
        if ev["stream"] == gone["stream"] and ev["version"] > gone["version"]:
            ev["version"] -= 1
            ev["id"] = str(uuid.uuid5(uuid.UUID(ev["stream"]), str(ev["version"])))
            raw = factory.jcs(ev)
        out.append(raw)
    return out


@pytest.fixture(scope="module")
def sixty_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict[str, Any]], dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("sixty")
    settings = Settings(data_dir=tmp / "data")
    city, now = City(), FakeNow(START)
    run_phase(settings, city, now, range(0, 20), served=True)
    run_phase(settings, city, now, range(20, 40), served=False)  # restart 1: cron's `hromada tick`
    run_phase(settings, city, now, range(40, 60), served=True)  # restart 2
    with Ledger(settings) as ledger:
        log = events(ledger)
        bundle = tmp / "bundle"
        write_bundle(ledger.engine, events_table=ledger.integrator.events.name, origin=ledger.settings.origin,
                     verifier_key=ledger.signer.verifier_key, out=bundle, state=ledger.published_state)  # fmt: skip
        key = ledger.signer.verifier_key
    return bundle, key, log, city.ids


def test_sixty_days_on_the_clock_across_restarts(
    sixty_days: tuple[Path, str, list[dict[str, Any]], dict[str, Any]], tmp_path: Path
) -> None:
    bundle, key, log, ids = sixty_days
    by_clock = [e for e in log if e["actor"] == CLOCK]
    first = {(e["type"], e["stream"]): e for e in reversed(log)}
    published = {e["stream"]: e["data"]["deadline"] for e in log if e["type"] == "petition.published"}
    # the petitions closed on time: in the clock's first round at or after the deadline (an hour apart here)
    closed = {e["stream"]: e for e in by_clock if e["type"] == "petition.closed"}
    assert set(closed) == {str(ids["ignored"]), str(ids["quiet"]), str(ids["late"])}
    for pid, ev in closed.items():
        assert published[pid] <= ev["time"] < rfc3339(instant(published[pid]) + HOUR)
    assert first[("ballot.closed", str(ids["ballot"]))]["actor"] == CLOCK
    # the ignored offer expired, and in the same save its place went to the next child in the order
    [expired] = [e for e in by_clock if e["type"] == "kindergarten.offer_expired"]
    assert expired["data"] == {"offer": ids["offer"], "entry": ids["children"][0]}
    [passed] = [e for e in by_clock if e["type"] == "kindergarten.offer_issued"]
    assert passed["version"] == expired["version"] + 1 and passed["time"] == expired["time"]
    assert passed["data"]["entry"] == ids["children"][1] and passed["data"]["place"] == "dnz-1/g1/7"
    assert [passed["data"]["offer"]] == ids["passed"]
    assert first[("kindergarten.offer_accepted", str(ids["queue"]))]["data"]["entry"] == ids["children"][1]
    # the petition nobody answered: its response is overdue, flagged once, from the first local day after due_date
    reached = first[("petition.threshold_reached", str(ids["ignored"]))]
    [overdue] = [e for e in by_clock if e["type"] == "petition.response_overdue"]
    assert overdue["stream"] == str(ids["ignored"])
    assert overdue["data"] == {"due_date": reached["data"]["due_date"], "response_working_days": 10}
    assert reached["data"]["due_date"] == "2026-03-17"  # 10 working days after Tuesday 3 March (martial law)
    assert "2026-03-17T22:00:00.000000Z" <= overdue["time"] < "2026-03-17T23:00:00.000000Z"  # 00:00 Kyiv, +1 h
    assert sorted(e["type"] for e in by_clock) == sorted(
        ["ballot.closed", "kindergarten.offer_expired", "kindergarten.offer_issued", "petition.response_overdue"]
        + ["petition.closed"] * 3
    )
    # the bundle audits clean with hromada-verify
    verify = Path(sys.executable).parent / "hromada-verify"
    done = subprocess.run([str(verify), "audit", str(bundle), "--key", key, "--offline", "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] is True
    # and a history without any one clock event fails, naming it
    lines = factory.read_lines(bundle)
    signer = factory.make_signer(json.loads(lines[0])["log"])
    origin = json.loads(lines[0])["log"]
    # the log goes on past every clock event by more than the verifier's grace, so none may be left out
    assert instant(log[-1]["time"]) - instant(by_clock[-1]["time"]) > timedelta(seconds=GRACE_SECONDS)
    for ev in by_clock:
        i = next(n for n, raw in enumerate(lines) if json.loads(raw)["id"] == ev["id"])
        rewritten = tmp_path / f"without-{i}"
        factory.write_bundle(rewritten, lines=without(lines, i), origin=origin, signer=signer)
        audit = run_audit(rewritten, parse_verifier_key(signer.verifier_key), offline=True)
        assert not audit.verified, ev["type"]
        steps = {s.number: s for s in audit.steps}
        assert not steps[1].findings and not steps[2].findings  # a consistent, signed log: only the rules see it
        named = [f for f in steps[4].findings if names(f, ev)]
        assert named, (ev["type"], [f.describe() for f in audit.findings()])


def names(finding: Any, ev: dict[str, Any]) -> bool:
    """The finding names the removed clock event: its action, stream and (for an offer) item."""
    if ev["type"] == "kindergarten.offer_issued":  # the place not passed on
        return bool(
            finding.code == "clock_reoffer_missing"
            and finding.expected["place"] == ev["data"]["place"]
            and finding.expected["entry"] == ev["data"]["entry"]
        )
    action = "ballot.closed" if ev["type"] == "ballot.voting_ended" else ev["type"]
    item = ev["data"].get("offer") if ev["type"] == "kindergarten.offer_expired" else None
    d = finding.details
    return bool(
        finding.code == "clock_missing"
        and d.get("action") == action
        and d.get("stream") == ev["stream"]
        and d.get("item") == item
    )
