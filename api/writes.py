"""The one way a handler writes: a domain command run at the request's time, the events it stored captured and
counted, the answer built from them, all of it idempotent per (principal, Idempotency-Key).

A handler states only what it does:

    @router.post("/{petition_id}/reject", status_code=200, response_model=Written, ...)
    def reject(petition_id: UUID, body: Reason, service: Moderator, write: Write) -> Response:
        return write(service, body, lambda app, at: app.reject_petition(by=service.actor, ..., at=at))

    @router.post("", status_code=201, response_model=PetitionCreated, ...)
    def create(body: CreatePetition, citizen: Citizen, write: Write) -> Response:
        return write(citizen, body, lambda app, at: app.create_petition(by=citizen.identity, ..., at=at),
                     lambda pid, events: PetitionCreated(petition_id=pid, events=events))

`write(principal, body, command, answer=written)`: `command(app, at)` runs the CityApp command (`at`: the
request's time, read when the command runs); `answer(result, events)` is the response model (default: just the
events); the status is the route's `status_code`. `perform` is the same for callers without a route: the writer's
command server runs signatures and votes a front process verified through it (api/serving/commands.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api import capture
from api.auth.principals import Principal
from api.idempotency import request_hash
from api.models import EventRef, Written, event_refs
from api.state import ApiState, StateDep

T = TypeVar("T")

#: (the city app, the time of the decision) -> what the command returns
Command = Callable[[Any, datetime], T]
#: (what the command returned, the events it stored) -> the answer
Answer = Callable[[T, list[EventRef]], BaseModel]


def written(_: object, events: list[EventRef]) -> Written:
    """The answer of a write that returns nothing else: its events."""
    return Written(events=events)


def run_command(state: ApiState, command: Command[T]) -> tuple[T, list[EventRef]]:
    """Run `command` on the city app at the state's clock; return its result and the events it stored."""
    with capture.capture() as stored:
        result = command(state.app, state.clock())
        refs = event_refs(state.app, stored)  # inside: reuses the bytes the save stored
    for e in stored:
        state.metrics.wrote(type(e).TYPE)
    return result, refs


def perform(
    state: ApiState,
    principal: Principal,
    idempotency_key: str | None,
    digest: bytes,
    command: Command[T],
    answer: Answer[T],
    status_code: int,
) -> Response:
    """Run `command` once per (principal, idempotency key) and answer with `answer(result, events)`."""

    def run() -> BaseModel:
        result, events = run_command(state, command)
        return answer(result, events)

    return state.idempotency.run(principal.key, idempotency_key, digest, run, status_code)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes the write idempotent: a retry with the same key and request returns the first answer.",
        max_length=200,
    ),
]


class Writer:
    """The `write` of a request (the `Write` dependency)."""

    def __init__(self, request: Request, state: ApiState, key: str | None) -> None:
        self.request = request
        self.state = state
        self.key = key

    def digest(self, body: Any) -> bytes:
        """What a retry must repeat: the method, the path and the body."""
        return request_hash(self.request.method, self.request.url.path, body)

    def __call__(self, principal: Principal, body: Any, command: Command[T], answer: Answer[T] = written) -> Response:
        """Run `command` for `principal` (the request's `body` is part of what a retry must repeat) and answer
        with the route's status code."""
        status_code: int = self.request.scope["route"].status_code or 200  # FastAPI's default when unset
        return perform(self.state, principal, self.key, self.digest(body), command, answer, status_code)


async def get_writer(request: Request, state: StateDep, key: IdempotencyKey = None) -> Writer:
    return Writer(request, state, key)


Write = Annotated[Writer, Depends(get_writer)]
