"""Ballot commands (``ballot.*``): open a ballot, cast or change a vote, close it with its tally.

``cast_vote`` decides and commits under the ballot's shared guard, so no vote lands after a close (and its tally)
decided meanwhile; a close is decided under the exclusive guard (``AppCore._run``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.ballots.aggregate import Ballot, VoteRecord, vote_stream
from domain.ballots.rules import validate_ballot
from domain.core import AppCore, project
from domain.errors import (
    ConcurrentModification,
    NotAuthorised,
)
from domain.identity import CitizenIdentity, Principal


class BallotCommands(AppCore):
    """Ballots and the voters' vote records; the tally is computed from the projections' counted votes."""

    # -- counts (the in-process projections) --
    def counted_votes(self, ballot_id: UUID) -> list[list[str]]:
        return self.projections.counted_votes(str(ballot_id))

    # -- commands --
    def open_ballot(
        self,
        *,
        by: Principal,
        title: str,
        kind: str,
        options: Iterable[Mapping[str, Any]],
        method: Mapping[str, Any],
        opens_at: datetime,
        closes_at: datetime,
        eligibility: Mapping[str, Any],
        at: datetime,
        ballot_id: UUID | None = None,
    ) -> UUID:
        actor = self._authorise(by, "ballot.opened")
        spec = validate_ballot(
            title=title,
            kind=kind,
            options=options,
            method=method,
            opens_at=opens_at,
            closes_at=closes_at,
            eligibility=eligibility,
        )
        ballot = self._create(
            at,
            lambda at: Ballot.open(
                ballot_id=ballot_id or uuid4(), spec=spec, pseudonym_key=self.pseudonymizer.current, at=at, actor=actor
            ),
        )
        return ballot.id

    def voter_pseudonym(self, ballot: Ballot, subject: str) -> str:
        return self.pseudonymizer.voter(str(ballot.id), subject, ballot.state["pseudonym_key"])

    def cast_vote(
        self, *, by: CitizenIdentity, ballot_id: UUID, selection: list[str], at: datetime
    ) -> VoteRecord.VoteCast | VoteRecord.VoteChanged:
        """Record a vote (or a revote). Returns the vote event: its leaf hash is the voter's tracker.

        Decided and committed under the ballot's shared guard, so no vote lands after a close (and its tally)
        decided meanwhile."""
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("votes are cast by citizens")
        with self.guards.shared(ballot_id):
            ballot = self._hot(ballot_id, Ballot, "ballot")
            voter = self.voter_pseudonym(ballot, by.subject)
            actor = self._authorise(by, "ballot.vote_cast", pseudonym=voter)
            record_id = vote_stream(ballot_id, voter)
            # The projection knows who voted: a first vote needs no read (a wrong guess is a conflict, and then
            # the record is read).
            first_vote = not self.projections.has_voted(str(ballot_id), voter)
            for _ in range(self.MAX_ATTEMPTS):
                record: Any = None
                if not first_vote:
                    try:
                        record = self.repository.get(record_id, projector_func=project)
                    except AggregateNotFoundError:
                        record = None
                with self.sequencer.deciding(at) as now:
                    norm, district = ballot.check_vote(
                        selection=selection, identity_method=by.method, age=by.age, district=by.district, at=now
                    )
                    if record is None:
                        record = VoteRecord.cast(
                            ballot=ballot,
                            voter=voter,
                            selection=norm,
                            district=district,
                            identity_method=by.method,
                            at=now,
                            actor=actor,
                        )
                    else:
                        assert isinstance(record, VoteRecord)
                        record.change(selection=norm, district=district, identity_method=by.method, at=now, actor=actor)
                    event = record.pending_events[-1]
                    try:
                        self._save(record)
                    except IntegrityError:
                        first_vote = False
                        continue
                assert isinstance(event, VoteRecord.VoteCast | VoteRecord.VoteChanged)
                return event
        raise ConcurrentModification("vote record kept changing; try again", ballot=str(ballot_id))

    def close_ballot(self, *, by: Principal, ballot_id: UUID, at: datetime) -> dict[str, Any]:
        """Close at or after ``closes_at``; the ``ballot.closed`` event carries the tally. Returns the tally."""
        actor = self._authorise(by, "ballot.closed")
        return self._run(
            ballot_id,
            Ballot,
            "ballot",
            at,
            lambda b, at: b.close(votes=self.counted_votes(ballot_id), at=at, actor=actor),
        )

    def get_ballot(self, ballot_id: UUID) -> Ballot:
        return self._get(ballot_id, Ballot, "ballot")

    def get_vote(self, ballot_id: UUID, voter: str) -> VoteRecord:
        return self._get(vote_stream(ballot_id, voter), VoteRecord, "vote record")
