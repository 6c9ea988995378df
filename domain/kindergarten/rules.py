"""Kindergarten queue tables frozen into ``kindergarten.created``: the ordered benefit table and the removal reasons.

The example tables follow the structure of city queue regulations (an ordered list of categories, each citing the
statute it rests on); each city's legal department must confirm its own table before use.
"""

from __future__ import annotations

from typing import Any

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
