"""Ballots: polls, local votes and participatory budgets (``ballot.*``).

Streams: one per ballot (``ballot.opened``, ``ballot.closed`` with the tally) and one per voter and ballot
(``stream_id("ballot", <ballot id>, "voter", <voter pseudonym>)``) holding ``ballot.vote_cast`` then any number
of ``ballot.vote_changed``; the last one before ``ballot.closed`` is the voter's counted vote. Votes never touch
the ballot stream, so a million voters do not contend on one aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.ballots.rules import compute_tally
from domain.base import LedgerAggregate, rfc3339, stream_id
from domain.errors import (
    DuplicateChoice,
    EmptySelection,
    InvalidInput,
    NotEligible,
    OverBudget,
    TooManyChoices,
    UnknownOption,
    WindowClosed,
    WindowStillOpen,
)


def vote_stream(ballot_id: UUID | str, voter: str) -> UUID:
    return stream_id("ballot", str(ballot_id), "voter", voter)


def fold_ballot(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "ballot.opened":
        state.update(dict(data), status="open", opened_at=time)
    elif type_ == "ballot.closed":
        state.update(status="closed", closed_at=time, tally=dict(data))


class Ballot(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "ballot.opened"
        title: str
        kind: str
        options: list[dict[str, Any]]
        method: dict[str, Any]
        opens_at: str
        closes_at: str
        eligibility: dict[str, Any]
        pseudonym_key: int

    class Closed(Event):
        TYPE: ClassVar[str] = "ballot.closed"
        voters: int
        counts: dict[str, int]
        funded: dict[str, list[str]] | None

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_ballot(state, type_, time, actor, data)

    @classmethod
    def open(
        cls,
        *,
        ballot_id: UUID,
        spec: Mapping[str, Any],
        pseudonym_key: int,
        at: datetime,
        actor: Mapping[str, str],
    ) -> Ballot:
        result: Ballot = cls._start(cls.Opened, id=ballot_id, at=at, actor=actor, pseudonym_key=pseudonym_key, **spec)
        return result

    @property
    def status(self) -> str:
        return str(self.state["status"])

    def check_vote(
        self, *, selection: Any, identity_method: str, age: int | None, district: str | None, at: datetime
    ) -> tuple[list[str], str | None]:
        """Validate a vote; return the normalised selection (in option order) and the district to record."""
        s = self.state
        now = rfc3339(at)
        if s["status"] != "open" or not s["opens_at"] <= now < s["closes_at"]:
            raise WindowClosed(
                "voting window is closed",
                ballot=str(self.id),
                opens_at=s["opens_at"],
                closes_at=s["closes_at"],
                status=s["status"],
                at=now,
            )
        elig = s["eligibility"]
        if identity_method not in elig["identity_methods"]:
            raise NotEligible(
                "identity method not accepted for this ballot",
                ballot=str(self.id),
                expected=elig["identity_methods"],
                found=identity_method,
            )
        if elig["min_age"] is not None and (age is None or age < elig["min_age"]):
            raise NotEligible("voter below the minimum age", ballot=str(self.id), expected=elig["min_age"], found=age)
        if elig["districts"] is not None and district not in elig["districts"]:
            raise NotEligible(
                "voter's district not eligible", ballot=str(self.id), expected=elig["districts"], found=district
            )
        if not isinstance(selection, list | tuple) or not all(isinstance(x, str) for x in selection):
            raise InvalidInput("selection must be a list of option ids")
        if not selection:
            raise EmptySelection("empty selection", ballot=str(self.id))
        if len(set(selection)) != len(selection):
            raise DuplicateChoice("an option is selected twice", ballot=str(self.id), found=list(selection))
        options = {o["id"]: o for o in s["options"]}
        unknown = [x for x in selection if x not in options]
        if unknown:
            raise UnknownOption("unknown option", ballot=str(self.id), found=unknown)
        method = s["method"]
        if method["type"] == "single" and len(selection) != 1:
            raise TooManyChoices(
                "exactly one option must be chosen", ballot=str(self.id), expected=1, found=len(selection)
            )
        if method["type"] == "approval" and len(selection) > method["max_choices"]:
            raise TooManyChoices(
                "too many options", ballot=str(self.id), expected=method["max_choices"], found=len(selection)
            )
        if method["type"] == "budget":
            assert district is not None  # eligibility.districts is always set for budget ballots
            foreign = [x for x in selection if options[x]["district"] != district]
            if foreign:
                raise NotEligible(
                    "projects of another district selected", ballot=str(self.id), district=district, found=foreign
                )
            total = sum(options[x]["cost"] for x in selection)
            budget = method["budgets"][district]
            if total > budget:
                raise OverBudget(
                    "selection exceeds the district budget", ballot=str(self.id), expected=budget, found=total
                )
        index = {o["id"]: i for i, o in enumerate(s["options"])}
        recorded_district = district if elig["districts"] is not None else None
        return sorted(selection, key=index.__getitem__), recorded_district

    def close(self, *, votes: Iterable[list[str]], at: datetime, actor: Mapping[str, str]) -> dict[str, Any]:
        now = rfc3339(at)
        if self.status != "open":
            raise WindowClosed("ballot already closed", ballot=str(self.id))
        if now < self.state["closes_at"]:
            raise WindowStillOpen(
                "voting window still open", ballot=str(self.id), closes_at=self.state["closes_at"], at=now
            )
        tally = compute_tally(self.state, votes)
        self._emit(self.Closed, at=at, actor=actor, **tally)
        return tally


def fold_vote(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
    if type_ in ("ballot.vote_cast", "ballot.vote_changed"):
        state.update(
            ballot=data["ballot"],
            voter=data["voter"],
            selection=list(data["selection"]),
            district=data["district"],
            cast_at=time,
            votes=state.get("votes", 0) + 1,
        )


class VoteRecord(LedgerAggregate):
    """One voter's votes in one ballot."""

    class Event(LedgerAggregate.Event):
        pass

    class VoteCast(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "ballot.vote_cast"
        ballot: str
        voter: str
        selection: list[str]
        district: str | None
        identity_method: str

    class VoteChanged(Event):
        TYPE: ClassVar[str] = "ballot.vote_changed"
        ballot: str
        voter: str
        selection: list[str]
        district: str | None
        identity_method: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_vote(state, type_, time, actor, data)

    @classmethod
    def cast(
        cls,
        *,
        ballot: Ballot,
        voter: str,
        selection: list[str],
        district: str | None,
        identity_method: str,
        at: datetime,
        actor: Mapping[str, str],
    ) -> VoteRecord:
        result: VoteRecord = cls._start(
            cls.VoteCast,
            id=vote_stream(ballot.id, voter),
            at=at,
            actor=actor,
            ballot=str(ballot.id),
            voter=voter,
            selection=list(selection),
            district=district,
            identity_method=identity_method,
        )
        return result

    def change(
        self,
        *,
        selection: list[str],
        district: str | None,
        identity_method: str,
        at: datetime,
        actor: Mapping[str, str],
    ) -> None:
        self._emit(
            self.VoteChanged,
            at=at,
            actor=actor,
            ballot=self.state["ballot"],
            voter=self.state["voter"],
            selection=list(selection),
            district=district,
            identity_method=identity_method,
        )

    @property
    def selection(self) -> list[str]:
        return list(self.state["selection"])
