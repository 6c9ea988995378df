"""City rule sets. A rule set is a JSON-native dict frozen into the opening event of a petition or queue.

The example values below are taken from the cities' published e-petition regulations (threshold and
collection period) and, for the benefit tables, follow the structure of city queue regulations (an ordered
list of categories, each citing the statute it rests on). They are examples to start from: each city's legal
department must confirm its own table before use.
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import checks
from domain.calendar import UA_CALENDAR, UA_MARTIAL_LAW_CALENDAR, validate_calendar

DEFAULT_IDENTITY_METHODS = ["bankid", "diia", "qes"]


# --- petitions ---------------------------------------------------------------------------------------------
def _petition_rules(city: str, threshold: int, period: dict[str, int], source: str) -> dict[str, Any]:
    return {
        "city": city,
        "threshold": threshold,
        "period": period,
        "identity_methods": list(DEFAULT_IDENTITY_METHODS),
        "response_working_days": 10,
        "timezone": "Europe/Kyiv",
        "calendar": dict(UA_MARTIAL_LAW_CALENDAR),
        "max_title_chars": 200,
        "max_text_chars": 10_000,
        "source": source,
    }


KYIV = _petition_rules("kyiv", 6_000, {"days": 60}, "Kyiv City Council regulation on electronic petitions")
SUMY = _petition_rules("sumy", 250, {"days": 45}, "Sumy City Council regulation on electronic petitions")
HRADYZK = _petition_rules("hradyzk", 100, {"months": 3}, "Hradyzk council regulation on electronic petitions")
PETITION_RULE_SETS: dict[str, dict[str, Any]] = {"kyiv": KYIV, "sumy": SUMY, "hradyzk": HRADYZK}


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


# --- kindergarten queue ---------------------------------------------------------------------------------
#: Ordered list (rank 1 = served first), modelled on Chernivtsi's kindergarten e-queue regulation.
CHERNIVTSI_KINDERGARTEN_BENEFITS: list[dict[str, Any]] = [
    {
        "code": "fallen_defender_child",
        "title": "Children of defenders of Ukraine who died or went missing defending the state",
        "statute": "Law of Ukraine 'On the status of war veterans, guarantees of their social protection'",
    },
    {
        "code": "military_child",
        "title": "Children of servicemen (incl. mobilised) of the Armed Forces and other formations",
        "statute": "Law of Ukraine 'On social and legal protection of servicemen and members of their "
        "families', art. 13",
    },
    {
        "code": "combatant_child",
        "title": "Children of combatants and persons with disability resulting from war",
        "statute": "Law of Ukraine 'On the status of war veterans, guarantees of their social protection'",
    },
    {
        "code": "disabled_child",
        "title": "Children with disabilities (inclusive groups)",
        "statute": "Law of Ukraine 'On preschool education'; Law 'On the protection of childhood'",
    },
    {
        "code": "orphan_or_foster",
        "title": "Orphans, children deprived of parental care, children in foster families",
        "statute": "Law of Ukraine 'On ensuring organisational and legal conditions for the social "
        "protection of orphans and children deprived of parental care'",
    },
    {
        "code": "idp_child",
        "title": "Children of internally displaced persons",
        "statute": "Law of Ukraine 'On ensuring the rights and freedoms of internally displaced persons'",
    },
    {
        "code": "large_family",
        "title": "Children from large families (three or more children)",
        "statute": "Law of Ukraine 'On the protection of childhood', art. 13",
    },
]

KINDERGARTEN_REMOVAL_REASONS: list[dict[str, str]] = [
    {"code": "school_age", "title": "The child reached school age", "statute": "Law 'On preschool education'"},
    {"code": "placed_elsewhere", "title": "Placed in another preschool institution", "statute": "city regulation"},
    {"code": "duplicate", "title": "Duplicate registration of the same child", "statute": "city regulation"},
    {"code": "false_data", "title": "The documents submitted proved false", "statute": "city regulation"},
    {"code": "applicant_request", "title": "Written request of the parent", "statute": "city regulation"},
]

BENEFIT_REVOKE_REASONS = ["document_expired", "document_invalid", "status_ended", "granted_in_error"]


MAX_TABLE_ROWS = 100


def validate_code_table(table: Any, what: str, field: str | None = None) -> list[dict[str, str]]:
    """A table of ``{code, title, statute}`` rows (1-100, unique codes usable in paths), or InvalidInput naming
    the field (``field`` defaults to the table's name, e.g. ``benefits``)."""
    field = field or what.replace(" ", "_")
    out: list[dict[str, str]] = []
    for i, raw in enumerate(checks.array(table, field, MAX_TABLE_ROWS, min_items=1)):
        row = checks.mapping(raw, f"{field}[{i}]", ("code", "title", "statute"), ("code", "title", "statute"))
        out.append(
            {
                "code": checks.code(row["code"], f"{field}[{i}].code"),
                "title": checks.text(row["title"], f"{field}[{i}].title", 500, min_chars=0),
                "statute": checks.text(row["statute"], f"{field}[{i}].statute", 500),
            }
        )
    codes = [r["code"] for r in out]
    if len(set(codes)) != len(codes):
        raise checks.refuse(field, f"{what} codes must be unique", found=codes)
    return out


# --- housing register -----------------------------------------------------------------------------------
#: Grounds for removal from the housing register, after Housing Code of Ukraine art. 40.
HOUSING_REMOVAL_REASONS: list[dict[str, str]] = [
    {"code": "art40.1", "title": "Housing conditions improved so the grounds no longer exist",
     "statute": "Housing Code of Ukraine, art. 40 (1)"},
    {"code": "art40.2", "title": "Moved to another permanent place of residence",
     "statute": "Housing Code of Ukraine, art. 40 (2)"},
    {"code": "art40.3", "title": "Sentenced to imprisonment for more than six months",
     "statute": "Housing Code of Ukraine, art. 40 (3)"},
    {"code": "art40.4", "title": "Untrue information found in the documents that led to registration",
     "statute": "Housing Code of Ukraine, art. 40 (4)"},
    {"code": "art40.5", "title": "Employment ended (departmental registers)",
     "statute": "Housing Code of Ukraine, art. 40 (5)"},
    {"code": "art40.6", "title": "Received a land plot for building a dwelling",
     "statute": "Housing Code of Ukraine, art. 40 (6)"},
    {"code": "own_application", "title": "On the applicant's own written application",
     "statute": "Rules of registration of citizens in need of better housing conditions"},
]  # fmt: skip

HOUSING_LIST_BASES: dict[str, list[dict[str, str]]] = {
    "first_priority": [
        {"code": "art45.combatant", "title": "Combatants and persons equated to them",
         "statute": "Housing Code of Ukraine, art. 45; Law 'On the status of war veterans'"},
        {"code": "art45.disabled", "title": "Persons with disability of groups I and II",
         "statute": "Housing Code of Ukraine, art. 45"},
        {"code": "art45.large_family", "title": "Large families", "statute": "Housing Code of Ukraine, art. 45"},
    ],
    "out_of_turn": [
        {"code": "art46.disaster", "title": "Dwelling became unfit after a disaster or hostilities",
         "statute": "Housing Code of Ukraine, art. 46"},
        {"code": "art46.orphan", "title": "Orphans and children deprived of parental care",
         "statute": "Housing Code of Ukraine, art. 46"},
    ],
}  # fmt: skip

HOUSING_LISTS = ("general", "first_priority", "out_of_turn")
