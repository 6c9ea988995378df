"""Request and response bodies of the kindergarten queue endpoints (`api/routers/kindergarten.py`)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.models import Body, FlatData, PersonalData, Written
from api.routers.queue_common import Applicant, Code, CodeRow
from api.routers.rulesets_models import FrozenFrom, RuleSetReference, RuleSetVersion

Inst = Annotated[str, Field(min_length=1, max_length=64)]


class CreateQueue(Body):
    name: Annotated[str, Field(min_length=1, max_length=300, examples=["Дитсадки Подільського району"])]
    institutions: Annotated[list[Inst], Field(min_length=1, max_length=500, examples=[["ds-12", "ds-40"]])]
    rule_set: RuleSetReference = None
    rule_set_version: RuleSetVersion = None
    benefits: Annotated[
        list[CodeRow] | None,
        Field(description="Ordered benefit table; default: the shipped example. Only without `rule_set`."),
    ] = None
    removal_reasons: Annotated[
        list[CodeRow] | None,
        Field(description="Removal reasons; default: the shipped example. Only without `rule_set`."),
    ] = None
    acceptance_days: Annotated[int | None, Field(ge=1, le=365, description="Default 30. Only without `rule_set`.")] = (
        None
    )
    max_preferences: Annotated[int | None, Field(ge=1, le=20, description="Default 3. Only without `rule_set`.")] = None


class QueueCreated(Written):
    queue_id: UUID


class RegisterEntry(Body):
    child_key: Annotated[
        str, Field(min_length=1, max_length=128, description="Birth certificate number (pseudonymised)")
    ]
    child_data: Annotated[
        FlatData,
        Field(
            description="Personal data for the vault; the log holds its commitment",
            examples=[{"name": "Марія", "birth_date": "2023-04-01"}],
        ),
    ]
    birth_year: Annotated[int, Field(ge=1900, le=2200)]
    institutions: Annotated[list[Inst], Field(min_length=1, max_length=20)]
    applicant: Annotated[Applicant | None, Field(description="When a service registers for a citizen")] = None


class EntryRegistered(Written):
    entry: str


class GrantBenefit(Body):
    code: Code
    document: Annotated[FlatData, Field(description="The supporting document (vault); the log holds its commitment")]


class BenefitGranted(Written):
    document_commitment: str


class RevokeBenefit(Body):
    reason: Annotated[str, Field(min_length=1, max_length=64, examples=["document_expired"])]


class Preferences(Body):
    institutions: Annotated[list[Inst], Field(min_length=1, max_length=20)]


class IssueOffer(Body):
    institution: Inst
    birth_year: Annotated[int, Field(ge=1900, le=2200)]
    place: Annotated[str, Field(min_length=1, max_length=64, examples=["room-2/seat-7"])]
    entry: Annotated[str | None, Field(max_length=64, description="Optional: must be the first eligible entry")] = None


class OfferIssued(Written):
    offer: str


class RemoveEntry(Body):
    reason_code: Code


class Queue(BaseModel):
    id: UUID
    name: str
    institutions: list[str]
    benefits: list[dict[str, Any]]
    removal_reasons: list[dict[str, Any]]
    acceptance_days: int
    max_preferences: int
    rule_set: FrozenFrom = None
    registrations: int
    waiting: int
    offers_issued: int


class ListedEntry(BaseModel):
    position: int
    entry: str
    benefit_rank: int
    registered_at: str
    offer_pending: bool


class Position(BaseModel):
    entry: str
    status: str = Field(description="waiting | placed | withdrawn | removed")
    birth_year: int
    registered_at: str
    positions: dict[str, int] = Field(description="1-based position per preferred institution (waiting entries)")
    offer: dict[str, Any] | None = Field(default=None, description="The pending offer, if any")
    personal_data: PersonalData = Field(
        default_factory=lambda: PersonalData(status="kept"), description="The child's data: kept, or erased (when)"
    )
