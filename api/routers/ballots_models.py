"""Request and response bodies of the ballot endpoints (`api/routers/ballots.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from api.models import Body, Written
from api.routers.rulesets_models import FrozenFrom, RuleSetReference, RuleSetVersion


class Option(BaseModel):
    id: Annotated[str, Field(min_length=1, max_length=64, examples=["park"])]
    title: Annotated[str, Field(min_length=1, max_length=300, examples=["Парк на Оболоні"])]
    cost: Annotated[int | None, Field(ge=1, le=2**53 - 1, description="kopiyky (budget method)")] = None
    district: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class Method(BaseModel):
    type: Literal["single", "approval", "budget"]
    max_choices: Annotated[int | None, Field(ge=1, le=500)] = None
    budgets: (
        dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[int, Field(ge=1, le=2**53 - 1)]] | None
    ) = None


class Eligibility(BaseModel):
    identity_methods: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1, max_length=20)
    ] = ["bankid", "diia", "qes"]
    min_age: Annotated[int | None, Field(ge=0, le=150)] = None
    districts: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]] | None, Field(max_length=500)] = None


class OpenBallot(Body):
    title: Annotated[str, Field(min_length=1, max_length=300, examples=["Громадський бюджет 2027"])]
    rule_set: RuleSetReference = None
    rule_set_version: RuleSetVersion = None
    kind: Annotated[
        Literal["poll", "local_vote", "participatory_budget"] | None,
        Field(description="Default `poll`. Only without `rule_set` (the rule set gives it)."),
    ] = None
    options: Annotated[list[Option], Field(min_length=1, max_length=500)]
    method: Method
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    eligibility: Annotated[
        Eligibility | None,
        Field(
            description="Default: every identity method, any age, every district. With `rule_set`, only `districts`"
            " (the rule set gives who may vote)."
        ),
    ] = None
    secrecy: Literal["encrypted", "open"] | None = Field(
        default=None, description="Frozen at creation. Default: encrypted for local votes and budgets, open for polls."
    )
    trustees: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
        Field(max_length=15, description="Encrypted only: the trustees' service ids, in index order (1..n)."),
    ] = None
    threshold: Annotated[int | None, Field(ge=1, le=15, description="Encrypted only: k of n decrypt.")] = None


class BallotOpened(Written):
    ballot_id: UUID
    status: Literal["ceremony", "open"] = Field(description="ceremony: an encrypted ballot's key ceremony started")


class Vote(Body):
    selection: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]],
        Field(min_length=1, max_length=500, examples=[["park"]]),
    ]


class VoteRecorded(Written):
    ballot_id: UUID
    tracker: str = Field(description="Keep it: the leaf hash of your vote event; find your vote with it.")
    revote: bool


class Tally(BaseModel):
    voters: int
    counts: dict[str, int]
    funded: dict[str, list[str]] | None


class SecretTally(Tally):
    """An encrypted ballot's tally, decrypted by ``threshold`` trustees."""

    decrypted_by: list[int] = Field(description="The trustees' indexes whose decryption shares were used")


def tally_of(raw: dict[str, Any]) -> Tally:
    return SecretTally(**raw) if raw.get("decrypted_by") is not None else Tally(**raw)


class BallotClosed(Written):
    tally: SecretTally | Tally


class Ballot(BaseModel):
    id: UUID
    title: str
    kind: str
    status: str = Field(description="ceremony | open | ended | closed")
    options: list[dict[str, Any]]
    method: dict[str, Any]
    opens_at: str
    closes_at: str
    eligibility: dict[str, Any]
    rule_set: FrozenFrom = None
    opened_at: str | None = Field(description="null while the key ceremony runs")
    closed_at: str | None = None
    tally: SecretTally | Tally | None = Field(default=None, description="Published when the ballot closes")
    secrecy: Literal["encrypted", "open"]
    trustees: list[dict[str, Any]] = Field(description='[{"index": 1, "service": "..."}]; [] for an open ballot')
    threshold: int | None
    public_key: str | None = Field(description="The joint key H (hex point); null while the ceremony runs or if open")
    manifest_hash: str | None
    opened: dict[str, Any] | None = Field(description="The exact data of ballot.opened (recompute manifest_hash)")
    aggregate: list[dict[str, str] | None] | None = Field(
        default=None, description="Encrypted: per option the sum of the counted ballots (from ballot.voting_ended)"
    )


class MyVote(BaseModel):
    ballot_id: UUID
    selection: list[str]
    district: str | None
    cast_at: str
    version: int = Field(description="1 for the first vote; higher for revotes")
    tracker: str
    event_id: str
    counted: bool = Field(description="True when this is your last vote (the one that counts)")
