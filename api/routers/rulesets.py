"""Rule sets: the city's versioned statutes (a `rules:admin` service publishes them); anyone reads them.

Petitions, kindergarten queues, housing registers and ballots name one of them (`rule_set`, `rule_set_version`): a
citizen never writes a petition's rules, and from a city's first rule set for a kind on no opening of that kind writes
its rules inline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.auth.deps import service_scope
from api.auth.principals import ServicePrincipal
from api.problems import problem_responses
from api.routers.rulesets_models import PublishRuleSet, RuleSet, RuleSetName, RuleSetPublished
from api.state import StateDep
from api.writes import Write

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {
    "name": "rule-sets",
    "description": "The city's published rule sets (statutes) that petitions, queues and ballots name.",
}
router = APIRouter(prefix="/v1/rule-sets", tags=[TAG["name"]])

Admin = Annotated[ServicePrincipal, Depends(service_scope("rules:admin"))]


def _view(state: StateDep, name: str, version: int | None) -> RuleSet:
    return RuleSet(**state.app.get_rule_set(name, version).as_dict())


@router.post(
    "",
    status_code=201,
    response_model=RuleSetPublished,
    summary="Publish a version of a rule set (service: rules:admin)",
    responses=problem_responses(401, 403, 409, 422, 429),
)
def publish(body: PublishRuleSet, service: Admin, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.publish_rule_set(by=service.actor, **body.model_dump(), at=at),
        lambda ref, events: RuleSetPublished(ruleset=ref["name"], version=ref["version"], events=events),
    )


@router.get("", response_model=list[RuleSet], summary="Every published rule set, latest version of each")
def list_rule_sets(state: StateDep) -> list[RuleSet]:
    with state.app.projections._lock:  # the projections are fed by concurrent writers
        latest = sorted(state.app.projections.rule_sets.items())
    return [_view(state, name, version) for name, version in latest]


@router.get(
    "/{name}", response_model=RuleSet, summary="The latest version of a rule set", responses=problem_responses(422)
)
def read_latest(name: Annotated[str, Path(max_length=64)], state: StateDep) -> RuleSet:
    return _view(state, name, None)


@router.get(
    "/{name}/{version}", response_model=RuleSet, summary="One version of a rule set", responses=problem_responses(422)
)
def read(name: RuleSetName, version: Annotated[int, Path(ge=1, le=1_000_000)], state: StateDep) -> RuleSet:
    return _view(state, name, version)
