"""Response bodies of the open-data endpoints (`api/routers/open_data.py`) and the column sets of their CSV forms.

The CSV columns are the JSON row fields in this order (docs/api.md "Open data"); changing them is a format
change."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.routers.rulesets_models import FrozenFrom


class PageInfo(BaseModel):
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page; null on the last page")
    limit: int


class OpenPetition(BaseModel):
    id: UUID
    title: str
    status: str = Field(description="pending | published | rejected | closed")
    signatures: int
    threshold: int
    threshold_reached: bool
    created_at: str
    published_at: str | None
    deadline: str | None
    response_due: str | None
    responded: bool
    closed_at: str | None
    rule_set: FrozenFrom = None


class PetitionPage(PageInfo):
    items: list[OpenPetition]


class OpenBallot(BaseModel):
    id: UUID
    title: str
    kind: str = Field(description="poll | local_vote | participatory_budget")
    status: str = Field(description="open | closed")
    districts: list[str] = Field(description="Its eligibility districts and its options' districts")
    opens_at: str
    closes_at: str
    opened_at: str
    closed_at: str | None
    voters: int | None = Field(description="Published with the tally once closed; null while open")
    counts: dict[str, int] | None = Field(description="The published tally once closed; null while open")
    rule_set: FrozenFrom = None


class BallotPage(PageInfo):
    items: list[OpenBallot]


class OpenQueue(BaseModel):
    id: UUID
    kind: str = Field(description="kindergarten | housing")
    name: str
    created_at: str
    registrations: int = Field(description="Entries ever registered")
    institutions: list[str] | None = Field(description="Kindergarten institutions; null for a housing register")
    rule_set: FrozenFrom = None


class QueuePage(PageInfo):
    items: list[OpenQueue]


class Signer(BaseModel):
    signer: str = Field(description="The signer's pseudonym for this petition (never an identity)")
    signed_at: str


class SignerPage(PageInfo):
    petition: UUID
    items: list[Signer]


class ResultRow(BaseModel):
    option: str
    title: str
    district: str | None
    cost: int | None
    votes: int
    funded: bool | None = Field(description="participatory budget: funded in its district's budget; else null")


class Results(BaseModel):
    ballot: UUID
    title: str
    kind: str
    closed_at: str
    voters: int
    rule_set: FrozenFrom = None
    rows: list[ResultRow]


class KindergartenRow(BaseModel):
    institution: str
    birth_year: int
    position: int
    entry: str
    benefit_rank: int
    registered_at: str
    offer_pending: bool


class KindergartenOrder(BaseModel):
    queue: UUID
    rule_set: FrozenFrom = None
    rows: list[KindergartenRow]


class HousingRow(BaseModel):
    list: str
    position: int
    entry: str
    registered_at: str
    included_at: str | None = Field(description="Inclusion in the list; null for the general list")


class HousingOrder(BaseModel):
    housing_register: UUID
    rule_set: FrozenFrom = None
    rows: list[HousingRow]


#: CSV column sets (the header row), one per exported table.
RESULT_COLUMNS = tuple(ResultRow.model_fields)
KINDERGARTEN_COLUMNS = tuple(KindergartenRow.model_fields)
HOUSING_COLUMNS = tuple(HousingRow.model_fields)
