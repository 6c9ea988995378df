"""Kindergarten queues: services create queues, grant benefits, issue offers and remove entries; citizens (or a
service for them) register, change preferences, accept or decline offers and withdraw. The public ordered list
carries no personal data: entry ids, benefit rank, registration time and whether an offer is pending."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.auth.deps import by, scoped_or_citizen, service_scope
from api.auth.principals import Principal, ServicePrincipal
from api.models import Written, personal_data
from api.problems import problem_responses
from api.routers.kindergarten_models import (
    BenefitGranted,
    CreateQueue,
    EntryRegistered,
    GrantBenefit,
    IssueOffer,
    ListedEntry,
    OfferIssued,
    Position,
    Preferences,
    Queue,
    QueueCreated,
    RegisterEntry,
    RemoveEntry,
    RevokeBenefit,
)
from api.routers.queue_common import WRITE_ERRORS, EntryId, registrant_identity
from api.state import StateDep
from api.writes import Write

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {
    "name": "queues",
    "description": "Kindergarten queues: entries, benefits, offers; the public order.",
}
router = APIRouter(prefix="/v1/queues", tags=[TAG["name"]])

Admin = Annotated[ServicePrincipal, Depends(service_scope("queue:kindergarten:admin"))]
BenefitService = Annotated[ServicePrincipal, Depends(service_scope("queue:kindergarten:benefit"))]
OfferService = Annotated[ServicePrincipal, Depends(service_scope("queue:kindergarten:offer"))]
RemoveService = Annotated[ServicePrincipal, Depends(service_scope("queue:kindergarten:remove"))]
Registrant = Annotated[Principal, Depends(scoped_or_citizen("queue:kindergarten:register"))]
OfferParty = Annotated[Principal, Depends(scoped_or_citizen("queue:kindergarten:offer"))]
OfferId = Annotated[str, Path(min_length=1, max_length=64, description="Offer id (from the offer)")]


@router.post(
    "",
    status_code=201,
    response_model=QueueCreated,
    summary="Create a kindergarten queue with its rules (service: queue:kindergarten:admin)",
    responses=WRITE_ERRORS,
)
def create(body: CreateQueue, service: Admin, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.create_kindergarten_queue(
            by=service.actor,
            name=body.name,
            institutions=body.institutions,
            at=at,
            benefits=[b.model_dump() for b in body.benefits] if body.benefits is not None else None,
            removal_reasons=[r.model_dump() for r in body.removal_reasons]
            if body.removal_reasons is not None
            else None,
            acceptance_days=body.acceptance_days,
            max_preferences=body.max_preferences,
            rule_set=body.rule_set,
            rule_set_version=body.rule_set_version,
        ),
        lambda qid, events: QueueCreated(queue_id=qid, events=events),
    )


@router.post(
    "/{queue_id}/entries",
    status_code=201,
    response_model=EntryRegistered,
    summary="Register a child (citizen, or a service with queue:kindergarten:register for an applicant)",
    responses=WRITE_ERRORS,
)
def register(queue_id: UUID, body: RegisterEntry, principal: Registrant, write: Write) -> Response:
    applicant = registrant_identity(principal, body.applicant)

    return write(
        principal,
        body,
        lambda app, at: app.register_kindergarten_entry(
            by=by(principal),
            queue_id=queue_id,
            child_key=body.child_key,
            child_data=body.child_data,
            birth_year=body.birth_year,
            institutions=body.institutions,
            at=at,
            applicant=applicant,
        ),
        lambda entry, events: EntryRegistered(entry=entry, events=events),
    )


@router.post(
    "/{queue_id}/entries/{entry}/benefits",
    status_code=201,
    response_model=BenefitGranted,
    summary="Grant a benefit (service: queue:kindergarten:benefit)",
    responses=WRITE_ERRORS,
)
def grant_benefit(
    queue_id: UUID, entry: EntryId, body: GrantBenefit, service: BenefitService, write: Write
) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.grant_benefit(
            by=service.actor,
            queue_id=queue_id,
            entry=entry,
            code=body.code,
            document=body.document,
            at=at,
        ),
        lambda commitment, events: BenefitGranted(document_commitment=commitment, events=events),
    )


@router.post(
    "/{queue_id}/entries/{entry}/benefits/{code}/revoke",
    status_code=200,
    response_model=Written,
    summary="Revoke a benefit (service: queue:kindergarten:benefit)",
    responses=WRITE_ERRORS,
)
def revoke_benefit(
    queue_id: UUID,
    entry: EntryId,
    code: Annotated[str, Path(min_length=1, max_length=64)],
    body: RevokeBenefit,
    service: BenefitService,
    write: Write,
) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.revoke_benefit(
            by=service.actor, queue_id=queue_id, entry=entry, code=code, reason=body.reason, at=at
        ),
    )


@router.put(
    "/{queue_id}/entries/{entry}/preferences",
    status_code=200,
    response_model=Written,
    summary="Change preferred institutions (the applicant, or a service)",
    responses=WRITE_ERRORS,
)
def change_preferences(
    queue_id: UUID, entry: EntryId, body: Preferences, principal: Registrant, write: Write
) -> Response:
    return write(
        principal,
        body,
        lambda app, at: app.change_preferences(
            by=by(principal), queue_id=queue_id, entry=entry, institutions=body.institutions, at=at
        ),
    )


@router.post(
    "/{queue_id}/offers",
    status_code=201,
    response_model=OfferIssued,
    summary="Offer a place to the first eligible entry (service: queue:kindergarten:offer)",
    responses=WRITE_ERRORS,
)
def issue_offer(queue_id: UUID, body: IssueOffer, service: OfferService, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.issue_offer(
            by=service.actor,
            queue_id=queue_id,
            institution=body.institution,
            birth_year=body.birth_year,
            place=body.place,
            entry=body.entry,
            at=at,
        ),
        lambda offer, events: OfferIssued(offer=offer, events=events),
    )


@router.post(
    "/{queue_id}/offers/{offer}/accept",
    status_code=200,
    response_model=Written,
    summary="Accept an offer (the applicant, or a service)",
    responses=WRITE_ERRORS,
)
def accept_offer(queue_id: UUID, offer: OfferId, principal: OfferParty, write: Write) -> Response:
    return write(
        principal,
        None,
        lambda app, at: app.accept_offer(by=by(principal), queue_id=queue_id, offer=offer, at=at),
    )


@router.post(
    "/{queue_id}/offers/{offer}/decline",
    status_code=200,
    response_model=Written,
    summary="Decline an offer (the applicant, or a service)",
    responses=WRITE_ERRORS,
)
def decline_offer(queue_id: UUID, offer: OfferId, principal: OfferParty, write: Write) -> Response:
    return write(
        principal,
        None,
        lambda app, at: app.decline_offer(by=by(principal), queue_id=queue_id, offer=offer, at=at),
    )


@router.post(
    "/{queue_id}/entries/{entry}/withdraw",
    status_code=200,
    response_model=Written,
    summary="Withdraw an entry (the applicant, or a service)",
    responses=WRITE_ERRORS,
)
def withdraw(queue_id: UUID, entry: EntryId, principal: Registrant, write: Write) -> Response:
    return write(
        principal,
        None,
        lambda app, at: app.withdraw_entry(by=by(principal), queue_id=queue_id, entry=entry, at=at),
    )


@router.post(
    "/{queue_id}/entries/{entry}/remove",
    status_code=200,
    response_model=Written,
    summary="Remove an entry with a legal reason (service: queue:kindergarten:remove)",
    responses=WRITE_ERRORS,
)
def remove(queue_id: UUID, entry: EntryId, body: RemoveEntry, service: RemoveService, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.remove_entry(
            by=service.actor, queue_id=queue_id, entry=entry, reason_code=body.reason_code, at=at
        ),
    )


@router.get(
    "/{queue_id}", response_model=Queue, summary="A queue and its frozen rules", responses=problem_responses(404)
)
def read(queue_id: UUID, state: StateDep) -> Queue:
    s = state.app.get_kindergarten_queue(queue_id).state
    return Queue(
        id=queue_id,
        name=s["name"],
        institutions=s["institutions"],
        benefits=s["benefits"],
        removal_reasons=s["removal_reasons"],
        acceptance_days=s["acceptance_days"],
        max_preferences=s["max_preferences"],
        rule_set=s.get("rule_set"),
        registrations=s["registrations"],
        waiting=sum(1 for e in s["entries"].values() if e["status"] == "waiting"),
        offers_issued=s["offers_issued"],
    )


@router.get(
    "/{queue_id}/list",
    response_model=list[ListedEntry],
    summary="The public ordered list of one group (institution, birth year); no personal data",
    responses=problem_responses(404, 422),
)
def public_list(
    queue_id: UUID,
    state: StateDep,
    institution: Annotated[str, Query(min_length=1, max_length=64)],
    birth_year: Annotated[int, Query(ge=1900, le=2200)],
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[ListedEntry]:
    rows = state.app.kindergarten_list(queue_id, institution, birth_year)
    return [ListedEntry(**r) for r in rows[offset : offset + limit]]


@router.get(
    "/{queue_id}/entries/{entry}/position",
    response_model=Position,
    summary="An entry's status and position in each of its groups",
    responses=problem_responses(404),
)
def position(queue_id: UUID, entry: EntryId, state: StateDep) -> Position:
    q = state.app.get_kindergarten_queue(queue_id)
    e = q.entry(entry)
    positions = state.app.entry_positions(queue_id, entry)
    offer = None
    if e["offer"] is not None:
        o = q.offer(e["offer"])
        offer = {
            "offer": e["offer"],
            "institution": o["institution"],
            "place": o["place"],
            "expires_at": o["expires_at"],
        }
    return Position(
        entry=entry,
        status=e["status"],
        birth_year=e["birth_year"],
        registered_at=e["registered_at"],
        positions=positions,
        offer=offer,
        personal_data=personal_data(state.app, state.app.kindergarten_subject(entry)),
    )
