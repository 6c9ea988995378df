"""Envelope formats 1 and 2 (docs/formats.md §1): format 1 wrote the kindergarten queue's events as ``queue.*``,
format 2 as ``kindergarten.*``. The verifier reads both and the rules see one name; an envelope whose type prefix
belongs to the other format is a step 1 finding (``type_prefix_format``). Failure cases first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from tests.verifier_rules.builder import ORIGIN, History, audit, cit, findings, pseudonym, svc
from verifier.audit import AuditReport, run_audit
from verifier.envelope import check_line
from verifier.kinds import canonical_type
from verifier.note import parse_verifier_key
from verifier.rules.steps import AuthorisationStep, RuleReplayStep
from verifier.steps.checkpoints import CheckpointStep
from verifier.steps.envelopes import EnvelopeStep


def to_format_2(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as format 2 writes it: ``format`` 2, the kindergarten queue's types renamed."""
    out = dict(event, format=2)
    if out["type"].startswith("queue."):
        out["type"] = "kindergarten." + out["type"].partition(".")[2]
    return out


def history() -> tuple[History, dict[str, Any]]:
    """A city with a kindergarten queue, a housing register and a petition, and two lawless events: an offer out of
    turn (step 4) and an answer by a stranger (step 5)."""
    h = History()
    h.city()
    q = h.queue()
    entries = [h.register_child(q, n, ("k1", "k2")) for n in range(4)]
    h.grant(q, entries[2])
    o = h.offer(q, entries[2])
    h.answer(q, o, entries[2], "queue.offer_accepted", cit(pseudonym("cit", "parent2")))
    h.offer(q, entries[3], institution="k2", place="x")  # out of turn: entries[0] is first for (k2, 2023)
    o = h.offer(q, entries[0], institution="k1", place="y")
    h.answer(q, o, entries[0], "queue.offer_declined", cit(pseudonym("cit", "someone else")))  # not the applicant
    h.emit(q, "queue.entry_removed", svc("education"), {"entry": entries[1], "reason_code": "school_age"})
    r = h.register()
    h.register_household(r, 1)
    pid = h.petition()
    h.publish(pid)
    h.sign(pid, 1)
    return h, {"queue": q}


def write(path: Path, events: list[dict[str, Any]], state: dict[str, Any] | None = None) -> Path:
    """A bundle of ``events``, every checkpoint signed again (the operator's key, as the ledger would sign)."""
    factory.write_bundle(path, lines=[factory.jcs(e) for e in events])
    if state is not None:
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")
    return path


def summary(report: AuditReport) -> list[tuple[int, str, int | None, str | None]]:
    return [(f.step, f.code, f.index, f.event_id) for f in report.findings()]


def test_a_format_2_envelope_with_a_format_1_type_is_a_finding(tmp_path: Path) -> None:
    h, _ = history()
    events = [to_format_2(e) for e in h.events]
    j = next(i for i, e in enumerate(h.events) if e["type"] == "queue.offer_issued")
    events[j]["type"] = h.events[j]["type"]  # queue.offer_issued in a format 2 envelope
    [f] = findings(audit(write(tmp_path / "b", events)), 1)
    assert (f.code, f.index, f.event_id, f.event_type) == (
        "type_prefix_format",
        j,
        events[j]["id"],
        "queue.offer_issued",
    )
    assert (f.expected, f.found) == ("kindergarten.offer_issued", "queue.offer_issued")


def test_a_format_1_envelope_with_a_format_2_type_is_a_finding(tmp_path: Path) -> None:
    h, _ = history()
    events = [dict(e) for e in h.events]
    j = next(i for i, e in enumerate(events) if e["type"] == "queue.benefit_granted")
    events[j]["type"] = "kindergarten.benefit_granted"
    [f] = findings(audit(write(tmp_path / "b", events)), 1)
    assert (f.code, f.index, f.event_type, f.expected) == (
        "type_prefix_format",
        j,
        "kindergarten.benefit_granted",
        "queue.benefit_granted",
    )


@pytest.mark.parametrize("fmt", [0, 3, 10])
def test_any_other_format_is_format_version(fmt: int) -> None:
    h, _ = history()
    for event in (h.events[-1], to_format_2(h.events[-1])):
        line = factory.jcs(dict(event, format=fmt))
        assert [p.code for p in check_line(line, ORIGIN).problems] == ["format_version"]


def test_lines_of_both_formats_pass_step_1_on_every_path() -> None:
    """The structural path, the general fast path and the full path agree on both formats (and the mixed case)."""
    h, _ = history()
    for event in h.events:
        for fmt_event in (event, to_format_2(event)):
            line = factory.jcs(fmt_event)
            assert check_line(line, ORIGIN).problems == [], fmt_event["type"]
            spaced = line.replace(b'"data":{', b'"data":{"\\u00e9":1,', 1)  # not canonical: the full path
            assert [p.code for p in check_line(spaced, ORIGIN).problems] == ["not_canonical"]
    mixed = factory.jcs(dict(h.events[3], format=2))  # queue.* in format 2
    assert h.events[3]["type"].startswith("queue.")
    assert [p.code for p in check_line(mixed, ORIGIN).problems] == ["type_prefix_format"]


def test_the_rules_see_one_name() -> None:
    assert canonical_type("queue.offer_issued") == "kindergarten.offer_issued"
    assert canonical_type("kindergarten.offer_issued") == "kindergarten.offer_issued"
    assert canonical_type("petition.signed") == "petition.signed"
    assert canonical_type("queue.no_such_type") == "queue.no_such_type"  # unknown: left for step 4 to name


@pytest.mark.parametrize("rule_worker", [False, True])
def test_a_format_2_log_audits_as_its_format_1_original(tmp_path: Path, rule_worker: bool) -> None:
    """The same history in both formats: the same findings at the same events, each naming the type as logged,
    and the same replayed state (compared with a published state.json)."""
    h, ids = history()
    one = audit(write(tmp_path / "one", h.events))
    assert findings(one, 1) == [] and findings(one, 2) == []
    assert [f.code for f in findings(one, 4)] == ["offer_out_of_turn"]
    assert [f.code for f in findings(one, 5)] == ["citizen_mismatch"]

    events = [to_format_2(e) for e in h.events]
    key = parse_verifier_key(factory.make_signer(ORIGIN).verifier_key)
    steps = [EnvelopeStep(), CheckpointStep(), RuleReplayStep(), AuthorisationStep()]
    two = run_audit(write(tmp_path / "two", events), key, offline=True, steps=steps, rule_worker=rule_worker)
    assert summary(two) == summary(one)
    for f1, f2 in zip(one.findings(), two.findings(), strict=True):
        assert f1.event_type is not None and f1.event_type.startswith("queue.")
        assert f2.event_type == "kindergarten." + f1.event_type.partition(".")[2]
        assert (f1.expected, f1.found) == (f2.expected, f2.found)
    s1 = next(s for s in one.steps if s.number == 4).stats
    s2 = next(s for s in two.steps if s.number == 4).stats
    assert s1 == s2 and s1["kindergarten_queues"] == 1 and s1["housing_registers"] == 1

    # the published state: a wrong order is caught in format 2 as in format 1, at the same path
    q = ids["queue"]
    state = {"petitions": {}, "ballots": {}, "kindergarten": {q: {"k1/2023": ["x"]}}, "housing": {}}
    wrong = [run_audit(write(tmp_path / f"s{n}", e, state), key, offline=True) for n, e in ((1, h.events), (2, events))]
    diffs = [[f for f in r.findings() if f.code == "state_mismatch"] for r in wrong]
    assert len(diffs[0]) == len(diffs[1]) == 1
    assert diffs[0][0].details == diffs[1][0].details and diffs[0][0].details["path"].startswith("$.")
