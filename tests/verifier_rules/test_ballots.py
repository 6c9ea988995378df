"""Ballot rules (docs/domain.md "Ballots"), failure cases first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.verifier_rules.builder import History, audit, codes, findings

BUDGET_OPTIONS = [
    {"id": "n1", "title": "North park", "cost": 600, "district": "north"},
    {"id": "n2", "title": "North lights", "cost": 500, "district": "north"},
    {"id": "n3", "title": "North bench", "cost": 300, "district": "north"},
    {"id": "s1", "title": "South pool", "cost": 900, "district": "south"},
]
BUDGET = {"type": "budget", "budgets": {"north": 1000, "south": 1000}}


def tally(voters: int, counts: dict[str, int], funded: Any = None) -> dict[str, Any]:
    return {"voters": voters, "counts": counts, "funded": funded}


def test_vote_outside_the_window_and_after_close(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot(hours=1)
    h.wait(hours=1)
    late = h.vote(bid, 1, ["a"])
    closed = h.close_ballot(bid, tally(0, {"a": 0, "b": 0, "c": 0}))
    after = h.vote(bid, 2, ["b"])
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4)]
    assert got == [("vote_outside_window", late["id"]), ("vote_after_close", after["id"])]
    assert closed  # the close itself is lawful: the late vote is not counted


def test_selection_must_fit_the_method(tmp_path: Path) -> None:
    h = History()
    single = h.ballot()
    two = h.vote(single, 1, ["a", "b"])
    unordered = h.vote(single, 2, ["b", "a"])
    unknown = h.vote(single, 3, ["z"])
    approval = h.ballot(method={"type": "approval", "max_choices": 2})
    three = h.vote(approval, 4, ["a", "b", "c"])
    budget = h.ballot(method=BUDGET, options=BUDGET_OPTIONS, districts=["north", "south"])
    over = h.vote(budget, 5, ["n1", "n2"], "north")  # 1100 > 1000
    elsewhere = h.vote(budget, 6, ["s1"], "north")
    no_district = h.vote(budget, 7, ["n1"], None)
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id) for f in findings(report, 4)]
    assert got == [
        ("selection_invalid", two["id"]),
        ("selection_invalid", unordered["id"]),
        ("selection_invalid", unknown["id"]),
        ("selection_invalid", three["id"]),
        ("selection_invalid", over["id"]),
        ("selection_invalid", elsewhere["id"]),
        ("district_not_eligible", no_district["id"]),
        ("selection_invalid", no_district["id"]),
    ]
    assert "exceeds the district budget 1000" in findings(report, 4)[4].message


def test_a_second_vote_stream_for_one_voter_is_not_counted(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot()
    h.vote(bid, 1, ["a"])
    double = h.vote(bid, 1, ["a"], stream="1c7b6a1e-3c55-4a4e-9a55-1b0c2d3e4f50", etype="ballot.vote_cast")
    h.wait(hours=24)
    h.close_ballot(bid, tally(1, {"a": 1, "b": 0, "c": 0}))
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.found) == ("vote_stream_mismatch", double["id"], double["stream"])


def test_vote_cast_twice_in_one_stream(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot()
    h.vote(bid, 1, ["a"])
    again = h.vote(bid, 1, ["b"], etype="ballot.vote_cast")
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.found) == ("second_vote_cast", again["id"], 2)


def test_only_the_last_vote_counts_and_the_tally_must_say_so(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot()
    h.vote(bid, 1, ["a"])
    h.vote(bid, 2, ["a"])
    h.vote(bid, 1, ["b"])  # vote_changed: voter 1 now counts for b
    h.wait(hours=24)
    closed = h.close_ballot(bid, tally(2, {"a": 2, "b": 0, "c": 0}))  # counts voter 1's first vote
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("tally_mismatch", closed["id"], 1, 2)
    assert "$.counts.a" in f.message


def test_budget_tally_is_the_greedy_walk(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot(method=BUDGET, options=BUDGET_OPTIONS, districts=["north", "south"])
    for n in range(3):
        h.vote(bid, n, ["n1"], "north")
    for n in range(3, 5):
        h.vote(bid, n, ["n2", "n3"], "north")
    h.wait(hours=24)
    counts = {"n1": 3, "n2": 2, "n3": 2, "s1": 0}
    # n1 (3 votes, 600) funded; n2 (500) does not fit the remaining 400 and is skipped; n3 (300) fits
    good = tally(5, counts, {"north": ["n1", "n3"], "south": []})
    h.close_ballot(bid, good)
    assert codes(audit(h.write(tmp_path / "ok")), 4) == []
    h.events.pop()
    h.versions[bid] -= 1
    bad = h.close_ballot(bid, tally(5, counts, {"north": ["n1", "n2"], "south": []}))
    [f] = findings(audit(h.write(tmp_path / "bad")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("tally_mismatch", bad["id"], "n3", "n2")


def test_close_before_the_window_ends(tmp_path: Path) -> None:
    h = History()
    bid = h.ballot()
    closed = h.close_ballot(bid, tally(0, {"a": 0, "b": 0, "c": 0}))
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id) == ("closed_before_window_end", closed["id"])
