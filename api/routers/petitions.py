"""Petitions: citizens create and sign; services moderate, respond and close; anyone reads."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth.deps import Citizen, service_scope
from api.auth.principals import CitizenPrincipal, ServicePrincipal
from api.models import Written
from api.problems import problem_responses
from api.routers.petitions_models import (
    CreatePetition,
    Petition,
    PetitionCreated,
    PetitionSummary,
    Reason,
    ResponseText,
    Signed,
)
from api.state import ApiState, StateDep
from api.writes import Write, perform
from domain.errors import CustomRulesRefused, InvalidInput

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "petitions", "description": "Electronic petitions: create, moderate, sign, respond."}
router = APIRouter(prefix="/v1/petitions", tags=[TAG["name"]])

Moderator = Annotated[ServicePrincipal, Depends(service_scope("petition:moderate"))]
Responder = Annotated[ServicePrincipal, Depends(service_scope("petition:respond"))]
Closer = Annotated[ServicePrincipal, Depends(service_scope("petition:close"))]
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422, 429)


def _view(state: StateDep, petition_id: UUID) -> Petition:
    p = state.app.get_petition(petition_id)
    s = p.state
    return Petition(
        id=petition_id,
        title=s["title"],
        text=s["text"],
        status=s["status"],
        author=s["author"],
        signatures=state.app.signature_count(petition_id),
        threshold=s["rules"]["threshold"],
        threshold_reached=s["threshold_reached"],
        created_at=s["created_at"],
        published_at=s.get("published_at"),
        deadline=s.get("deadline"),
        response_due=s.get("due_date"),
        responded=s["responded"],
        responded_at=s.get("responded_at"),
        response_on_time=s.get("on_time"),
        response_overdue_at=s.get("response_overdue_at"),
        rejected_reason=s.get("reason"),
        closed_at=s.get("closed_at"),
        rules=s["rules"],
        rule_set=s.get("rule_set"),
    )


@router.post(
    "", status_code=201, response_model=PetitionCreated, summary="Create a petition (citizen)", responses=WRITE_ERRORS
)
def create(body: CreatePetition, citizen: Citizen, write: Write) -> Response:
    if body.rules is not None:
        raise CustomRulesRefused(
            "a petition's rules are the city's: name one of its published rule sets (rule_set), not rules",
            rule_set=body.rule_set,
        )
    if body.rule_set is None:
        raise InvalidInput("a petition names one of the city's published rule sets (rule_set)")
    rule_set = body.rule_set
    return write(
        citizen,
        body,
        lambda app, at: app.create_petition(
            by=citizen.identity,
            title=body.title,
            text=body.text,
            rule_set=rule_set,
            rule_set_version=body.rule_set_version,
            at=at,
        ),
        lambda pid, events: PetitionCreated(petition_id=pid, events=events),
    )


@router.post(
    "/{petition_id}/publish",
    status_code=200,
    response_model=Written,
    summary="Publish after moderation (service: petition:moderate)",
    responses=WRITE_ERRORS,
)
def publish(petition_id: UUID, service: Moderator, write: Write) -> Response:
    return write(service, None, lambda app, at: app.publish_petition(by=service.actor, petition_id=petition_id, at=at))


@router.post(
    "/{petition_id}/reject",
    status_code=200,
    response_model=Written,
    summary="Reject in moderation (service: petition:moderate)",
    responses=WRITE_ERRORS,
)
def reject(petition_id: UUID, body: Reason, service: Moderator, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.reject_petition(by=service.actor, petition_id=petition_id, reason=body.reason, at=at),
    )


@router.post(
    "/{petition_id}/signatures",
    status_code=201,
    response_model=Signed,
    summary="Sign (citizen; once per citizen)",
    responses=WRITE_ERRORS,
)
def sign(petition_id: UUID, citizen: Citizen, state: StateDep, write: Write) -> Response:
    return sign_petition(state, citizen, petition_id, write.key, write.digest(None))


def sign_petition(
    state: ApiState, citizen: CitizenPrincipal, petition_id: UUID, idempotency_key: str | None, digest: bytes
) -> Response:
    """A signature by a verified citizen. The route above calls it, and so does the writer's command server
    for a signature a front process verified (api/serving/commands.py): one code path either way."""
    return perform(
        state,
        citizen,
        idempotency_key,
        digest,
        lambda app, at: app.sign_petition(by=citizen.identity, petition_id=petition_id, at=at),
        lambda _, events: Signed(
            petition_id=petition_id, signatures=state.app.signature_count(petition_id), events=events
        ),
        201,
    )


@router.post(
    "/{petition_id}/response",
    status_code=200,
    response_model=Written,
    summary="The city's official response (service: petition:respond)",
    responses=WRITE_ERRORS,
)
def respond(petition_id: UUID, body: ResponseText, service: Responder, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.respond_to_petition(
            by=service.actor, petition_id=petition_id, response=body.response, at=at
        ),
    )


@router.post(
    "/{petition_id}/close",
    status_code=200,
    response_model=Written,
    summary="Close after the deadline (service: petition:close)",
    responses=WRITE_ERRORS,
)
def close(petition_id: UUID, service: Closer, write: Write) -> Response:
    return write(service, None, lambda app, at: app.close_petition(by=service.actor, petition_id=petition_id, at=at))


@router.get(
    "/{petition_id}",
    response_model=Petition,
    summary="A petition with its count, status and dates",
    responses=problem_responses(404),
)
def read(petition_id: UUID, state: StateDep) -> Petition:
    return _view(state, petition_id)


@router.get("", response_model=list[PetitionSummary], summary="Petitions (newest first)")
def list_petitions(
    state: StateDep,
    status: Annotated[Literal["pending", "published", "rejected", "closed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PetitionSummary]:
    projections = state.app.projections
    with projections._lock:  # the projections are fed by concurrent writers
        items = sorted(projections.of_kind("petition").items(), key=lambda kv: kv[1]["created_at"], reverse=True)
    out = []
    for pid, s in items:
        if status is not None and s["status"] != status:
            continue
        out.append(
            PetitionSummary(
                id=UUID(pid),
                title=s["title"],
                status=s["status"],
                signatures=state.app.signature_count(UUID(pid)),
                threshold=s["rules"]["threshold"],
                deadline=s.get("deadline"),
            )
        )
        if len(out) >= limit:
            break
    return out
