"""Request and response bodies of the petition endpoints (`api/routers/petitions.py`)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.models import Body, ShortText, Text, Written
from api.routers.rulesets_models import FrozenFrom


class CreatePetition(Body):
    title: Annotated[str, Field(min_length=1, max_length=500, examples=["Велодоріжка на Подолі"])]
    text: Annotated[Text, Field(examples=["Прошу облаштувати велодоріжку вздовж набережної."])]
    rule_set: Annotated[
        str | None,
        Field(
            pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
            description="One of the city's published rule sets (`GET /v1/rule-sets`), frozen into the petition.",
        ),
    ] = "kyiv"
    rule_set_version: Annotated[
        int | None, Field(ge=1, le=1_000_000, description="Its version; the latest when omitted.")
    ] = None
    rules: Annotated[
        dict[str, Any] | None,
        Field(
            description="Refused (422 `custom-rules-refused`): a petition's rules are the city's statute, not the "
            "petition's; name a published `rule_set`."
        ),
    ] = None


class PetitionCreated(Written):
    petition_id: UUID


class Reason(Body):
    reason: Annotated[ShortText, Field(examples=["Не належить до компетенції міської ради"])]


class ResponseText(Body):
    response: Annotated[Text, Field(examples=["Велодоріжку включено до плану на 2027 рік."])]


class Petition(BaseModel):
    id: UUID
    title: str
    text: str
    status: str = Field(description="pending | published | rejected | closed")
    author: str = Field(description="The author's pseudonym")
    signatures: int
    threshold: int
    threshold_reached: bool
    created_at: str
    published_at: str | None = None
    deadline: str | None = Field(default=None, description="Signatures are accepted before this instant")
    response_due: str | None = Field(default=None, description="ISO date by which the city must respond")
    responded: bool
    responded_at: str | None = None
    response_on_time: bool | None = None
    response_overdue_at: str | None = Field(
        default=None, description="When the clock recorded that the response period ran out (petition.response_overdue)"
    )
    rejected_reason: str | None = None
    closed_at: str | None = None
    rules: dict[str, Any]
    rule_set: FrozenFrom = None


class PetitionSummary(BaseModel):
    id: UUID
    title: str
    status: str
    signatures: int
    threshold: int
    deadline: str | None


class Signed(Written):
    petition_id: UUID
    signatures: int
