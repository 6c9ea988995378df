"""The shape of a published rule set's ``rules`` per ``applies_to`` (docs/domain.md "City-owned rule sets", "Shape
of a rule set's rules"), re-implemented from the text, independently of the domain's validators.

A ``ruleset.published`` holds its rules *as frozen*: every field of its kind present (defaults filled in), of the
exact JSON type (a bool is not an integer), within its bounds, and the lists the frozen form sorts sorted.
:func:`shape_problem` returns the first field that is not (its JSON path, what it should be, what it is), or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from verifier.rules.model import json_path

__all__ = ["shape_problem"]

MISSING = "<missing>"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
_MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}\Z")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MAX_TABLE_ROWS = 100
MAX_PERIOD = {"days": 3650, "months": 120}
CALENDAR_FIELDS = frozenset(
    ("name", "weekend", "fixed", "movable", "weekend_transfer", "martial_law", "extra_holidays", "extra_working_days")
)
PETITION_FIELDS = frozenset(
    ("city", "threshold", "period", "identity_methods", "response_working_days", "timezone", "calendar",
     "max_title_chars", "max_text_chars", "source")
)  # fmt: skip
BALLOT_KINDS = ("poll", "local_vote", "participatory_budget")


class _Bad(Exception):
    def __init__(self, path: str, expected: str, found: Any) -> None:
        super().__init__(path)
        self.problem = (path, expected, found)


def _obj(value: Any, path: str, fields: frozenset[str]) -> Mapping[str, Any]:
    """An object with exactly ``fields``."""
    if not isinstance(value, Mapping):
        raise _Bad(path, "an object", value)
    for key in sorted(fields | set(value)):
        if key not in value:
            raise _Bad(json_path(path, key), "present", MISSING)
        if key not in fields:
            raise _Bad(json_path(path, key), f"no such field (fields: {', '.join(sorted(fields))})", value[key])
    return value


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise _Bad(path, f"an integer {lo}-{hi}", value)
    return value


def _text(value: Any, path: str, lo: int, hi: int) -> str:
    """A string of ``lo``-``hi`` characters without control characters or lone surrogates."""
    if (
        not isinstance(value, str)
        or not lo <= len(value) <= hi
        or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value)
    ):
        raise _Bad(path, f"a string of {lo}-{hi} characters without control characters", value)
    return value


def _list(value: Any, path: str, lo: int, hi: int) -> list[Any]:
    if not isinstance(value, list) or not lo <= len(value) <= hi:
        raise _Bad(path, f"a list of {lo}-{hi} items", value)
    return value


def _code(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _CODE.match(value):
        raise _Bad(path, "a code [A-Za-z0-9][A-Za-z0-9._:-]{0,63}", value)
    return value


def _codes(value: Any, path: str, hi: int, *, ordered: bool) -> None:
    """A list of 1-``hi`` distinct codes (``ordered``: in ascending order, as the frozen form sorts them)."""
    items = [_code(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path, 1, hi))]
    if len(set(items)) != len(items) or (ordered and items != sorted(items)):
        raise _Bad(path, "distinct codes" + (", sorted" if ordered else ""), items)


def _sorted(items: list[Any], path: str, *, distinct: bool = False) -> None:
    if items != sorted(set(items) if distinct else items):
        raise _Bad(path, "sorted" + (" and distinct" if distinct else ""), items)


def _table(value: Any, path: str) -> None:
    """A table of 1-100 rows ``{code, title, statute}`` with distinct codes."""
    codes = []
    for i, row in enumerate(_list(value, path, 1, MAX_TABLE_ROWS)):
        at = f"{path}[{i}]"
        r = _obj(row, at, frozenset(("code", "title", "statute")))
        codes.append(_code(r["code"], f"{at}.code"))
        _text(r["title"], f"{at}.title", 0, 500)
        _text(r["statute"], f"{at}.statute", 1, 500)
    if len(set(codes)) != len(codes):
        raise _Bad(path, "distinct codes", codes)


def _date(value: Any, path: str) -> str:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            if 1900 <= date.fromisoformat(value).year <= 2200:
                return value
        except ValueError:
            pass
    raise _Bad(path, "a date YYYY-MM-DD of 1900-2200", value)


def _calendar(value: Any, path: str) -> None:
    c = _obj(value, path, CALENDAR_FIELDS)
    _text(c["name"], f"{path}.name", 1, 64)
    weekend = _list(c["weekend"], f"{path}.weekend", 0, 2)
    for i, w in enumerate(weekend):
        _int(w, f"{path}.weekend[{i}]", 0, 6)
    _sorted(weekend, f"{path}.weekend", distinct=True)
    fixed = _list(c["fixed"], f"{path}.fixed", 0, 31)
    for i, md in enumerate(fixed):
        ok = isinstance(md, str) and _MONTH_DAY.match(md) is not None
        try:
            ok = ok and bool(date(2024, int(md[:2]), int(md[3:])))  # a leap year: 02-29 is a day of the year
        except ValueError:
            ok = False
        if not ok:
            raise _Bad(f"{path}.fixed[{i}]", "a day of the year MM-DD", md)
    _sorted(fixed, f"{path}.fixed")
    movable = _list(c["movable"], f"{path}.movable", 0, 2)
    for i, m in enumerate(movable):
        if m not in ("easter", "trinity"):
            raise _Bad(f"{path}.movable[{i}]", "easter or trinity", m)
    _sorted(movable, f"{path}.movable")
    for key in ("weekend_transfer", "martial_law"):
        if not isinstance(c[key], bool):
            raise _Bad(f"{path}.{key}", "true or false", c[key])
    for key, hi in (("extra_holidays", 100), ("extra_working_days", 366)):
        days = [_date(d, f"{path}.{key}[{i}]") for i, d in enumerate(_list(c[key], f"{path}.{key}", 0, hi))]
        _sorted(days, f"{path}.{key}")


def _petition(r: Any, path: str) -> None:
    r = _obj(r, path, PETITION_FIELDS)
    _text(r["city"], f"{path}.city", 1, 64)
    _int(r["threshold"], f"{path}.threshold", 1, 10_000_000)
    period = r["period"]
    if not isinstance(period, Mapping) or len(period) != 1 or next(iter(period)) not in MAX_PERIOD:
        raise _Bad(f"{path}.period", "{'days': N} or {'months': N}", period)
    unit, amount = next(iter(period.items()))
    _int(amount, f"{path}.period.{unit}", 1, MAX_PERIOD[unit])
    _codes(r["identity_methods"], f"{path}.identity_methods", 20, ordered=False)
    _int(r["response_working_days"], f"{path}.response_working_days", 1, 365)
    tz = _text(r["timezone"], f"{path}.timezone", 1, 64)
    try:
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError) as exc:
        raise _Bad(f"{path}.timezone", "an IANA time zone", tz) from exc
    _calendar(r["calendar"], f"{path}.calendar")
    _int(r["max_title_chars"], f"{path}.max_title_chars", 1, 500)
    _int(r["max_text_chars"], f"{path}.max_text_chars", 1, 20_000)
    _text(r["source"], f"{path}.source", 0, 500)


def _kindergarten(r: Any, path: str) -> None:
    r = _obj(r, path, frozenset(("benefits", "removal_reasons", "acceptance_days", "max_preferences")))
    _table(r["benefits"], f"{path}.benefits")
    _table(r["removal_reasons"], f"{path}.removal_reasons")
    _int(r["acceptance_days"], f"{path}.acceptance_days", 1, 365)
    _int(r["max_preferences"], f"{path}.max_preferences", 1, 50)


def _housing(r: Any, path: str) -> None:
    r = _obj(r, path, frozenset(("removal_reasons", "list_bases")))
    _table(r["removal_reasons"], f"{path}.removal_reasons")
    bases = _obj(r["list_bases"], f"{path}.list_bases", frozenset(("first_priority", "out_of_turn")))
    for name in sorted(bases):
        _table(bases[name], f"{path}.list_bases.{name}")


def _ballot(r: Any, path: str) -> None:
    r = _obj(r, path, frozenset(("kind", "eligibility")))
    if r["kind"] not in BALLOT_KINDS:
        raise _Bad(f"{path}.kind", " or ".join(BALLOT_KINDS), r["kind"])
    e = _obj(r["eligibility"], f"{path}.eligibility", frozenset(("identity_methods", "min_age")))
    _codes(e["identity_methods"], f"{path}.eligibility.identity_methods", 20, ordered=True)
    if e["min_age"] is not None:
        _int(e["min_age"], f"{path}.eligibility.min_age", 1, 150)


SHAPES: dict[str, Callable[[Any, str], None]] = {
    "petition": _petition,
    "kindergarten": _kindergarten,
    "housing": _housing,
    "ballot": _ballot,
}


def shape_problem(applies_to: str, rules: Any, path: str = "$.rules") -> tuple[str, str, Any] | None:
    """The first field of ``rules`` (at ``path``) not as a published ``applies_to`` rule set freezes it: its path,
    what it should be and what it is; None when all are."""
    try:
        SHAPES[applies_to](rules, path)
    except _Bad as bad:
        return bad.problem
    return None
