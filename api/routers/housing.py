"""Social-housing registers: a housing department opens a register with its rules, includes entries in (and
excludes them from) the first-priority and out-of-turn lists, proposes removals for missed re-registrations,
removes entries with a legal reason and allocates dwellings to the first entry of a list; citizens (or a service
for them) register and re-register. The public lists carry no personal data: entry ids and times only."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth.deps import by, scoped_or_citizen, service_scope
from api.auth.principals import Principal, ServicePrincipal
from api.models import Written, personal_data
from api.problems import problem_responses
from api.routers.housing_models import (
    AllocateDwelling,
    DwellingAllocated,
    ExcludeFromList,
    HousingEntryRegistered,
    HousingListBases,
    HousingListedEntry,
    HousingPosition,
    HousingRegister,
    HousingRegisterOpened,
    HousingRemovalsProposed,
    IncludedInList,
    IncludeInList,
    ListName,
    OpenHousingRegister,
    ProposeHousingRemovals,
    RegisterHousingEntry,
    RemoveHousingEntry,
    ReregisterHousingEntry,
    SpecialList,
)
from api.routers.queue_common import WRITE_ERRORS, CodeRow, EntryId, registrant_identity
from api.state import StateDep
from api.writes import Write
from domain.housing.order import list_order
from domain.housing.rules import HOUSING_LISTS

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {
    "name": "housing",
    "description": "Social-housing registers: lists, re-registration, removals, allocations.",
}
router = APIRouter(prefix="/v1/housing-registers", tags=[TAG["name"]])

Admin = Annotated[ServicePrincipal, Depends(service_scope("queue:housing:admin"))]
ListsService = Annotated[ServicePrincipal, Depends(service_scope("queue:housing:lists"))]
RemoveService = Annotated[ServicePrincipal, Depends(service_scope("queue:housing:remove"))]
AllocateService = Annotated[ServicePrincipal, Depends(service_scope("queue:housing:allocate"))]
Registrant = Annotated[Principal, Depends(scoped_or_citizen("queue:housing:register"))]


@router.post(
    "",
    status_code=201,
    response_model=HousingRegisterOpened,
    summary="Open a housing register with its rules (service: queue:housing:admin)",
    responses=WRITE_ERRORS,
)
def open_register(body: OpenHousingRegister, service: Admin, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.open_housing_register(
            by=service.actor,
            name=body.name,
            at=at,
            removal_reasons=[r.model_dump() for r in body.removal_reasons]
            if body.removal_reasons is not None
            else None,
            list_bases=body.list_bases.model_dump() if body.list_bases is not None else None,
            rule_set=body.rule_set,
            rule_set_version=body.rule_set_version,
        ),
        lambda rid, events: HousingRegisterOpened(register_id=rid, events=events),
    )


@router.post(
    "/{register_id}/entries",
    status_code=201,
    response_model=HousingEntryRegistered,
    summary="Register a household (citizen, or a service with queue:housing:register for an applicant)",
    responses=WRITE_ERRORS,
)
def register(register_id: UUID, body: RegisterHousingEntry, principal: Registrant, write: Write) -> Response:
    applicant = registrant_identity(principal, body.applicant)

    return write(
        principal,
        body,
        lambda app, at: app.register_housing_entry(
            by=by(principal),
            register_id=register_id,
            household_data=body.household_data,
            at=at,
            applicant=applicant,
        ),
        lambda entry, events: HousingEntryRegistered(entry=entry, events=events),
    )


@router.post(
    "/{register_id}/entries/{entry}/lists",
    status_code=201,
    response_model=IncludedInList,
    summary="Include an entry in a special list on a legal basis (service: queue:housing:lists)",
    responses=WRITE_ERRORS,
)
def include(register_id: UUID, entry: EntryId, body: IncludeInList, service: ListsService, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.include_in_list(
            by=service.actor,
            register_id=register_id,
            entry=entry,
            list_name=body.list,
            code=body.code,
            document=body.document,
            at=at,
        ),
        lambda commitment, events: IncludedInList(document_commitment=commitment, events=events),
    )


@router.post(
    "/{register_id}/entries/{entry}/lists/{list_name}/exclude",
    status_code=200,
    response_model=Written,
    summary="Exclude an entry from a special list with a reason (service: queue:housing:lists)",
    responses=WRITE_ERRORS,
)
def exclude(
    register_id: UUID,
    entry: EntryId,
    list_name: SpecialList,
    body: ExcludeFromList,
    service: ListsService,
    write: Write,
) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.exclude_from_list(
            by=service.actor,
            register_id=register_id,
            entry=entry,
            list_name=list_name,
            reason=body.reason,
            at=at,
        ),
    )


@router.post(
    "/{register_id}/entries/{entry}/reregister",
    status_code=200,
    response_model=Written,
    summary="Annual re-registration of an entry (the applicant, or a service with queue:housing:register)",
    responses=WRITE_ERRORS,
)
def reregister(
    register_id: UUID,
    entry: EntryId,
    body: ReregisterHousingEntry,
    principal: Registrant,
    write: Write,
) -> Response:
    return write(
        principal,
        body,
        lambda app, at: app.reregister_housing_entry(
            by=by(principal), register_id=register_id, entry=entry, year=body.year, at=at
        ),
    )


@router.post(
    "/{register_id}/removal-proposals",
    status_code=200,
    response_model=HousingRemovalsProposed,
    summary="Propose removing every entry that missed a year's re-registration (service: queue:housing:remove)",
    responses=WRITE_ERRORS,
)
def propose_removals(register_id: UUID, body: ProposeHousingRemovals, service: RemoveService, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.propose_housing_removals(by=service.actor, register_id=register_id, year=body.year, at=at),
        lambda entries, events: HousingRemovalsProposed(entries=entries, events=events),
    )


@router.post(
    "/{register_id}/entries/{entry}/remove",
    status_code=200,
    response_model=Written,
    summary="Remove an entry with a legal reason (service: queue:housing:remove)",
    responses=WRITE_ERRORS,
)
def remove(
    register_id: UUID, entry: EntryId, body: RemoveHousingEntry, service: RemoveService, write: Write
) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.remove_housing_entry(
            by=service.actor,
            register_id=register_id,
            entry=entry,
            reason_code=body.reason_code,
            at=at,
        ),
    )


@router.post(
    "/{register_id}/allocations",
    status_code=201,
    response_model=DwellingAllocated,
    summary="Allocate a dwelling to the first entry of a list (service: queue:housing:allocate)",
    responses=WRITE_ERRORS,
)
def allocate(register_id: UUID, body: AllocateDwelling, service: AllocateService, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.allocate_dwelling(
            by=service.actor,
            register_id=register_id,
            list_name=body.list,
            dwelling=body.dwelling,
            entry=body.entry,
            at=at,
        ),
        lambda entry, events: DwellingAllocated(entry=entry, events=events),
    )


@router.get(
    "/{register_id}",
    response_model=HousingRegister,
    summary="A housing register, its frozen rules and counts",
    responses=problem_responses(404),
)
def read(register_id: UUID, state: StateDep) -> HousingRegister:
    s = state.app.get_housing_register(register_id).state
    statuses = [e["status"] for e in s["entries"].values()]
    return HousingRegister(
        id=register_id,
        name=s["name"],
        removal_reasons=[CodeRow(**r) for r in s["removal_reasons"]],
        list_bases=HousingListBases(**s["list_bases"]),
        rule_set=s.get("rule_set"),
        registrations=s["registrations"],
        active=statuses.count("active"),
        allocated=statuses.count("allocated"),
        lists={name: len(list_order(s, name)) for name in HOUSING_LISTS},
    )


@router.get(
    "/{register_id}/lists/{list_name}",
    response_model=list[HousingListedEntry],
    summary="The public ordered list (general, first_priority or out_of_turn); no personal data",
    responses=problem_responses(404, 422),
)
def public_list(
    register_id: UUID,
    list_name: ListName,
    state: StateDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[HousingListedEntry]:
    s = state.app.get_housing_register(register_id).state
    order = list_order(s, list_name)
    return [
        _listed(offset + i + 1, eid, s["entries"][eid], list_name)
        for i, eid in enumerate(order[offset : offset + limit])
    ]


def _listed(position: int, entry: str, e: dict[str, Any], list_name: str) -> HousingListedEntry:
    return HousingListedEntry(
        position=position,
        entry=entry,
        registered_at=e["registered_at"],
        included_at=None if list_name == "general" else e["lists"][list_name]["included_at"],
        removal_proposed=bool(e["proposed"]),
    )


@router.get(
    "/{register_id}/entries/{entry}/position",
    response_model=HousingPosition,
    summary="An entry's status and its position in each list it is in",
    responses=problem_responses(404),
)
def position(register_id: UUID, entry: EntryId, state: StateDep) -> HousingPosition:
    reg = state.app.get_housing_register(register_id)
    e = reg.entry(entry)
    positions = {}
    if e["status"] == "active":
        for name in HOUSING_LISTS:
            order = list_order(reg.state, name)
            if entry in order:
                positions[name] = order.index(entry) + 1
    return HousingPosition(
        entry=entry,
        status=e["status"],
        registered_at=e["registered_at"],
        positions=positions,
        included_at={name: inc["included_at"] for name, inc in e["lists"].items()},
        reregistered=e["reregistered"],
        removal_proposed=e["proposed"],
        removal_reason=e.get("removal_reason"),
        allocated_from=e.get("allocated_from"),
        dwelling=e.get("dwelling"),
        personal_data=personal_data(state.app, state.app.housing_subject(entry)),
    )
