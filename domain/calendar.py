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

from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

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


def validate_calendar(spec: Mapping[str, Any]) -> dict[str, Any]:
    try:
        out: dict[str, Any] = {
            "name": str(spec["name"]),
            "weekend": sorted({int(x) for x in spec.get("weekend", [5, 6])}),
            "fixed": sorted(str(x) for x in spec.get("fixed", [])),
            "movable": sorted(str(x) for x in spec.get("movable", [])),
            "weekend_transfer": bool(spec.get("weekend_transfer", True)),
            "martial_law": bool(spec.get("martial_law", False)),
            "extra_holidays": sorted(date.fromisoformat(str(x)).isoformat() for x in spec.get("extra_holidays", [])),
            "extra_working_days": sorted(
                date.fromisoformat(str(x)).isoformat() for x in spec.get("extra_working_days", [])
            ),
        }
        for md in out["fixed"]:
            date(2024, int(md[:2]), int(md[3:]))  # 2024: leap year, so 02-29 is accepted
            if len(md) != 5 or md[2] != "-":
                raise ValueError(md)
        if any(w not in range(7) for w in out["weekend"]):
            raise ValueError("weekend")
        if any(m not in ("easter", "trinity") for m in out["movable"]):
            raise ValueError("movable")
    except (KeyError, ValueError, TypeError) as e:
        raise InvalidInput("malformed calendar", detail=str(e)) from e
    return out


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
