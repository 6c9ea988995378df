"""What the kindergarten queue and the housing register routers share: the code-table row of frozen rule sets,
the applicant a service registers for, path parameters and the problems a write may answer with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from api.auth.principals import CitizenPrincipal, Principal
from api.problems import problem_responses
from domain.errors import InvalidInput, NotAuthorised
from domain.identity import CitizenIdentity

WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422, 429)
EntryId = Annotated[str, Path(min_length=1, max_length=64, description="Entry id (from the registration)")]
Code = Annotated[str, Field(min_length=1, max_length=64)]


class CodeRow(BaseModel):
    code: Code
    title: Annotated[str, Field(min_length=1, max_length=500)]
    statute: Annotated[str, Field(min_length=1, max_length=500)]


class Applicant(BaseModel):
    subject: Annotated[str, Field(min_length=1, max_length=512, description="Identity provider subject, e.g. diia:…")]
    method: Annotated[str, Field(min_length=1, max_length=32, examples=["cnap"])]


def registrant_identity(principal: Principal, applicant: Applicant | None) -> CitizenIdentity | None:
    """The applicant a registration is for: a citizen registers only for themself (None: the domain takes the
    citizen); a service must name the applicant."""
    if isinstance(principal, CitizenPrincipal):
        if applicant is not None:
            raise NotAuthorised("a citizen registers only for themself")
        return None
    if applicant is None:
        raise InvalidInput("a service registering an entry must name the applicant")
    return CitizenIdentity(subject=applicant.subject, method=applicant.method)
