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

from domain.ballots import encrypted as secret
from domain.ballots.crypto.hashing import manifest_hash
from domain.ballots.rules import compute_tally, tally_of_counts
from domain.base import LedgerAggregate, rfc3339, stream_id
from domain.errors import (
    CeremonyOutOfOrder,
    DomainError,
    DuplicateChoice,
    EmptySelection,
    InvalidInput,
    NotATrustee,
    NotEligible,
    NotEnoughShares,
    OverBudget,
    TooManyChoices,
    UnknownOption,
    WindowClosed,
    WindowStillOpen,
    WrongSecrecy,
)


def vote_stream(ballot_id: UUID | str, voter: str) -> UUID:
    return stream_id("ballot", str(ballot_id), "voter", voter)


#: What an open ballot's ``ballot.opened`` of an older log lacks (docs/voting.md §3): read as these values.
LEGACY_OPENED: dict[str, Any] = {
    "secrecy": "open",
    "trustees": [],
    "threshold": None,
    "public_key": None,
    "manifest_hash": None,
}


def fold_ballot(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "ballot.opened":
        state.update({**LEGACY_OPENED, **data}, status="open", opened_at=time, opened=dict(data))
    elif type_ == "ballot.voting_ended":
        state.update(status="ended", ended_at=time, voters=data["voters"], aggregate=data["aggregate"])
    elif type_ == "ballot.decryption_shared":
        state.setdefault("shares", {})[str(data["trustee"])] = data["shares"]
        state.setdefault("shared_by", []).append(data["trustee"])
    elif type_ == "ballot.closed":
        tally = {k: data[k] for k in ("voters", "counts", "funded")}
        state.update(status="closed", closed_at=time, tally=tally, decrypted_by=data.get("decrypted_by"))


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
        secrecy: str
        trustees: list[dict[str, Any]]
        threshold: int | None
        public_key: str | None
        manifest_hash: str
        #: ``{"name", "version"}`` of the published ``ballot`` rule set its ``kind`` and eligibility (identity
        #: methods, minimum age) were copied from; absent when they were written inline (no ballot rule set).
        rule_set: dict[str, Any] | None = None
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({*LEGACY_OPENED, "rule_set"})

        def __post_init__(self) -> None:
            if self.__dict__.get("rule_set", 0) is None:
                del self.__dict__["rule_set"]

    class VotingEnded(Event):
        TYPE: ClassVar[str] = "ballot.voting_ended"
        voters: int
        aggregate: list[dict[str, str] | None]

    class DecryptionShared(Event):
        TYPE: ClassVar[str] = "ballot.decryption_shared"
        trustee: int
        shares: list[dict[str, Any] | None]

    class Closed(Event):
        TYPE: ClassVar[str] = "ballot.closed"
        voters: int
        counts: dict[str, int]
        funded: dict[str, list[str]] | None
        decrypted_by: list[int] | None = None  # encrypted ballots only: absent from an open ballot's event
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({"decrypted_by"})

        def __post_init__(self) -> None:
            if self.__dict__.get("decrypted_by", 0) is None:
                del self.__dict__["decrypted_by"]

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
        secrecy: str = "open",
        trustees: list[dict[str, Any]] | None = None,
        threshold: int | None = None,
        public_key: str | None = None,
        rule_set: Mapping[str, Any] | None = None,
    ) -> Ballot:
        """``ballot.opened`` with the spec, its secrecy and (encrypted) the ceremony's trustees and joint key; the
        manifest hash is computed over all of it (docs/voting.md §3)."""
        data: dict[str, Any] = {
            **spec,
            "pseudonym_key": pseudonym_key,
            "secrecy": secrecy,
            "trustees": list(trustees or []),
            "threshold": threshold,
            "public_key": public_key,
            **({} if rule_set is None else {"rule_set": dict(rule_set)}),
        }
        data["manifest_hash"] = manifest_hash(str(ballot_id), data).hex()
        result: Ballot = cls._start(cls.Opened, id=ballot_id, at=at, actor=actor, **data)
        return result

    @property
    def encrypted(self) -> bool:
        return bool(self.state.get("secrecy") == "encrypted")

    def opened_data(self) -> dict[str, Any]:
        """The exact ``data`` of this ballot's ``ballot.opened`` (a client recomputes the manifest hash from it)."""
        return dict(self.state["opened"])

    @property
    def status(self) -> str:
        return str(self.state["status"])

    def check_vote(
        self, *, selection: Any, identity_method: str, age: int | None, district: str | None, at: datetime
    ) -> tuple[list[str], str | None]:
        """Validate a vote; return the normalised selection (in option order) and the district to record."""
        if self.encrypted:
            raise WrongSecrecy(
                "this ballot is secret: cast an encrypted ballot", ballot=str(self.id), secrecy="encrypted"
            )
        recorded_district = self.check_eligible(identity_method=identity_method, age=age, district=district, at=at)
        return self._check_selection(selection, district), recorded_district

    def check_eligible(
        self, *, identity_method: str, age: int | None, district: str | None, at: datetime
    ) -> str | None:
        """The window and the voter's eligibility; returns the district to record (None unless per district)."""
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
        return self._recorded_district(district)

    def _recorded_district(self, district: str | None) -> str | None:
        """The district a ballot records: the voter's on a ballot per district, else none."""
        return district if self.state["eligibility"]["districts"] is not None else None

    def _check_selection(self, selection: Any, district: str | None) -> list[str]:
        s = self.state
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
        return sorted(selection, key=index.__getitem__)

    def close(self, *, votes: Iterable[list[str]], at: datetime, actor: Mapping[str, str]) -> dict[str, Any]:
        now = rfc3339(at)
        if self.encrypted:
            return self._close_encrypted(at=at, actor=actor)
        if self.status != "open":
            raise WindowClosed("ballot already closed", ballot=str(self.id))
        if now < self.state["closes_at"]:
            raise WindowStillOpen(
                "voting window still open", ballot=str(self.id), closes_at=self.state["closes_at"], at=now
            )
        tally = compute_tally(self.state, votes)
        self._emit(self.Closed, at=at, actor=actor, **tally)
        return tally

    # -- encrypted ballots (docs/voting.md §6) --
    def _require_encrypted(self) -> None:
        if not self.encrypted:
            raise WrongSecrecy(
                "this ballot's votes are open: no encrypted ballots", ballot=str(self.id), secrecy="open"
            )

    def check_ballot(
        self,
        *,
        voter: str,
        body: Mapping[str, Any],
        identity_method: str,
        age: int | None,
        district: str | None,
        at: datetime,
        prechecked: dict[str, Any] | DomainError | None = None,
    ) -> dict[str, Any]:
        """An encrypted ballot's event data, after the window, eligibility, every proof and the tracker.

        ``prechecked``: what :meth:`precheck_ballot` gave for the same voter, body, identity method and district
        (the proofs, checked before the decision): the window and eligibility are checked here at ``at`` as
        always, first, and then its verdict stands for the proofs' checks (they depend on nothing that changes
        once the ballot is open)."""
        self._require_encrypted()
        recorded = self.check_eligible(identity_method=identity_method, age=age, district=district, at=at)
        if prechecked is not None:
            if isinstance(prechecked, DomainError):
                raise prechecked
            return dict(prechecked)
        return secret.check_cast(
            self.state, str(self.id), voter=voter, district=recorded, identity_method=identity_method, body=body
        )

    def precheck_ballot(
        self, *, voter: str, body: Mapping[str, Any], identity_method: str, district: str | None
    ) -> dict[str, Any] | DomainError:
        """The time-independent part of :meth:`check_ballot` (every proof and the tracker, ~2 ms), to be done
        before the decision so that ballots are not checked one at a time under the sequencer: the event data, or
        the error to raise once the window and eligibility have been checked."""
        try:
            self._require_encrypted()
            recorded = self._recorded_district(district)
            return secret.check_cast(
                self.state, str(self.id), voter=voter, district=recorded, identity_method=identity_method, body=body
            )
        except DomainError as e:
            return e

    def end_voting(
        self, *, voters: int, last_ballots: Iterable[secret.Ciphertexts], at: datetime, actor: Mapping[str, str]
    ) -> dict[str, Any]:
        """``ballot.voting_ended`` with the homomorphic aggregate of each voter's last ballot."""
        self._require_encrypted()
        now = rfc3339(at)
        if self.status != "open":
            raise WindowClosed("voting already ended", ballot=str(self.id), status=self.status)
        if now < self.state["closes_at"]:
            raise WindowStillOpen(
                "voting window still open", ballot=str(self.id), closes_at=self.state["closes_at"], at=now
            )
        data = {"voters": voters, "aggregate": secret.aggregate(self.state, last_ballots)}
        self._emit(self.VotingEnded, at=at, actor=actor, **data)
        return data

    def trustee_index(self, service: str) -> int:
        for t in self.state["trustees"]:
            if t["service"] == service:
                return int(t["index"])
        raise NotATrustee("this service is not a trustee of the ballot", ballot=str(self.id), service=service)

    def share_decryption(
        self,
        *,
        trustee: int,
        shares: Any,
        commitments: Mapping[int, list[Any]],
        at: datetime,
        actor: Mapping[str, str],
    ) -> None:
        """``ballot.decryption_shared`` after every share's proof (once per trustee, after ``voting_ended``)."""
        self._require_encrypted()
        if self.status != "ended":
            raise CeremonyOutOfOrder(
                "decryption shares are posted after voting ended and before the close",
                ballot=str(self.id),
                status=self.status,
            )
        if str(trustee) in self.state.get("shares", {}):
            raise CeremonyOutOfOrder("this trustee already posted its shares", ballot=str(self.id), trustee=trustee)
        secret.check_shares(self.state, trustee, shares, commitments)
        self._emit(self.DecryptionShared, at=at, actor=actor, trustee=trustee, shares=shares)

    def _close_encrypted(self, *, at: datetime, actor: Mapping[str, str]) -> dict[str, Any]:
        s = self.state
        if s["status"] == "closed":
            raise WindowClosed("ballot already closed", ballot=str(self.id))
        if s["status"] != "ended":
            raise CeremonyOutOfOrder("an encrypted ballot closes after voting ended", ballot=str(self.id))
        shared = list(s.get("shared_by", []))
        if len(shared) < s["threshold"]:
            raise NotEnoughShares(
                "too few trustees posted decryption shares",
                ballot=str(self.id),
                expected=s["threshold"],
                found=len(shared),
            )
        used = sorted(shared[: s["threshold"]])
        tally = tally_of_counts(s, s["voters"], secret.decrypt_counts(s, used))
        self._emit(self.Closed, at=at, actor=actor, **tally, decrypted_by=used)
        return {**tally, "decrypted_by": used}


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


def fold_cast(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
    if type_ in ("ballot.ballot_cast", "ballot.ballot_recast"):
        state.update(ballot=data["ballot"], voter=data["voter"], tracker=data["tracker"], cast_at=time)
        state["ballots"] = state.get("ballots", 0) + 1


class CastRecord(LedgerAggregate):
    """One voter's encrypted ballots in one ballot (the voter stream): ``ballot_cast`` then ``ballot_recast``."""

    class Event(LedgerAggregate.Event):
        pass

    class BallotCast(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "ballot.ballot_cast"
        ballot: str
        voter: str
        district: str | None
        identity_method: str
        ciphertexts: list[dict[str, str]]
        proofs: dict[str, Any]
        tracker: str

    class BallotRecast(Event):
        TYPE: ClassVar[str] = "ballot.ballot_recast"
        ballot: str
        voter: str
        district: str | None
        identity_method: str
        ciphertexts: list[dict[str, str]]
        proofs: dict[str, Any]
        tracker: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_cast(state, type_, time, actor, data)

    @classmethod
    def cast(cls, *, data: Mapping[str, Any], at: datetime, actor: Mapping[str, str]) -> CastRecord:
        result: CastRecord = cls._start(
            cls.BallotCast, id=vote_stream(data["ballot"], data["voter"]), at=at, actor=actor, **data
        )
        return result

    def recast(self, *, data: Mapping[str, Any], at: datetime, actor: Mapping[str, str]) -> None:
        self._emit(self.BallotRecast, at=at, actor=actor, **data)
