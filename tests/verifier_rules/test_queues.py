"""Kindergarten queue and housing register rules (docs/domain.md), failure cases first."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.verifier_rules.builder import (
    History,
    audit,
    cit,
    codes,
    commitment,
    findings,
    instant,
    pseudonym,
    svc,
)

EDU = svc("education")
HOUSING = svc("housing")


# --- kindergarten --------------------------------------------------------------------------------------------
def test_offer_out_of_turn_names_the_first_eligible_entry(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    first = h.register_child(q, 1)
    second = h.register_child(q, 2)
    third = h.register_child(q, 3)
    h.grant(q, third)  # military_child, rank 1: the third entry now comes first
    h.offer(q, third)  # in turn
    h.offer(q, first, place="p2")  # in turn: the third holds a pending offer, the first is next
    fourth = h.register_child(q, 4)
    h.offer(q, fourth, place="p4")  # the second entry (registered earlier, no offer) is first
    nobody = h.offer(q, second, place="p5", institution="k2")  # nobody waits for (k2, 2023)
    report = audit(h.write(tmp_path / "b"))
    [f1, f2] = findings(report, 4)
    assert (f1.code, f1.event_type, f1.index) == ("offer_out_of_turn", "queue.offer_issued", len(h.events) - 2)
    assert f1.event_id == h.events[-2]["id"]
    assert f1.expected["entry"] == second and f1.found["entry"] == fourth
    assert f1.expected["key"] == [3, h.events[2]["time"], second]  # (benefit rank, registered_at, entry id)
    assert (f2.code, f2.expected, f2.found["entry"]) == ("offer_out_of_turn", "no eligible entry", second)
    assert nobody


def test_offer_for_a_held_place_and_offer_id(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    a = h.register_child(q, 1)
    b = h.register_child(q, 2)
    h.offer(q, a, place="p1")
    held = h.offer(q, b, place="p1")
    c = h.register_child(q, 3)
    wrong_id = h.emit(
        q,
        "queue.offer_issued",
        EDU,
        {
            **h.events[-2]["data"],
            "offer": "offer-42",
            "entry": c,
            "place": "p9",
            "expires_at": instant(h.now + timedelta(days=7)),
        },
    )
    got = [(f.code, f.event_id, f.found) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [
        ("place_held", h.events[4]["id"], "p1"),
        ("offer_id_mismatch", wrong_id["id"], "offer-42"),
    ]
    assert held


def test_priority_raised_without_basis(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    e = h.register_child(q, 1)
    wrong_basis = h.grant(q, e, "military_child", basis="because")
    unknown = h.grant(q, e, "mayor_friend")
    no_doc = h.emit(
        q,
        "queue.benefit_granted",
        EDU,
        {"entry": e, "code": "large_family", "basis": "Law on childhood, art. 13", "document_commitment": ""},
    )
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [
        ("benefit_basis_mismatch", wrong_basis["id"]),
        ("benefit_unknown_code", unknown["id"]),
        ("benefit_without_document", no_doc["id"]),
    ]


def test_registered_at_never_changes(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    e = h.register_child(q, 1)
    original = h.events[-1]
    again = h.emit(
        q,
        "queue.entry_registered",
        original["actor"],
        {**original["data"], "registered_at": "2025-01-01T00:00:00.000000Z"},
    )
    [f1, f2] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f1.code, f1.event_id, f1.expected, f1.found) == (
        "registered_at_changed",
        again["id"],
        original["time"],
        "2025-01-01T00:00:00.000000Z",
    )
    assert (f2.code, f2.expected) == ("registered_at_mismatch", again["time"])
    assert e


def test_answers_only_on_pending_offers_and_in_time(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    a = h.register_child(q, 1)
    parent = cit(pseudonym("cit", "parent1"))
    o = h.offer(q, a)
    h.answer(q, o, a, "queue.offer_declined", parent)
    twice = h.answer(q, o, a, "queue.offer_accepted", parent)  # no longer pending
    b = h.register_child(q, 2)
    o2 = h.offer(q, b, place="p2")
    early = h.answer(q, o2, b, "queue.offer_expired", {"kind": "system", "id": "operator"})
    c = h.register_child(q, 3)
    o3 = h.offer(q, c, place="p3", institution="k1")
    h.wait(days=8)
    late = h.answer(q, o3, c, "queue.offer_accepted", cit(pseudonym("cit", "parent3")))
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [
        ("offer_not_pending", twice["id"]),
        ("offer_expired_early", early["id"]),
        ("offer_answered_after_expiry", late["id"]),
    ]


def test_no_entry_dropped_without_a_reason_code(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    a = h.register_child(q, 1)
    dropped = h.emit(q, "queue.entry_removed", EDU, {"entry": a, "reason_code": "not_liked"})
    silent = h.emit(q, "queue.entry_removed", EDU, {"entry": h.register_child(q, 2)})
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [
        ("removal_without_reason", dropped["id"]),
        ("data_fields", silent["id"]),
        ("malformed_data", silent["id"]),
    ]


def test_withdrawing_a_placed_entry(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    a = h.register_child(q, 1)
    parent = cit(pseudonym("cit", "parent1"))
    h.answer(q, h.offer(q, a), a, "queue.offer_accepted", parent)
    gone = h.emit(q, "queue.entry_withdrawn", parent, {"entry": a})
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.found) == ("entry_not_waiting", gone["id"], "placed")


# --- housing -----------------------------------------------------------------------------------------------
def test_housing_allocation_out_of_turn_and_lists(tmp_path: Path) -> None:
    h = History()
    r = h.register()
    a = h.register_household(r, 1)
    b = h.register_household(r, 2)
    bad_list = h.emit(
        r,
        "housing.list_included",
        HOUSING,
        {
            "entry": b,
            "list": "first_priority",
            "code": "art46.orphan",
            "basis": "Housing Code, art. 46",
            "document_commitment": commitment("d"),
        },
    )
    jump = h.emit(r, "housing.dwelling_allocated", HOUSING, {"entry": b, "list": "general", "dwelling": "d1"})
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [("list_basis_unknown", bad_list["id"]), ("allocation_out_of_turn", jump["id"])]
    assert findings(audit(tmp_path / "b"), 4)[1].expected == a


def test_housing_removal_needs_a_legal_reason(tmp_path: Path) -> None:
    h = History()
    r = h.register()
    a = h.register_household(r, 1)
    silent = h.emit(
        r, "housing.entry_removed", HOUSING, {"entry": a, "reason_code": "reregistration_missed", "statute": "none"}
    )
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [("removal_without_legal_reason", silent["id"]), ("removal_without_proposal", silent["id"])]


def test_housing_removal_proposal_rules(tmp_path: Path) -> None:
    h = History()
    r = h.register()
    a = h.register_household(r, 1)
    h.wait(days=400)  # 2027
    h.emit(r, "housing.reregistered", cit(pseudonym("cit", "household1")), {"entry": a, "year": 2027})
    wrong = h.emit(
        r,
        "housing.removal_proposed",
        {"kind": "system", "id": "operator"},
        {"entry": a, "year": 2027, "reason_code": "reregistration_missed"},
    )
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id) == ("proposal_after_reregistration", wrong["id"])


# --- state.json ----------------------------------------------------------------------------------------------
def lawful_queue(h: History) -> tuple[str, list[str]]:
    h.city()
    q = h.queue()
    entries = [h.register_child(q, n, ("k1", "k2")) for n in range(4)]
    h.grant(q, entries[2])
    return q, entries


def test_published_queue_order_differs_from_the_replay(tmp_path: Path) -> None:
    h = History()
    q, e = lawful_queue(h)
    order = [e[2], e[0], e[1], e[3]]
    state = {"petitions": {}, "ballots": {}, "kindergarten": {q: {"k1/2023": order, "k2/2023": order}}, "housing": {}}
    assert codes(audit(h.write(tmp_path / "ok", state)), 4) == []
    swapped = [e[0], e[2], e[1], e[3]]  # the benefit holder pushed down in the published list for k2
    state["kindergarten"][q]["k2/2023"] = swapped
    [f] = findings(audit(h.write(tmp_path / "bad", state)), 4)
    assert (f.code, f.expected, f.found) == ("state_mismatch", e[2], e[0])
    assert f.details["path"] == f'$.kindergarten["{q}"]["k2/2023"][0]'


def test_lawful_queue_and_register_pass_steps_4_and_5(tmp_path: Path) -> None:
    h = History()
    q, e = lawful_queue(h)
    o = h.offer(q, e[2])
    h.answer(q, o, e[2], "queue.offer_accepted", cit(pseudonym("cit", "parent2")))
    o = h.offer(q, e[0], institution="k2", place="x")
    h.answer(q, o, e[0], "queue.offer_declined", cit(pseudonym("cit", "parent0")))
    h.emit(q, "queue.entry_removed", svc("education"), {"entry": e[3], "reason_code": "school_age"})
    r = h.register()
    a = h.register_household(r, 1)
    b = h.register_household(r, 2)
    h.emit(
        r,
        "housing.list_included",
        HOUSING,
        {
            "entry": b,
            "list": "first_priority",
            "code": "art45.combatant",
            "basis": "Housing Code, art. 45",
            "document_commitment": commitment("d"),
        },
    )
    h.emit(r, "housing.dwelling_allocated", HOUSING, {"entry": b, "list": "first_priority", "dwelling": "d1"})
    h.wait(days=400)
    h.emit(r, "housing.removal_proposed", HOUSING, {"entry": a, "year": 2027, "reason_code": "reregistration_missed"})
    h.emit(
        r,
        "housing.entry_removed",
        HOUSING,
        {"entry": a, "reason_code": "art40.2", "statute": "Housing Code, art. 40 (2)"},
    )
    state = {
        "petitions": {},
        "ballots": {},
        "kindergarten": {q: {"k1/2023": [e[0], e[1]], "k2/2023": [e[1]]}},
        "housing": {r: {"general": [], "first_priority": [], "out_of_turn": []}},
    }
    report = audit(h.write(tmp_path / "b", state))
    assert codes(report, 4) == [] and codes(report, 5) == [], [f.describe() for f in report.findings()]
    assert json.loads((tmp_path / "b" / "state.json").read_text()) == state
    assert instant  # re-exported helper


def test_published_petition_count_and_tally_differ_from_the_replay(tmp_path: Path) -> None:
    h = History()
    h.city()
    pid = h.petition(threshold=5)
    h.publish(pid)
    h.sign(pid, 1)
    h.sign(pid, 2)
    bid = h.ballot(hours=1)
    h.vote(bid, 1, ["a"])
    h.wait(hours=1)
    tally = {"voters": 1, "counts": {"a": 1, "b": 0, "c": 0}, "funded": None}
    h.close_ballot(bid, tally)
    petition = {"status": "published", "signatures": 2, "threshold": 5, "threshold_reached": False, "responded": False}
    state = {
        "petitions": {pid: petition},
        "ballots": {bid: {"status": "closed", "tally": tally}},
        "kindergarten": {},
        "housing": {},
    }
    assert codes(audit(h.write(tmp_path / "ok", state)), 4) == []
    state["petitions"][pid] = {**petition, "signatures": 3}
    [f] = findings(audit(h.write(tmp_path / "count", state)), 4)
    assert (f.code, f.details["path"], f.expected, f.found) == (
        "state_mismatch",
        f'$.petitions["{pid}"].signatures',
        2,
        3,
    )
    state["petitions"][pid] = petition
    state["ballots"][bid] = {"status": "closed", "tally": {**tally, "counts": {"a": 0, "b": 1, "c": 0}}}
    [f] = findings(audit(h.write(tmp_path / "tally", state)), 4)
    assert (f.code, f.details["path"]) == ("state_mismatch", f'$.ballots["{bid}"].tally.counts.a')
