"""The registry of kinds: one row per kind of aggregate, each built in its context's ``kind.py``.

Everything in the domain that needs the list of kinds reads it here: the authorisation table (the union of the
rows' permissions), the projections (which fold a stream gets, what ``state.json`` holds), the application
(snapshot intervals, the aggregates changed under guard). :data:`EVENTS` is the catalogue an independent
implementation (the verifier) is compared against: per event type its kind, ``data`` fields and permission.

Adding a kind: its package ``domain/<context>/`` with its ``kind.py``, and one line in :data:`KINDS`
(docs/domain.md "Adding a kind of aggregate").
"""

from __future__ import annotations

from domain.ballots.kind import KIND as BALLOTS
from domain.housing.kind import KIND as HOUSING
from domain.identity import Permission
from domain.kindergarten.kind import KIND as KINDERGARTEN
from domain.personal_data.kind import KIND as PERSONAL_DATA
from domain.petitions.kind import KIND as PETITIONS
from domain.registry import EventSpec, Kind, check_registry, event_specs
from domain.rulesets.kind import KIND as RULESETS
from domain.services.kind import KIND as SERVICES

#: Every kind, in the order ``state.json`` lists their parts.
KINDS: tuple[Kind, ...] = (SERVICES, RULESETS, PETITIONS, BALLOTS, KINDERGARTEN, HOUSING, PERSONAL_DATA)
check_registry(KINDS)

BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
#: Every prefix, current or legacy, -> its kind.
BY_PREFIX: dict[str, Kind] = {p: k for k in KINDS for p in k.prefixes}

#: Event type -> who may cause it (docs/domain.md "Actors and authorisation"): the union of the rows.
AUTHORISATION: dict[str, Permission] = {t: p for k in KINDS for t, p in k.permissions.items()}

#: Event type -> its kind, ``data`` fields and permission.
EVENTS: dict[str, EventSpec] = event_specs(KINDS)


def kind_of(event_type: str) -> Kind | None:
    """The kind of an event type, by its prefix (a legacy prefix names its kind too); None if unknown."""
    return BY_PREFIX.get(event_type.split(".", 1)[0])


def data_fields_by_type() -> dict[str, tuple[str, ...]]:
    """Event type -> its ``data`` field names (what the verifier's ``DATA_FIELDS`` must equal)."""
    return {t: spec.data_fields for t, spec in EVENTS.items()}
