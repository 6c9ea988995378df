"""Working days from a frozen calendar spec (docs/domain.md, "Working days"), re-implemented from the text.

Spec: ``{"name", "weekend": [5, 6], "fixed": ["MM-DD", ...], "movable": ["easter", "trinity"],
"weekend_transfer": bool, "martial_law": bool, "extra_holidays": [ISO dates], "extra_working_days": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["Calendar", "calendar_of", "orthodox_easter"]


def orthodox_easter(year: int) -> date:
    """Orthodox Easter: Meeus' Julian computus, + 13 days to the Gregorian calendar (valid 1900-2099)."""
    a = year % 4
    b = year % 7
    c = year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day0 = divmod(d + e + 114, 31)
    return date(year, month, day0 + 1) + timedelta(days=13)


class Calendar:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.weekend = frozenset(int(w) for w in spec.get("weekend", [5, 6]))
        self.fixed = [str(md) for md in spec.get("fixed", [])]
        self.movable = {str(m) for m in spec.get("movable", [])}
        self.transfer = bool(spec.get("weekend_transfer", True))
        self.martial_law = bool(spec.get("martial_law", False))
        self.extra_off = frozenset(date.fromisoformat(str(d)) for d in spec.get("extra_holidays", []))
        self.extra_on = frozenset(date.fromisoformat(str(d)) for d in spec.get("extra_working_days", []))
        self._off: dict[int, frozenset[date]] = {}

    def holidays(self, year: int) -> list[date]:
        out: set[date] = set()
        for md in self.fixed:
            try:
                out.add(date(year, int(md[:2]), int(md[3:])))
            except ValueError:  # e.g. 02-29 in a common year: skipped
                continue
        easter = orthodox_easter(year)
        if "easter" in self.movable:
            out.add(easter)
        if "trinity" in self.movable:
            out.add(easter + timedelta(days=49))
        return sorted(out)

    def days_off(self, year: int) -> frozenset[date]:
        """Holidays and transferred days off falling in ``year`` (empty under martial law)."""
        cached = self._off.get(year)
        if cached is not None:
            return cached
        off: set[date] = set()
        if not self.martial_law:
            previous, current = self.holidays(year - 1), self.holidays(year)
            off.update(previous)
            off.update(current)
            if self.transfer:
                for h in previous + current:  # the previous year's holidays, then this year's, in date order
                    if h.weekday() in self.weekend:
                        d = h + timedelta(days=1)
                        while d.weekday() in self.weekend or d in off:
                            d += timedelta(days=1)
                        off.add(d)
        result = frozenset(d for d in off if d.year == year)
        self._off[year] = result
        return result

    def is_working_day(self, d: date) -> bool:
        if d in self.extra_on:
            return True
        return d not in self.extra_off and d.weekday() not in self.weekend and d not in self.days_off(d.year)

    def nth_working_day_after(self, start: date, n: int) -> date:
        d = start
        while n > 0:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d


@lru_cache(maxsize=64)
def _calendar(key: str) -> Calendar:
    return Calendar(json.loads(key))


def calendar_of(spec: Mapping[str, Any]) -> Calendar:
    return _calendar(json.dumps(spec, sort_keys=True))
