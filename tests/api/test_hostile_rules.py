"""Rule sets and frozen parameters: a petition rule set as the city's `rules:admin` service publishes it, a ballot's
or queue's parameters as their creator writes them. Each is validated in full (a 422 naming the field), so that no
accepted one can make a later command fail or loop."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    MAX_EXTRA_HOLIDAYS,
    MAX_FIXED_HOLIDAYS,
    MIN_WORKING_DAYS_A_YEAR,
    WorkingCalendar,
    validate_calendar,
)
from domain.petitions.rules import HRADYZK, validate_petition_rules
from tests.api.conftest import problem

DAYS_2024 = [(date(2024, 1, 1) + timedelta(days=i)).strftime("%m-%d") for i in range(366)]


def _publish(client, service_key, rules: dict[str, Any]):
    body = {"ruleset": "hostile", "version": 1, "applies_to": "petition", "rules": rules, "source": "a test"}
    return client.post("/v1/rule-sets", json=body, headers=service_key("city.legal", "rules:admin"))


def _with(**over: Any) -> dict[str, Any]:
    rules = {**HRADYZK, "threshold": 1}
    rules.update(over)
    return {k: v for k, v in rules.items() if v is not None}


def _calendar(**over: Any) -> dict[str, Any]:
    return _with(calendar={**HRADYZK["calendar"], **over})


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (_calendar(weekend=[0, 1, 2, 3, 4, 5, 6]), "rules.calendar.weekend"),
        (_calendar(weekend=[4, 5, 6]), "rules.calendar.weekend"),
        (_calendar(weekend=[], martial_law=False, fixed=DAYS_2024), "rules.calendar.fixed"),
        (
            _calendar(extra_holidays=[str(date(2026, 1, 1) + timedelta(days=i)) for i in range(3000)]),
            "rules.calendar.extra_holidays",
        ),
        (_calendar(martial_law="false"), "rules.calendar.martial_law"),
        (_calendar(weekend_transfer=1), "rules.calendar.weekend_transfer"),
        (_calendar(weekend=["5", "6"]), "rules.calendar.weekend[0]"),
        (_calendar(extra_holidays=["0001-01-01"]), "rules.calendar.extra_holidays[0]"),
        (_calendar(extra_working_days=["20260101"]), "rules.calendar.extra_working_days[0]"),
        (_calendar(fixed=["1-1"]), "rules.calendar.fixed[0]"),
        (_calendar(fixed=["01-01\n"]), "rules.calendar.fixed[0]"),  # "$" matched before a trailing newline
        (_calendar(fixed=["\u0660\u0661-\u0660\u0661"]), "rules.calendar.fixed[0]"),  # Arabic-Indic digits
        (_with(identity_methods=["diia\n"]), "rules.identity_methods[0]"),
        (_calendar(name={"x": 1}), "rules.calendar.name"),
        (_calendar(moon="full"), "rules.calendar.moon"),
        (_with(calendar="ua"), "rules.calendar"),
        (_with(max_title_chars="200"), "rules.max_title_chars"),
        (_with(max_text_chars=3.9), "rules.max_text_chars"),
        (_with(identity_methods="diia"), "rules.identity_methods"),
        (_with(identity_methods=["diia", 7]), "rules.identity_methods[1]"),
        (_with(city={"name": "x"}), "rules.city"),
        (_with(source="s" * 10_000), "rules.source"),
        (_with(period={"months": 3650}), "rules.period.months"),
        (_with(threshold=True), "rules.threshold"),
        (_with(response_working_days=10.0), "rules.response_working_days"),
        (_with(treshold=5), "rules.treshold"),
        (_with(city=None), "rules.city"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_petition_rule_set_is_refused_naming_the_field(client, service_key, rules, field):
    body = problem(_publish(client, service_key, rules), 422, "invalid-input")
    assert body["evidence"]["field"] == field, body
    assert field in body["detail"]


def test_the_shipped_rule_sets_are_unchanged_by_validation():
    from domain.petitions.rules import PETITION_RULE_SETS

    for rules in PETITION_RULE_SETS.values():
        assert validate_petition_rules(rules) == rules


def test_a_rule_set_at_every_bound_still_answers_its_signatures(client, citizen, service_key):
    """The worst calendar accepted: two weekend days, 31 fixed holidays in a row, 100 extra holidays in a row, the
    longest response period. The threshold-reaching signature must answer, quickly, with its due date."""
    fixed = DAYS_2024[:31]
    extra = [str(date.today() + timedelta(days=i)) for i in range(MAX_EXTRA_HOLIDAYS)]
    rules = _calendar(
        weekend=[5, 6], fixed=fixed, martial_law=False, extra_holidays=extra, movable=["easter", "trinity"]
    )
    rules["response_working_days"] = 365
    assert _publish(client, service_key, rules).status_code == 201
    r = client.post("/v1/petitions", json={"title": "T", "text": "x", "rule_set": "hostile"}, headers=citizen("a"))
    assert r.status_code == 201, r.text
    pid = r.json()["petition_id"]
    assert client.post(f"/v1/petitions/{pid}/publish", headers=service_key("council", "petition:*")).status_code == 200
    r = client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s1"))
    assert r.status_code == 201, r.text
    assert [e["type"] for e in r.json()["events"]] == ["petition.signed", "petition.threshold_reached"]
    assert client.get(f"/v1/petitions/{pid}").json()["response_due"]


_CAL = st.fixed_dictionaries(
    {
        "name": st.just("generated"),
        "weekend": st.lists(st.integers(0, 6), max_size=2, unique=True),
        "fixed": st.lists(st.sampled_from(DAYS_2024), max_size=MAX_FIXED_HOLIDAYS),
        "movable": st.lists(st.sampled_from(["easter", "trinity"]), max_size=2, unique=True),
        "weekend_transfer": st.booleans(),
        "martial_law": st.booleans(),
        "extra_holidays": st.lists(
            st.dates(date(2020, 1, 1), date(2040, 12, 31)).map(str), max_size=MAX_EXTRA_HOLIDAYS
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(spec=_CAL, start=st.dates(date(2020, 1, 1), date(2060, 12, 31)))
def test_every_accepted_calendar_has_working_days_in_every_year(spec, start):
    cal = WorkingCalendar(validate_calendar(spec))
    due = cal.add_working_days(start, 365)
    assert (due - start).days <= 366 * (365 // MIN_WORKING_DAYS_A_YEAR + 2)
    year = start.year
    working = sum(cal.is_working_day(date(year, 1, 1) + timedelta(days=i)) for i in range(365))
    assert working >= MIN_WORKING_DAYS_A_YEAR


BALLOT = {"title": "t", "method": {"type": "single"}, "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]}


@pytest.mark.parametrize(
    ("opens_at", "closes_at", "field"),
    [
        ("0001-01-01T00:00:00+05:00", "2030-01-01T00:00:00Z", "opens_at"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "closes_at"),
        ("0999-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "opens_at"),
        ("2026-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "closes_at"),
    ],
)
def test_a_ballot_window_must_be_instants_of_sane_years(client, service_key, opens_at, closes_at, field):
    svc = service_key("city.council", "ballot:*")
    r = client.post("/v1/ballots", headers=svc, json={**BALLOT, "opens_at": opens_at, "closes_at": closes_at})
    assert problem(r, 422, "invalid-input")["evidence"]["field"] == field


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ([{"code": "a/b", "title": "t", "statute": "s"}], "benefits[0].code"),  # could never be revoked by path
        ([{"code": "ok b", "title": "t", "statute": "s"}], "benefits[0].code"),
        ([{"code": "ok\n", "title": "t", "statute": "s"}], "benefits[0].code"),  # what the verifier refuses
        ([{"code": f"c{i}", "title": "t", "statute": "s"} for i in range(101)], "benefits"),
    ],
    ids=["slash", "space", "newline", "101-rows"],
)
def test_a_kindergarten_benefit_table_is_validated(client, service_key, table, field):
    edu = service_key("city.education", "queue:kindergarten:admin")
    r = client.post("/v1/queues", json={"name": "Q", "institutions": ["ds-1"], "benefits": table}, headers=edu)
    assert problem(r, 422, "invalid-input")["evidence"]["field"] == field


def test_a_housing_register_table_is_validated(client, service_key):
    hd = service_key("city.housing", "queue:housing:admin")
    reasons = [{"code": "art 40", "title": "t", "statute": "s"}]
    r = client.post("/v1/housing-registers", json={"name": "H", "removal_reasons": reasons}, headers=hd)
    assert problem(r, 422, "invalid-input")["evidence"]["field"] == "removal_reasons[0].code"
