"""Request and response bodies of the encrypted-ballot endpoints (`api/routers/ballots_secret.py`): the key
ceremony, the trustees' decryption shares, a citizen's encrypted ballot and its tracker (docs/voting.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.models import Body, Written

Hex = Annotated[str, Field(max_length=200)]


class Join(Body):
    encryption_key: Hex
    proof: dict[str, Hex]


class Commit(Body):
    commitments: Annotated[list[Hex], Field(max_length=15)]
    proof: dict[str, Hex]
    shares: Annotated[list[dict[str, Any]], Field(max_length=15)]


class Verify(Body):
    pass


class Complain(Body):
    about: Annotated[int, Field(ge=1, le=15)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class Ceremony(BaseModel):
    ballot: UUID
    title: str
    threshold: int
    trustees: list[dict[str, Any]]
    status: Literal["joining", "committing", "verifying", "complete", "dead", "opened"]
    joined: dict[str, dict[str, Any]]
    committed: dict[str, dict[str, Any]]
    verified: list[int]
    complaints: list[dict[str, Any]]


class DecryptionShares(Body):
    shares: Annotated[list[dict[str, Any] | None], Field(max_length=500)]


class VotingEnded(Written):
    voters: int
    aggregate: list[dict[str, str] | None]


class VoterInfo(BaseModel):
    ballot_id: UUID
    voter: str = Field(description="Your voter pseudonym in this ballot (your ballot's proofs name it)")
    district: str | None
    identity_method: str
    ballot_options: list[str] = Field(description="The options your ballot covers, in order: one ciphertext each")


class CastBallot(Body):
    ciphertexts: Annotated[list[dict[str, Hex]], Field(min_length=1, max_length=500)]
    proofs: dict[str, Any]
    tracker: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class BallotCast(Written):
    ballot_id: UUID
    tracker: str = Field(description="Keep it: after the close it says whether your ballot was counted")
    revote: bool


class TrackerStatus(BaseModel):
    tracker: str
    event_id: str
    status: Literal["cast", "counted", "superseded"]
