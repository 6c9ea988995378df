"""Working days and instants of verifier.rules against fixed facts and, differentially, the domain's code."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from domain.calendar import UA_CALENDAR, UA_MARTIAL_LAW_CALENDAR, WorkingCalendar
from verifier.rules.calendar import Calendar, orthodox_easter
from verifier.rules.model import add_days, add_months, first_difference, stream_id


def test_orthodox_easter_known_dates() -> None:
    assert [orthodox_easter(y) for y in (2023, 2024, 2025, 2026, 2027)] == [
        date(2023, 4, 16),
        date(2024, 5, 5),
        date(2025, 4, 20),
        date(2026, 4, 12),
        date(2027, 5, 2),
    ]


def test_weekend_transfer_and_martial_law() -> None:
    ua, ml = Calendar(UA_CALENDAR), Calendar(UA_MARTIAL_LAW_CALENDAR)
    # 2022-01-01 was a Saturday: Monday 3 January was a day off without martial law
    assert not ua.is_working_day(date(2022, 1, 3)) and ml.is_working_day(date(2022, 1, 3))
    # Christmas 2027-12-25 is a Saturday: the transfer lands on Monday 2027-12-27
    assert not ua.is_working_day(date(2027, 12, 27))
    # extra days override everything
    spec = {**UA_MARTIAL_LAW_CALENDAR, "extra_holidays": ["2026-01-06"], "extra_working_days": ["2026-01-10"]}
    cal = Calendar(spec)
    assert not cal.is_working_day(date(2026, 1, 6)) and cal.is_working_day(date(2026, 1, 10))
    assert ml.nth_working_day_after(date(2026, 1, 5), 10) == date(2026, 1, 19)


@pytest.mark.parametrize("spec", [UA_CALENDAR, UA_MARTIAL_LAW_CALENDAR], ids=["ua", "ua-martial-law"])
def test_agrees_with_the_domain_over_ten_years(spec: dict[str, object]) -> None:
    mine, theirs = Calendar(spec), WorkingCalendar(spec)
    d = date(2020, 1, 1)
    while d < date(2031, 1, 1):
        assert mine.is_working_day(d) == theirs.is_working_day(d), d
        d += timedelta(days=1)


def test_stream_id_is_uuid5() -> None:
    ns = uuid.UUID("6f1c3a52-2d7e-5b8c-9a41-0e5b7c9d2f13")
    for parts in (
        ("service", "city.council"),
        ("petition", str(uuid.uuid4()), "signature", "cit:v1:" + "ab" * 32),
        ("a", 1),
        ("Київ", "ї"),
        ("",),
    ):
        assert stream_id(*parts) == str(uuid.uuid5(ns, "/".join(str(p) for p in parts)))


def test_periods_and_differences() -> None:
    assert add_days("2026-02-27T23:00:00.000000Z", 2) == "2026-03-01T23:00:00.000000Z"
    assert add_months("2026-01-31T10:00:00.000001Z", 1) == "2026-02-28T10:00:00.000001Z"
    assert add_months("2027-11-30T10:00:00.000000Z", 3) == "2028-02-29T10:00:00.000000Z"
    assert first_difference({"a": [1, 2]}, {"a": [1, 2]}) is None
    assert first_difference({"a": [1, 2]}, {"a": [1]}) == ("$.a[1]", 2, "<end of list>")
    assert first_difference({"a": {"x-y": 1}}, {"a": {}}) == ('$.a["x-y"]', 1, "<missing>")
    assert first_difference({"a": True}, {"a": 1}) == ("$.a", True, 1)
