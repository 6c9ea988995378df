"""City services: an operator's service (`service:admin`) revokes a service or changes its scopes; anyone reads one.

Each change is an event of the log (`service.revoked`, `service.scopes_changed`): the verifier refuses every later
event of a revoked service. Revoking also revokes the service's API keys here (api/auth/keys.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.auth.deps import service_scope
from api.auth.keys import revoke_service_keys
from api.auth.principals import ServicePrincipal
from api.models import Written
from api.problems import problem_responses
from api.routers.services_models import SERVICE_ID, ChangeScopes, RevokeService, ServiceRevokedAnswer, ServiceView
from api.state import StateDep
from api.writes import Write
from domain.errors import NotFound, ServiceNotRegistered

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "services", "description": "City services: their scopes and revocation (service:admin)."}
router = APIRouter(prefix="/v1/services", tags=[TAG["name"]])

Admin = Annotated[ServicePrincipal, Depends(service_scope("service:admin"))]
ServicePath = Annotated[str, Path(pattern=SERVICE_ID, examples=["city.education"])]


@router.post(
    "/{service}/revoke",
    status_code=200,
    response_model=ServiceRevokedAnswer,
    summary="Revoke a service and its API keys (service: service:admin)",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def revoke(service: ServicePath, body: RevokeService, admin: Admin, state: StateDep, write: Write) -> Response:
    def command(app: Any, at: datetime) -> int:
        app.revoke_service(by=admin.actor, service=service, reason=body.reason, at=at)
        revoked = revoke_service_keys(state.ledger.engine, service)
        state.keys.forget_service(service)
        return revoked

    return write(
        admin,
        body,
        command,
        lambda keys, events: ServiceRevokedAnswer(service=service, keys_revoked=keys, events=events),
    )


@router.put(
    "/{service}/scopes",
    status_code=200,
    response_model=Written,
    summary="Replace the scopes a service holds in the log (service: service:admin)",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def change_scopes(service: ServicePath, body: ChangeScopes, admin: Admin, write: Write) -> Response:
    scopes = body.scopes
    return write(
        admin, body, lambda app, at: app.change_service_scopes(by=admin.actor, service=service, scopes=scopes, at=at)
    )


@router.get(
    "/{service}",
    response_model=ServiceView,
    summary="A registered service: its scopes and whether it was revoked",
    responses=problem_responses(404, 422),
)
def read(service: ServicePath, state: StateDep) -> ServiceView:
    try:
        s = state.app.get_service(service).state
    except ServiceNotRegistered:
        raise NotFound("no such service", service=service) from None
    return ServiceView(
        service=s["service"],
        name=s["name"],
        scopes=list(s["scopes"]),
        registered_at=s["registered_at"],
        revoked=bool(s["revoked"]),
        revoked_at=s.get("revoked_at"),
    )
