"""Housing register tables frozen into ``housing.register_opened`` (removal reasons, list bases), their validation
(shared by a register opened with inline tables and a ``housing`` rule set a ``rules:admin`` service publishes,
domain/rulesets/) and the register's fixed codes.

The example tables follow the Housing Code of Ukraine (art. 40, 45, 46); each city must confirm its own before use.
The shipped example rule set is ``statutes/housing-code.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from domain.checks import mapping, validate_code_table
from domain.errors import InvalidInput
from domain.statutes import read_statutes

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

#: Why an entry leaves a special list (``housing.list_excluded`` ``reason``).
LIST_EXCLUSION_REASONS = ["basis_ended", "granted_in_error", "document_invalid"]
#: The only reason of ``housing.removal_proposed``.
REREGISTRATION_MISSED = "reregistration_missed"

#: The fields of a housing rule set: exactly the rule fields of ``housing.register_opened``, which are its frozen copy
#: (the event names the rule set in ``rule_set`` beside them).
HOUSING_RULE_FIELDS = ("removal_reasons", "list_bases")
STATUTES_DIR = Path(__file__).with_name("statutes")


def housing_rules(*, removal_reasons: Any, list_bases: Any, prefix: str = "") -> dict[str, Any]:
    """The register's tables as ``housing.register_opened`` freezes them, or InvalidInput naming the field
    (``prefix``: ``rules.`` for a rule set's)."""
    if not isinstance(list_bases, Mapping) or set(list_bases) != set(HOUSING_LISTS) - {"general"}:
        found = sorted(map(str, list_bases)) if isinstance(list_bases, Mapping) else type(list_bases).__name__
        raise InvalidInput(
            "list_bases must define first_priority and out_of_turn", field=prefix + "list_bases", found=found
        )
    return {
        "removal_reasons": validate_code_table(removal_reasons, "removal reason", prefix + "removal_reasons"),
        "list_bases": {
            k: validate_code_table(v, f"{k} basis", f"{prefix}list_bases.{k}") for k, v in sorted(list_bases.items())
        },
    }


def validate_housing_rules(rules: Any) -> dict[str, Any]:
    """A ``housing`` rule set's rules: the removal reasons and the bases of the two special lists (both required)."""
    r = mapping(rules, "rules", HOUSING_RULE_FIELDS, HOUSING_RULE_FIELDS)
    return housing_rules(removal_reasons=r["removal_reasons"], list_bases=r["list_bases"], prefix="rules.")


#: Name -> the shipped example housing rule set (``statutes/``), as ``hromada rules publish`` publishes it.
STATUTES: dict[str, dict[str, Any]] = read_statutes(STATUTES_DIR)
