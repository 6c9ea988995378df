"""Housing register tables frozen into ``housing.register_opened`` (removal reasons, list bases) and its fixed codes.

The example tables follow the Housing Code of Ukraine (art. 40, 45, 46); each city must confirm its own before use.
"""

from __future__ import annotations

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
