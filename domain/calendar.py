"""Working days with a configurable Ukrainian public-holiday calendar.

A calendar is a JSON-native spec (frozen into rule sets, so the verifier replays it exactly)::

    {"name": "ua", "weekend": [5, 6],
     "fixed": ["01-01", "03-08", "05-01", "05-08", "06-28", "07-15", "08-24", "10-01", "12-25"],
     "movable": ["easter", "trinity"], "weekend_transfer": true, "martial_law": false,
     "extra_holidays": [], "extra_working_days": []}

* ``weekend``: ISO weekdays counted from Monday = 0 (so 5, 6 = Saturday, Sunday);
* ``fixed``: month-day holidays; ``movable``: ``easter`` (Orthodox Easter, Julian computus, Gregorian date)
  and ``trinity`` (Easter + 49 days);
* ``weekend_transfer``: a holiday falling on a weekend day makes the next working day a day off
  (Labour Code art. 67 part 3); applied in date order, skipping days already off;
* ``martial_law``: while true, public holidays are working days (only weekends and ``extra_holidays``
  are off), as under the martial-law regime since 2022;
* ``extra_holidays`` / ``extra_working_days``: ISO dates the city sets explicitly (override the rest).

A day is *working* iff it is in ``extra_working_days``, or it is not a weekend day, not a holiday, not a
transferred day off and not in ``extra_holidays``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from domain import checks
from domain.errors import InvalidInput

#: Labour Code art. 73 holidays as amended in 2023 (Christmas on 25 December; Statehood Day 15 July;
#: Defenders Day 1 October; Remembrance and Victory Day 8 May).
UA_FIXED = ["01-01", "03-08", "05-01", "05-08", "06-28", "07-15", "08-24", "10-01", "12-25"]

UA_CALENDAR: dict[str, Any] = {
    "name": "ua",
    "weekend": [5, 6],
    "fixed": UA_FIXED,
    "movable": ["easter", "trinity"],
    "weekend_transfer": True,
    "martial_law": False,
    "extra_holidays": [],
    "extra_working_days": [],
}

UA_MARTIAL_LAW_CALENDAR: dict[str, Any] = {**UA_CALENDAR, "name": "ua-martial-law", "martial_law": True}

CALENDARS: dict[str, dict[str, Any]] = {c["name"]: c for c in (UA_CALENDAR, UA_MARTIAL_LAW_CALENDAR)}


def orthodox_easter(year: int) -> date:
    """Orthodox Easter (Julian computus, Meeus), as a Gregorian date (valid 1900-2099)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month = (d + e + 114) // 31
    day = (d + e + 114) % 31 + 1
    return date(year, month, day) + timedelta(days=13)


CALENDAR_FIELDS = (
    "name",
    "weekend",
    "fixed",
    "movable",
    "weekend_transfer",
    "martial_law",
    "extra_holidays",
    "extra_working_days",
)
#: Labour Code art. 67: a five-day working week has two days off, a six-day week one.
MAX_WEEKEND_DAYS = 2
MAX_FIXED_HOLIDAYS = 31
MAX_EXTRA_HOLIDAYS = 100
MAX_EXTRA_WORKING_DAYS = 366
#: Dates a calendar may name (Orthodox Easter above is valid 1900-2099).
FIRST_YEAR, LAST_YEAR = 1900, 2200
#: So every calendar has working days: with at most 2 weekend days a year has at least 260 weekdays; at most 33
#: holidays (31 fixed, Easter, Trinity), as many transferred days off and 31 more transferred from the previous
#: December, and at most 100 extra holidays in all, take at most 197 of them. So every year of an accepted calendar
#: has at least 63 working days, and `add_working_days` ends within 365 / 63 years (tests/domain).
MIN_WORKING_DAYS_A_YEAR = 260 - 2 * 33 - 31 - MAX_EXTRA_HOLIDAYS
_MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}\Z")  # not \d (other scripts' digits) nor $ (a trailing newline)


def _iso_date(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise checks.refuse(field, "must be a date YYYY-MM-DD", found=str(value)[:100])
    try:
        d = date.fromisoformat(value)
    except ValueError as e:
        raise checks.refuse(field, "must be a date YYYY-MM-DD", found=value) from e
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise checks.refuse(field, f"must be a date of {FIRST_YEAR}-{LAST_YEAR}", found=value)
    return d.isoformat()


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def validate_calendar(spec: Any, field: str = "calendar") -> dict[str, Any]:
    """The calendar as frozen into a rule set, or InvalidInput naming the field (``<field>.weekend`` ...). Its
    bounds guarantee working days in every year (MIN_WORKING_DAYS_A_YEAR)."""
    c = checks.mapping(spec, field, CALENDAR_FIELDS, ("name",))
    weekend = checks.array(c.get("weekend", [5, 6]), f"{field}.weekend", 7)
    days = sorted({checks.integer(w, f"{field}.weekend[{i}]", 0, 6) for i, w in enumerate(weekend)})
    if len(days) > MAX_WEEKEND_DAYS:
        raise checks.refuse(
            f"{field}.weekend", f"at most {MAX_WEEKEND_DAYS} days off a week (else too few working days)", found=days
        )
    fixed = []
    for i, md in enumerate(checks.array(c.get("fixed", []), f"{field}.fixed", MAX_FIXED_HOLIDAYS)):
        if not isinstance(md, str) or not _MONTH_DAY.match(md):
            raise checks.refuse(f"{field}.fixed[{i}]", "must be a month and day MM-DD", found=str(md)[:100])
        try:
            date(2024, int(md[:2]), int(md[3:]))  # 2024: leap year, so 02-29 is accepted
        except ValueError as e:
            raise checks.refuse(f"{field}.fixed[{i}]", "is not a day of the year", found=md) from e
        fixed.append(md)
    movable = checks.array(c.get("movable", []), f"{field}.movable", 2)
    for i, m in enumerate(movable):
        if m not in ("easter", "trinity"):
            raise checks.refuse(f"{field}.movable[{i}]", "must be easter or trinity", found=str(m)[:100])
    holidays = checks.array(c.get("extra_holidays", []), f"{field}.extra_holidays", MAX_EXTRA_HOLIDAYS)
    working = checks.array(c.get("extra_working_days", []), f"{field}.extra_working_days", MAX_EXTRA_WORKING_DAYS)
    return {
        "name": checks.text(c["name"], f"{field}.name", 64),
        "weekend": days,
        "fixed": sorted(fixed),
        "movable": sorted(movable),
        "weekend_transfer": checks.boolean(c.get("weekend_transfer", True), f"{field}.weekend_transfer"),
        "martial_law": checks.boolean(c.get("martial_law", False), f"{field}.martial_law"),
        "extra_holidays": sorted(_iso_date(d, f"{field}.extra_holidays[{i}]") for i, d in enumerate(holidays)),
        "extra_working_days": sorted(_iso_date(d, f"{field}.extra_working_days[{i}]") for i, d in enumerate(working)),
    }


class WorkingCalendar:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = validate_calendar(spec)
        self._weekend = frozenset(self.spec["weekend"])
        self._extra_off = frozenset(date.fromisoformat(d) for d in self.spec["extra_holidays"])
        self._extra_on = frozenset(date.fromisoformat(d) for d in self.spec["extra_working_days"])
        self._cache: dict[int, frozenset[date]] = {}

    def holidays(self, year: int) -> frozenset[date]:
        """Public holidays of ``year`` (before martial-law and extra-day adjustments)."""
        out: set[date] = set()
        for md in self.spec["fixed"]:
            m, d = int(md[:2]), int(md[3:])
            try:
                out.add(date(year, m, d))
            except ValueError:
                continue
        easter = orthodox_easter(year)
        if "easter" in self.spec["movable"]:
            out.add(easter)
        if "trinity" in self.spec["movable"]:
            out.add(easter + timedelta(days=49))
        return frozenset(out)

    def days_off(self, year: int) -> frozenset[date]:
        """Holidays and transferred days off of ``year`` (not weekends) after the martial-law rule."""
        if year in self._cache:
            return self._cache[year]
        off: set[date] = set()
        if not self.spec["martial_law"]:
            # Include December holidays of the previous year: their transfer may land in January.
            hol = sorted(self.holidays(year - 1) | self.holidays(year))
            off.update(hol)
            if self.spec["weekend_transfer"]:
                for h in hol:
                    if h.weekday() in self._weekend:
                        d = h + timedelta(days=1)
                        while d.weekday() in self._weekend or d in off:
                            d += timedelta(days=1)
                        off.add(d)
        result = frozenset(d for d in off if d.year == year)
        self._cache[year] = result
        return result

    def is_working_day(self, d: date) -> bool:
        if d in self._extra_on:
            return True
        if d in self._extra_off or d.weekday() in self._weekend:
            return False
        return d not in self.days_off(d.year)

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day strictly after ``start`` (n >= 1)."""
        if n < 1:
            raise InvalidInput("n must be at least 1", n=n)
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d


@lru_cache(maxsize=64)
def _cached(key: str) -> WorkingCalendar:
    import json

    return WorkingCalendar(json.loads(key))


def calendar_for(spec: Mapping[str, Any]) -> WorkingCalendar:
    import json

    return _cached(json.dumps(dict(spec), sort_keys=True))
