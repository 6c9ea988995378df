"""The clock replayed by the verifier (verifier/rules/clock.py, docs/domain.md "The clock"): a deadline the log went
past without its clock event is missing, one acted on after that is late, a clock event before its deadline is early;
a petition's overdue response and an expired offer's place passed on by the clock follow their rules. Each case is a
lawful history (it audits clean) with exactly one clock event removed, moved or changed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.verifier import factory
from tests.verifier_rules.builder import History, audit, cit, codes, findings, pseudonym
from verifier.audit import CheckpointStep, EnvelopeStep, run_audit
from verifier.note import parse_verifier_key
from verifier.rules.clock import GRACE_SECONDS, overdue_at
from verifier.rules.steps import RuleReplayStep

CLOCK = {"kind": "system", "id": "clock"}
DUE = "2026-01-19"  # the 10th working day after Monday 2026-01-05 (martial law: holidays are working days)


def closed_petition(h: History, *, clock: bool = True) -> tuple[str, dict[str, Any]]:
    h.city()
    pid = h.petition(threshold=5, period={"days": 10})
    published = h.publish(pid)
    h.sign(pid, 1)
    h.now += timedelta(days=10)  # the deadline, to the microsecond
    close = {"reason": "deadline", "signatures": 1}
    ev = h.emit(pid, "petition.closed", CLOCK, close) if clock else {}
    assert published["data"]["deadline"] <= (ev.get("time") or "9")
    return pid, ev


def later_event(h: History, hours: float = 2) -> dict[str, Any]:
    """Something else the city does later (the log's time goes on)."""
    h.wait(hours=hours)
    return h.service(f"later-{len(h.events)}", ["petition:respond"])


def test_a_lawful_clock_history_audits_clean(tmp_path: Path) -> None:
    """Close, overdue response, ballot close, expiry with the place passed on: every clock event on time."""
    h = History()
    h.city()
    pid = h.petition(threshold=1, period={"days": 30})
    h.publish(pid)
    s = h.sign(pid, 1)
    h.threshold(pid, s, 1, DUE)
    bid = h.ballot(hours=24)
    q = h.queue(acceptance_days=7)
    e1, e2 = h.register_child(q, 1), h.register_child(q, 2)
    o1 = h.offer(q, e1)
    h.now = h.now.replace(year=2026, month=1, day=6, hour=7)  # a day later: the ballot closes
    h.now += timedelta(hours=1)
    h.emit(bid, "ballot.closed", CLOCK, {"voters": 0, "counts": {"a": 0, "b": 0, "c": 0}, "funded": None})
    h.now += timedelta(days=7)  # the offer's deadline passed: expired, the place goes to e2
    h.answer(q, o1, e1, "queue.offer_expired", CLOCK)
    o2 = h.offer(q, e2, actor=CLOCK)
    h.answer(q, o2, e2, "queue.offer_accepted", cit(pseudonym("cit", "parent2")))
    h.now = h.now.replace(month=1, day=20, hour=0)  # 2026-01-20 02:00 Kyiv: the response is overdue
    h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": DUE, "response_working_days": 10})
    h.now += timedelta(days=30)
    h.emit(pid, "petition.closed", CLOCK, {"reason": "deadline", "signatures": 1})
    later_event(h)
    report = audit(h.write(tmp_path / "b"))
    assert report.verified, [f.describe() for f in report.findings()]
    assert [s.stats.get("clock_deadlines") for s in report.steps if s.number == 4] == [5]


def test_a_removed_close_is_missing(tmp_path: Path) -> None:
    h = History()
    pid, _ = closed_petition(h, clock=False)
    published = next(e for e in h.events if e["type"] == "petition.published")
    h.wait(seconds=GRACE_SECONDS - 1)
    h.service("within-grace", ["petition:respond"])  # an hour after the deadline not yet: nothing missing
    assert codes(audit(h.write(tmp_path / "a")), 4) == []
    passed = later_event(h)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("clock_missing", published["id"], "petition.closed", "none")
    assert f.details["stream"] == pid and f.details["due"] == published["data"]["deadline"]
    assert f.details["log_time"] == passed["time"] and "petition.closed" in f.message


def test_a_close_after_the_log_went_past_it_is_late(tmp_path: Path) -> None:
    h = History()
    pid, _ = closed_petition(h, clock=False)
    passed = later_event(h)
    late = h.emit(pid, "petition.closed", CLOCK, {"reason": "deadline", "signatures": 1})
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id) == ("clock_late", late["id"])
    assert f.details["passed_at"]["index"] == h.index_of(passed)


def test_a_late_round_is_not_late_with_itself(tmp_path: Path) -> None:
    """Events of one (late) round share its time: the first of them is no event 'after' the others."""
    h = History()
    h.city()
    p1, p2 = h.petition(), h.petition()
    h.publish(p1)
    h.publish(p2)
    h.wait(days=11)
    for pid in (p1, p2):
        h.emit(pid, "petition.closed", CLOCK, {"reason": "deadline", "signatures": 0})
        h.now -= timedelta(milliseconds=1)  # the round's events carry the round's time
    report = audit(h.write(tmp_path / "b"))
    assert report.verified, [f.describe() for f in report.findings()]


def test_an_early_clock_close(tmp_path: Path) -> None:
    h = History()
    h.city()
    pid = h.petition(period={"days": 10})
    h.publish(pid)
    h.wait(days=9)
    early = h.emit(pid, "petition.closed", CLOCK, {"reason": "deadline", "signatures": 0})
    report = audit(h.write(tmp_path / "b"))
    got = {f.code: f for f in findings(report, 4)}
    assert set(got) == {"clock_early", "closed_before_deadline"}  # the clock's finding, and the petition rule's
    assert got["clock_early"].event_id == early["id"]


def test_a_removed_ballot_close_and_offer_expiry_are_missing(tmp_path: Path) -> None:
    h = History()
    h.city()
    bid = h.ballot(hours=24)
    q = h.queue(acceptance_days=7)
    e = h.register_child(q, 1)
    o = h.offer(q, e)
    h.wait(days=8)
    passed = later_event(h)
    report = audit(h.write(tmp_path / "b"))
    got = sorted((f.code, f.details["action"], f.details["stream"], f.details["item"]) for f in findings(report, 4))
    assert got == sorted(
        [("clock_missing", "ballot.closed", bid, None), ("clock_missing", "kindergarten.offer_expired", q, o)]
    )
    setters = {e["id"] for e in h.events if e["type"] in ("ballot.opened", "queue.offer_issued")}
    assert {f.event_id for f in findings(report, 4)} == setters
    assert {f.details["log_time"] for f in findings(report, 4)} == {passed["time"]}


def test_an_answered_or_withdrawn_offer_needs_no_expiry(tmp_path: Path) -> None:
    h = History()
    h.city()
    q = h.queue(acceptance_days=7)
    e1, e2 = h.register_child(q, 1), h.register_child(q, 2, institutions=("k2",))
    o1 = h.offer(q, e1)
    h.offer(q, e2, institution="k2")
    h.answer(q, o1, e1, "queue.offer_declined", cit(pseudonym("cit", "parent1")))
    h.emit(q, "queue.entry_withdrawn", cit(pseudonym("cit", "parent2")), {"entry": e2})
    h.wait(days=8)
    later_event(h)
    report = audit(h.write(tmp_path / "b"))
    assert report.verified, [f.describe() for f in report.findings()]


def overdue_petition(h: History) -> str:
    h.city()
    pid = h.petition(threshold=1, period={"days": 60})
    h.publish(pid)
    s = h.sign(pid, 1)
    h.threshold(pid, s, 1, DUE)
    return pid


def test_the_overdue_instant_is_the_next_local_midnight() -> None:
    assert overdue_at(DUE, "Europe/Kyiv") == "2026-01-19T22:00:00.000000Z"  # 00:00 on the 20th, UTC+2
    assert overdue_at("2026-07-01", "Europe/Kyiv") == "2026-07-01T21:00:00.000000Z"  # summer time, UTC+3


def test_a_removed_overdue_response_is_missing(tmp_path: Path) -> None:
    h = History()
    pid = overdue_petition(h)
    h.now = h.now.replace(month=1, day=19, hour=23)  # 01:00 on the 20th in Kyiv, an hour after it became overdue
    later_event(h, hours=0.01)
    reached = next(e for e in h.events if e["type"] == "petition.threshold_reached")
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.details["action"], f.details["stream"]) == (
        "clock_missing",
        reached["id"],
        "petition.response_overdue",
        pid,
    )
    assert f.details["due"] == "2026-01-19T22:00:00.000000Z"


def test_a_response_in_time_needs_no_overdue_and_an_early_overdue_is_caught(tmp_path: Path) -> None:
    h = History()
    pid = overdue_petition(h)
    h.now = h.now.replace(month=1, day=19, hour=21)  # 23:00 Kyiv on the due date: still on time
    early = h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": DUE, "response_working_days": 10})
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected) == ("clock_early", early["id"], ">= 2026-01-19T22:00:00.000000Z")
    h2 = History()
    pid = overdue_petition(h2)
    h2.emit(pid, "petition.responded", {"kind": "service", "id": "council"},
            {"response": "Yes", "due_date": DUE, "on_time": True})  # fmt: skip
    h2.wait(days=30)
    later_event(h2)
    report = audit(h2.write(tmp_path / "c"))
    assert report.verified, [f.describe() for f in report.findings()]


def test_overdue_rules(tmp_path: Path) -> None:
    """Only after the threshold, before a response, once, repeating the due date and the rules' working days."""
    h = History()
    h.city()
    pid = h.petition(threshold=1, period={"days": 60})
    h.publish(pid)
    before = h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": DUE, "response_working_days": 10})
    s = h.sign(pid, 1)
    h.threshold(pid, s, 1, DUE)
    h.now = h.now.replace(month=1, day=20)
    wrong = h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": "2026-01-20", "response_working_days": 9})
    again = h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": DUE, "response_working_days": 10})
    h.emit(pid, "petition.responded", {"kind": "service", "id": "council"},
           {"response": "Late", "due_date": DUE, "on_time": False})  # fmt: skip
    after = h.emit(pid, "petition.response_overdue", CLOCK, {"due_date": DUE, "response_working_days": 10})
    by_service = h.emit(
        pid, "petition.response_overdue", {"kind": "service", "id": "council"}, {"due_date": DUE,
                                                                             "response_working_days": 10}
    )  # fmt: skip
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id) for f in findings(report, 4)]
    assert got == [
        ("overdue_before_threshold", before["id"]),
        ("due_date_mismatch", wrong["id"]),
        ("overdue_rule_mismatch", wrong["id"]),
        ("overdue_repeated", again["id"]),
        ("overdue_after_response", after["id"]),
        ("overdue_repeated", after["id"]),
        ("overdue_after_response", by_service["id"]),
        ("overdue_repeated", by_service["id"]),
    ]
    assert [(f.code, f.event_id) for f in findings(report, 5)] == [("service_not_allowed", by_service["id"])]


def expired_by_the_clock(h: History) -> tuple[str, list[str], str]:
    h.city()
    q = h.queue(acceptance_days=7)
    entries = [h.register_child(q, n) for n in (1, 2, 3)]
    o1 = h.offer(q, entries[0])
    h.wait(days=7)
    h.answer(q, o1, entries[0], "queue.offer_expired", CLOCK)
    return q, entries, o1


def test_the_clock_passes_the_place_on_in_the_same_step(tmp_path: Path) -> None:
    h = History()
    q, entries, _ = expired_by_the_clock(h)
    h.offer(q, entries[1], actor=CLOCK)
    report = audit(h.write(tmp_path / "a"))
    assert report.verified, [f.describe() for f in report.findings()]
    h = History()
    q, entries, _ = expired_by_the_clock(h)
    instead = h.register_child(q, 4)  # the queue's next event is not the clock's offer
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert f.code == "clock_reoffer_missing" and f.index == len(h.events) - 1 and instead
    assert f.expected["entry"] == entries[1] and f.expected["place"] == "p1"
    h = History()
    q, entries, _ = expired_by_the_clock(h)  # the log ends right after the expiry
    [f] = findings(audit(h.write(tmp_path / "c")), 4)
    assert f.code == "clock_reoffer_missing" and f.index == len(h.events) - 1


def test_the_clock_offers_the_next_entry_not_another(tmp_path: Path) -> None:
    h = History()
    q, entries, _ = expired_by_the_clock(h)
    skipped = h.offer(q, entries[2], actor=CLOCK)  # passes over the second child
    report = audit(h.write(tmp_path / "a"))
    [f] = findings(report, 4)
    assert f.code == "offer_out_of_turn" and f.found["entry"] == entries[2] and skipped
    h = History()
    q, entries, _ = expired_by_the_clock(h)
    h.offer(q, entries[1], place="p2", actor=CLOCK)  # another place than the one that expired
    assert codes(audit(h.write(tmp_path / "b")), 4) == ["clock_offer_unprompted"]


def test_a_clock_offer_without_an_expiry(tmp_path: Path) -> None:
    h = History()
    h.city()
    q = h.queue()
    e = h.register_child(q, 1)
    h.offer(q, e, actor=CLOCK)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert f.code == "clock_offer_unprompted" and f.expected is None


def test_no_one_left_no_offer_needed(tmp_path: Path) -> None:
    h = History()
    h.city()
    q = h.queue(acceptance_days=7)
    e = h.register_child(q, 1)
    o = h.offer(q, e)
    h.wait(days=7)
    h.answer(q, o, e, "queue.offer_expired", CLOCK)
    h.register_child(q, 2, institutions=("k2",))  # another group: nobody eligible for k1/2023
    report = audit(h.write(tmp_path / "b"))
    assert report.verified, [f.describe() for f in report.findings()]


def test_the_clock_replay_spills_and_finds_the_same(tmp_path: Path) -> None:
    """Its deadlines, time zones and offers are in the rule step's spill maps: with room for 4 values in memory the
    findings are the same (memory bounded however many deadlines wait)."""
    h = History()
    h.city()
    pids = [h.petition(period={"days": 1}) for _ in range(30)]
    for pid in pids:
        h.publish(pid)
    q = h.queue(institutions=[f"k{n}" for n in range(30)], acceptance_days=1)
    for n in range(30):
        h.offer(q, h.register_child(q, n, institutions=(f"k{n}",)), institution=f"k{n}", days=1)
    h.wait(days=3)
    later_event(h)
    bundle = h.write(tmp_path / "b")
    key = parse_verifier_key(factory.make_signer(factory.ORIGIN).verifier_key)
    reports = []
    for cache in (None, 4):
        step = RuleReplayStep(cache_items=cache)
        reports.append(run_audit(bundle, key, offline=True, steps=[EnvelopeStep(), CheckpointStep(), step]))
        if cache:
            assert step.replay.scratch.evicted > 0
    got = [[(f.code, f.event_id, f.details.get("item")) for f in findings(r, 4)] for r in reports]
    assert got[0] == got[1] and len(got[0]) == 60 and {c for c, _, _ in got[0]} == {"clock_missing"}
