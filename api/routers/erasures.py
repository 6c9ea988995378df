"""Erasure of personal data: a service holding `pii:erase` crypto-shreds a vault subject (an entry's personal data);
the log records it (`personal_data.erased`, only the subject and a reason code) and anyone can see that it happened.

The data itself was never public; what the public views show afterwards is that it is gone ("erased")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.auth.deps import service_scope
from api.auth.principals import ServicePrincipal
from api.problems import problem_responses
from api.routers.erasures_models import SUBJECT, Erase, Erased, Erasure
from api.state import StateDep
from api.writes import Write

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "erasures", "description": "Erasure of personal data from the vault, as the log records it."}
router = APIRouter(prefix="/v1/erasures", tags=[TAG["name"]])

Eraser = Annotated[ServicePrincipal, Depends(service_scope("pii:erase"))]


@router.post(
    "",
    status_code=201,
    response_model=Erased,
    summary="Erase a subject's personal data (service: pii:erase)",
    responses=problem_responses(401, 403, 404, 410, 422, 429),
)
def erase(body: Erase, service: Eraser, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.erase_personal_data(body.subject, by=service.actor, reason=body.reason, at=at),
        lambda done, events: Erased(**done, events=events),
    )


@router.get(
    "/{subject}",
    response_model=Erasure,
    summary="The logged erasure of a subject (404: its data was not erased)",
    responses=problem_responses(404, 422),
)
def read(subject: Annotated[str, Path(pattern=SUBJECT)], state: StateDep) -> Erasure:
    return Erasure(**state.app.erasure(subject))
