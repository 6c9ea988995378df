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

from domain.calendar import UA_CALENDAR, UA_MARTIAL_LAW_CALENDAR, validate_calendar
from domain.errors import InvalidInput

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


def validate_petition_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    try:
        period = dict(rules["period"])
        if len(period) != 1 or next(iter(period)) not in ("days", "months"):
            raise ValueError("period must be {'days': N} or {'months': N}")
        unit, amount = next(iter(period.items()))
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 3650:
            raise ValueError("period amount")
        threshold = rules["threshold"]
        if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= 10_000_000:
            raise ValueError("threshold")
        methods = [str(m) for m in rules["identity_methods"]]
        if not methods or len(set(methods)) != len(methods):
            raise ValueError("identity_methods")
        wd = rules.get("response_working_days", 10)
        if not isinstance(wd, int) or isinstance(wd, bool) or not 1 <= wd <= 365:
            raise ValueError("response_working_days")
        tz = str(rules.get("timezone", "Europe/Kyiv"))
        ZoneInfo(tz)
        out: dict[str, Any] = {
            "city": str(rules["city"]),
            "threshold": threshold,
            "period": {unit: amount},
            "identity_methods": methods,
            "response_working_days": wd,
            "timezone": tz,
            "calendar": validate_calendar(rules.get("calendar", UA_CALENDAR)),
            "max_title_chars": int(rules.get("max_title_chars", 200)),
            "max_text_chars": int(rules.get("max_text_chars", 10_000)),
            "source": str(rules.get("source", "")),
        }
    except (KeyError, ValueError, TypeError, ZoneInfoNotFoundError) as e:
        raise InvalidInput("malformed petition rule set", detail=str(e)) from e
    if not 1 <= out["max_text_chars"] <= 20_000 or not 1 <= out["max_title_chars"] <= 500:
        raise InvalidInput("text limits out of range (the event must fit in 64 KiB)")
    return out


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


def validate_code_table(table: Any, what: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    try:
        for row in table:
            code, title, statute = str(row["code"]), str(row["title"]), str(row["statute"])
            if not code or not statute:
                raise ValueError("empty code or statute")
            out.append({"code": code, "title": title, "statute": statute})
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidInput(f"malformed {what} table", detail=str(e)) from e
    codes = [r["code"] for r in out]
    if not out or len(set(codes)) != len(codes):
        raise InvalidInput(f"{what} table must be non-empty with unique codes")
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
