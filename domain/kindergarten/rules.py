"""Kindergarten queue rules frozen into ``kindergarten.created``: the ordered benefit table, the removal reasons, the
days a family has to accept an offer and how many institutions it may prefer; and their validation, shared by a queue
opened with inline rules and a ``kindergarten`` rule set a ``rules:admin`` service publishes (domain/rulesets/).

The example tables follow the structure of city queue regulations (an ordered list of categories, each citing the
statute it rests on); each city's legal department must confirm its own table before use. The shipped example rule
set is ``statutes/kindergarten-example.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.checks import mapping, validate_code_table
from domain.errors import InvalidInput
from domain.statutes import read_statutes

#: The fields of a kindergarten rule set: exactly the rule fields of ``kindergarten.created``, which are its frozen
#: copy (the event names the rule set in ``rule_set`` beside them).
KINDERGARTEN_RULE_FIELDS = ("benefits", "removal_reasons", "acceptance_days", "max_preferences")
DEFAULT_ACCEPTANCE_DAYS = 30
DEFAULT_MAX_PREFERENCES = 3
STATUTES_DIR = Path(__file__).with_name("statutes")


def kindergarten_rules(
    *, benefits: Any, removal_reasons: Any, acceptance_days: Any, max_preferences: Any, prefix: str = ""
) -> dict[str, Any]:
    """The queue's rules as ``kindergarten.created`` freezes them, or InvalidInput naming the field (``prefix``:
    ``rules.`` for a rule set's)."""
    for field, value, top in (("acceptance_days", acceptance_days, 365), ("max_preferences", max_preferences, 50)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise InvalidInput(f"{field} out of range", field=prefix + field, found=str(value))
    return {
        "benefits": validate_code_table(benefits, "benefit", prefix + "benefits"),
        "removal_reasons": validate_code_table(removal_reasons, "removal reason", prefix + "removal_reasons"),
        "acceptance_days": acceptance_days,
        "max_preferences": max_preferences,
    }


def validate_kindergarten_rules(rules: Any) -> dict[str, Any]:
    """A ``kindergarten`` rule set's rules: the benefit table and removal reasons (required), the acceptance days and
    the preferences (defaults 30 and 3)."""
    r = mapping(rules, "rules", KINDERGARTEN_RULE_FIELDS, ("benefits", "removal_reasons"))
    return kindergarten_rules(
        benefits=r["benefits"],
        removal_reasons=r["removal_reasons"],
        acceptance_days=r.get("acceptance_days", DEFAULT_ACCEPTANCE_DAYS),
        max_preferences=r.get("max_preferences", DEFAULT_MAX_PREFERENCES),
        prefix="rules.",
    )


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


#: Name -> the shipped example kindergarten rule set (``statutes/``), as ``hromada rules publish`` publishes it.
STATUTES: dict[str, dict[str, Any]] = read_statutes(STATUTES_DIR)
