from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.ballots.rules import compute_tally
from tests.domain.conftest import CITY, EDU, T0, citizen, days

ELIG = {"identity_methods": ["diia", "bankid"]}


def poll(app: CityApp, method: dict[str, Any] | None = None, **kw: Any) -> UUID:
    args: dict[str, Any] = {
        "title": "Назва скверу",
        "kind": "poll",
        "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}],
        "method": method or {"type": "single"},
        "opens_at": T0,
        "closes_at": T0 + days(7),
        "eligibility": ELIG,
        "at": T0,
    }
    args.update(kw)
    return app.open_ballot(by=CITY, **args)


PB_OPTIONS = [
    {"id": "p1", "title": "Playground", "cost": 600_000_00, "district": "podil"},
    {"id": "p2", "title": "Benches", "cost": 300_000_00, "district": "podil"},
    {"id": "p3", "title": "Lights", "cost": 500_000_00, "district": "podil"},
    {"id": "o1", "title": "Library", "cost": 900_000_00, "district": "obolon"},
]
PB_METHOD = {"type": "budget", "budgets": {"podil": 1_000_000_00, "obolon": 1_000_000_00}}


def pb(app: CityApp) -> UUID:
    return poll(app, method=PB_METHOD, kind="participatory_budget", options=PB_OPTIONS, secrecy="open")


@pytest.mark.parametrize(
    "kw",
    [
        {"kind": "referendum"},
        {"method": {"type": "borda"}},
        {"options": [{"id": "a", "title": "A"}]},
        {"options": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]},
        {"options": [{"id": "a b", "title": "A"}, {"id": "b", "title": "B"}]},
        {"options": [{"id": "a", "title": "A", "cost": 5}, {"id": "b", "title": "B"}]},
        {"method": {"type": "approval", "max_choices": 4}},
        {"method": {"type": "approval"}},
        {"closes_at": T0},
        {"eligibility": {"identity_methods": []}},
        {"eligibility": {"identity_methods": ["diia"], "min_age": -1}},
        {"method": {"type": "budget", "budgets": {"x": 1}}},
        {"title": ""},
    ],
)
def test_open_validates(app: CityApp, kw: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidInput):
        poll(app, **kw)


def test_open_needs_scope(app: CityApp) -> None:
    with pytest.raises(errors.MissingScope):
        app.open_ballot(
            by=EDU, title="t", kind="poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
            method={"type": "single"}, opens_at=T0, closes_at=T0 + days(1), eligibility=ELIG, at=T0,
        )  # fmt: skip


def test_budget_option_needs_budgeted_district(app: CityApp) -> None:
    with pytest.raises(errors.InvalidInput):
        poll(app, method=PB_METHOD, options=[{"id": "x", "title": "X", "cost": 5, "district": "moon"}])


def test_single_choice_and_errors(app: CityApp) -> None:
    bid = poll(app)
    with pytest.raises(errors.UnknownOption) as info:
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["z"], at=T0)
    assert info.value.evidence["found"] == ["z"]
    with pytest.raises(errors.TooManyChoices):
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a", "b"], at=T0)
    with pytest.raises(errors.EmptySelection):
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=[], at=T0)
    with pytest.raises(errors.DuplicateChoice):
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a", "a"], at=T0)
    with pytest.raises(errors.InvalidInput):
        app.cast_vote(by=citizen(1), ballot_id=bid, selection="a", at=T0)  # type: ignore[arg-type]
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1, method="password"), ballot_id=bid, selection=["a"], at=T0)
    # before the window opens: a ballot opened now whose window opens tomorrow (a time before the log's would be
    # refused as TimeBeforeLog, not as WindowClosed)
    later = poll(app, opens_at=T0 + days(1), closes_at=T0 + days(8))
    with pytest.raises(errors.WindowClosed) as closed:
        app.cast_vote(by=citizen(1), ballot_id=later, selection=["a"], at=T0)
    assert closed.value.evidence["status"] == "open" and closed.value.evidence["at"] < closed.value.evidence["opens_at"]
    with pytest.raises(errors.WindowClosed) as closed:
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0 + days(7))
    assert (
        closed.value.evidence["status"] == "open" and closed.value.evidence["at"] == closed.value.evidence["closes_at"]
    )
    with pytest.raises(errors.NotAuthorised):
        app.cast_vote(by=CITY, ballot_id=bid, selection=["a"], at=T0)  # type: ignore[arg-type]
    assert app.counted_votes(bid) == [] and app.counted_votes(later) == []
    ev = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0)  # the refusals above moved no clock
    assert type(ev).TYPE == "ballot.vote_cast" and ev.selection == ["a"] and ev.district is None


def test_min_age_and_districts(app: CityApp) -> None:
    bid = poll(app, eligibility={"identity_methods": ["diia"], "min_age": 14, "districts": ["podil"]})
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1, age=13, district="podil"), ballot_id=bid, selection=["a"], at=T0)
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1, district="podil"), ballot_id=bid, selection=["a"], at=T0)
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1, age=30, district="obolon"), ballot_id=bid, selection=["a"], at=T0)
    ev = app.cast_vote(by=citizen(1, age=14, district="podil"), ballot_id=bid, selection=["a"], at=T0)
    assert ev.district == "podil"


def test_approval(app: CityApp) -> None:
    bid = poll(app, method={"type": "approval", "max_choices": 2})
    with pytest.raises(errors.TooManyChoices) as info:
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a", "b", "c"], at=T0)
    assert info.value.evidence == {"ballot": str(bid), "expected": 2, "found": 3}
    ev = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["c", "a"], at=T0)
    assert ev.selection == ["a", "c"]  # normalised to option order
    app.cast_vote(by=citizen(2), ballot_id=bid, selection=["c"], at=T0)
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    assert tally == {"voters": 2, "counts": {"a": 1, "b": 0, "c": 2}, "funded": None}


def test_budget_rules(app: CityApp) -> None:
    bid = pb(app)
    with pytest.raises(errors.OverBudget) as info:
        app.cast_vote(by=citizen(1, district="podil"), ballot_id=bid, selection=["p1", "p3"], at=T0)
    assert info.value.evidence["expected"] == 1_000_000_00 and info.value.evidence["found"] == 1_100_000_00
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1, district="podil"), ballot_id=bid, selection=["o1"], at=T0)
    with pytest.raises(errors.NotEligible):
        app.cast_vote(by=citizen(1), ballot_id=bid, selection=["p1"], at=T0)  # no district asserted
    app.cast_vote(by=citizen(1, district="podil"), ballot_id=bid, selection=["p1", "p2"], at=T0)
    app.cast_vote(by=citizen(2, district="podil"), ballot_id=bid, selection=["p3", "p2"], at=T0)
    app.cast_vote(by=citizen(3, district="podil"), ballot_id=bid, selection=["p1"], at=T0)
    app.cast_vote(by=citizen(4, district="obolon"), ballot_id=bid, selection=["o1"], at=T0)
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    # p1 (2 votes, 600k) funded, p2 (2 votes, 300k) funded; p3 (500k) no longer fits the 100k left
    assert tally["counts"] == {"p1": 2, "p2": 2, "p3": 1, "o1": 1}
    assert tally["funded"] == {"obolon": ["o1"], "podil": ["p1", "p2"]}


def test_greedy_skips_what_does_not_fit() -> None:
    ballot = {
        "options": [
            {"id": "big", "title": "", "cost": 90, "district": "d"},
            {"id": "mid", "title": "", "cost": 20, "district": "d"},
            {"id": "small", "title": "", "cost": 10, "district": "d"},
            {"id": "zero", "title": "", "cost": 1, "district": "d"},
        ],
        "method": {"type": "budget", "budgets": {"d": 100}},
    }
    tally = compute_tally(ballot, [["big"], ["big"], ["mid"], ["mid", "small"]])
    assert tally["funded"] == {"d": ["big", "small"]}  # mid (2 votes) does not fit after big; zero has no votes


def test_revote_last_counts(app: CityApp) -> None:
    bid = poll(app)
    first = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=T0)
    second = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=T0 + days(1))
    third = app.cast_vote(by=citizen(1), ballot_id=bid, selection=["c"], at=T0 + days(2))
    assert [type(e).TYPE for e in (first, second, third)] == [
        "ballot.vote_cast",
        "ballot.vote_changed",
        "ballot.vote_changed",
    ]
    assert first.originator_id == second.originator_id == third.originator_id
    assert third.originator_version == 3
    app.cast_vote(by=citizen(2), ballot_id=bid, selection=["a"], at=T0 + days(2))
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(8))
    assert tally == {"voters": 2, "counts": {"a": 1, "b": 0, "c": 1}, "funded": None}


def test_voter_pseudonyms_unlinkable_across_ballots(app: CityApp) -> None:
    b1, b2 = poll(app), poll(app)
    v1 = app.cast_vote(by=citizen(1), ballot_id=b1, selection=["a"], at=T0)
    v2 = app.cast_vote(by=citizen(1), ballot_id=b2, selection=["a"], at=T0)
    assert v1.voter != v2.voter
    assert app.pseudonymizer.citizen("diia:1") not in (v1.voter, v2.voter)
    assert v1.actor == {"kind": "citizen", "id": v1.voter}


def test_close_rules(app: CityApp) -> None:
    bid = poll(app)
    app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=T0)
    with pytest.raises(errors.WindowStillOpen):
        app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(6))
    with pytest.raises(errors.MissingScope):
        app.close_ballot(by=EDU, ballot_id=bid, at=T0 + days(7))
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    closed = list(app.events.get(bid))[-1]
    assert type(closed).TYPE == "ballot.closed"
    assert {"voters": closed.voters, "counts": closed.counts, "funded": closed.funded} == tally
    with pytest.raises(errors.WindowClosed):
        app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(8))
    with pytest.raises(errors.WindowClosed) as info:  # after the close: refused (a time inside the window would be
        app.cast_vote(by=citizen(2), ballot_id=bid, selection=["b"], at=T0 + days(8))  # before the log's latest)
    assert info.value.evidence["status"] == "closed"
    # a closed ballot refuses a vote even at a time inside its window (the aggregate's rule, decided without the log)
    with pytest.raises(errors.WindowClosed) as info:
        app.get_ballot(bid).check_vote(
            selection=["b"], identity_method="diia", age=None, district=None, at=T0 + days(1)
        )
    assert info.value.evidence["status"] == "closed"


def test_tally_equals_replay_of_the_log(app: CityApp) -> None:
    bid = poll(app, method={"type": "approval", "max_choices": 3})
    import random

    rng = random.Random(5)
    for i in range(200):
        sel = rng.sample(["a", "b", "c"], rng.randint(1, 3))
        app.cast_vote(by=citizen(rng.randint(0, 60)), ballot_id=bid, selection=sel, at=T0 + days(i / 100))
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    last: dict[str, list[str]] = {}
    for n in app.recorder.select_notifications(1, 10_000):
        e = app.mapper.to_domain_event(n)
        if type(e).TYPE in ("ballot.vote_cast", "ballot.vote_changed"):
            last[e.voter] = e.selection
    counts = {o: sum(o in s for s in last.values()) for o in "abc"}
    assert tally == {"voters": len(last), "counts": counts, "funded": None}


def test_ballot_too_large_for_one_event_is_refused(app: CityApp) -> None:
    options = [{"id": f"o{i}", "title": "Ж" * 300} for i in range(200)]
    with pytest.raises(errors.InvalidInput) as info:
        poll(app, options=options)
    assert info.value.evidence["max_bytes"] == 60_000
    assert app.projections.of_kind("ballot") == {}
