"""Petition rule sets (frozen into ``petition.created``), their validation, and the rules' date arithmetic.

The example statutes in ``statutes/`` take their values from the cities' published e-petition regulations
(threshold and collection period). They are examples to start from: each city's legal department confirms its own
rule set before a ``rules:admin`` service publishes it (``ruleset.published``, domain/rulesets/).
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import checks
from domain.base import parse_rfc3339, rfc3339
from domain.calendar import UA_CALENDAR, calendar_for, validate_calendar
from domain.statutes import read_statutes

STATUTES_DIR = Path(__file__).with_name("statutes")


#: Name -> the statute as ``hromada rules publish`` publishes it.
STATUTES: dict[str, dict[str, Any]] = read_statutes(STATUTES_DIR)
KYIV = STATUTES["kyiv"]["rules"]
SUMY = STATUTES["sumy"]["rules"]
HRADYZK = STATUTES["hradyzk"]["rules"]
PETITION_RULE_SETS: dict[str, dict[str, Any]] = {name: doc["rules"] for name, doc in STATUTES.items()}


PETITION_RULE_FIELDS = (
    "city",
    "threshold",
    "period",
    "identity_methods",
    "response_working_days",
    "timezone",
    "calendar",
    "max_title_chars",
    "max_text_chars",
    "source",
)
#: Longest collection period: 10 years either way (the deadline must stay a date far from datetime's end).
MAX_PERIOD = {"days": 3650, "months": 120}


def validate_petition_rules(rules: Any) -> dict[str, Any]:
    """The rule set as frozen into ``petition.created``, or InvalidInput naming the field (``rules.<field>``).

    Every field has an exact type and bounds, and the calendar has working days (domain/calendar.py), so no later
    command on an accepted petition can fail or loop because of its rules."""
    r = checks.mapping(rules, "rules", PETITION_RULE_FIELDS, ("city", "threshold", "period", "identity_methods"))
    period = checks.mapping(r["period"], "rules.period", MAX_PERIOD)
    if len(period) != 1:
        raise checks.refuse("rules.period", "must be {'days': N} or {'months': N}", found=sorted(period))
    unit, amount = next(iter(period.items()))
    methods = checks.array(r["identity_methods"], "rules.identity_methods", 20, min_items=1)
    for i, method in enumerate(methods):
        checks.code(method, f"rules.identity_methods[{i}]")
    if len(set(methods)) != len(methods):
        raise checks.refuse("rules.identity_methods", "must not repeat a method", found=methods)
    tz = checks.text(r.get("timezone", "Europe/Kyiv"), "rules.timezone", 64)
    try:
        ZoneInfo(tz)
    except (ValueError, OSError, ZoneInfoNotFoundError) as e:
        raise checks.refuse("rules.timezone", "is not an IANA time zone", found=tz) from e
    return {
        "city": checks.text(r["city"], "rules.city", 64),
        "threshold": checks.integer(r["threshold"], "rules.threshold", 1, 10_000_000),
        "period": {unit: checks.integer(amount, f"rules.period.{unit}", 1, MAX_PERIOD[unit])},
        "identity_methods": methods,
        "response_working_days": checks.integer(
            r.get("response_working_days", 10), "rules.response_working_days", 1, 365
        ),
        "timezone": tz,
        "calendar": validate_calendar(r.get("calendar", UA_CALENDAR), "rules.calendar"),
        # the event must fit in 64 KiB
        "max_title_chars": checks.integer(r.get("max_title_chars", 200), "rules.max_title_chars", 1, 500),
        "max_text_chars": checks.integer(r.get("max_text_chars", 10_000), "rules.max_text_chars", 1, 20_000),
        "source": checks.text(r.get("source", ""), "rules.source", 500, min_chars=0),
    }


def add_period(start: datetime, period: Mapping[str, int]) -> datetime:
    """``start`` plus ``{"days": N}`` (N x 24 h) or ``{"months": N}`` (same UTC wall-clock time N calendar
    months later, the day clamped to the month's length)."""
    if "days" in period:
        return start + timedelta(days=period["days"])
    months = period["months"]
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    day = min(start.day, _stdcal.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day, tzinfo=UTC)


def local_date(time: str, tz: str) -> date:
    return parse_rfc3339(time).astimezone(ZoneInfo(tz)).date()


def response_overdue_at(rules: Mapping[str, Any], due_date: str) -> str:
    """The instant a response due on ``due_date`` (a local date in ``rules.timezone``) becomes overdue: the start of
    the next local day, in UTC (a response is on time iff its local date <= ``due_date``)."""
    next_day = date.fromisoformat(due_date) + timedelta(days=1)
    start = datetime.combine(next_day, time(0), tzinfo=ZoneInfo(rules["timezone"]))
    return rfc3339(start.astimezone(UTC))


def response_due(rules: Mapping[str, Any], reached_at: str) -> str:
    """ISO date: the ``response_working_days``-th working day after the local date of ``reached_at``."""
    cal = calendar_for(rules["calendar"])
    return cal.add_working_days(local_date(reached_at, rules["timezone"]), rules["response_working_days"]).isoformat()
