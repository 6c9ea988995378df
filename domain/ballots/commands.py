"""Ballot commands (``ballot.*``): open a ballot, cast or change a vote, close it with its tally.

``cast_vote`` decides and commits under the ballot's shared guard, so no vote lands after a close (and its tally)
decided meanwhile; a close is decided under the exclusive guard (``AppCore._run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.ballots.aggregate import Ballot, CastRecord, VoteRecord, vote_stream
from domain.ballots.ceremony import Ceremony, ceremony_stream, check_trustees
from domain.ballots.rules import validate_ballot
from domain.core import AppCore, project
from domain.errors import (
    CeremonyOutOfOrder,
    ConcurrentModification,
    InvalidInput,
    NotAuthorised,
)
from domain.identity import CitizenIdentity, Principal
from domain.sequencing import DecideAgain


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
        options: Iterable[Mapping[str, Any]],
        method: Mapping[str, Any],
        opens_at: datetime,
        closes_at: datetime,
        at: datetime,
        kind: str | None = None,
        eligibility: Mapping[str, Any] | None = None,
        ballot_id: UUID | None = None,
        secrecy: str | None = None,
        trustees: list[str] | None = None,
        threshold: int | None = None,
        rule_set: str | None = None,
        rule_set_version: int | None = None,
    ) -> UUID:
        """Open an open ballot (``ballot.opened``), or start an encrypted ballot's key ceremony
        (``ballot.ceremony_started``; the ballot opens with :meth:`open_encrypted`). ``secrecy`` defaults to
        ``encrypted`` for local votes and participatory budgets, ``open`` for polls.

        Under one of the city's published ``ballot`` rule sets (``rule_set``, its latest version unless
        ``rule_set_version``) the ballot's ``kind`` and who may vote (``eligibility.identity_methods``,
        ``eligibility.min_age``) are that version's, frozen into ``ballot.opened`` beside the reference; the caller
        gives only the districts of ``eligibility``. Writing them inline is for a city that has published no ballot
        rule set; from its first one on it is refused."""
        given = dict(eligibility) if isinstance(eligibility, Mapping) else {}
        published, reference = self._referenced_rules(
            "ballot",
            rule_set,
            rule_set_version,
            inline=kind is not None or bool(set(given) - {"districts"}),
            what="kind or eligibility (identity_methods, min_age)",
        )
        if published is not None:
            kind = published["kind"]
            eligibility = {**published["eligibility"], "districts": given.get("districts")}
        secrecy = secrecy or ("open" if kind == "poll" else "encrypted")
        if secrecy not in ("open", "encrypted"):
            raise InvalidInput("secrecy is encrypted or open", field="secrecy", found=str(secrecy))
        if secrecy == "open" and (trustees or threshold is not None):
            raise InvalidInput("an open ballot has no trustees", field="trustees")
        spec = dict(title=title, kind=kind, options=options, method=method, opens_at=opens_at, closes_at=closes_at,
                    eligibility=eligibility if eligibility is not None else {})  # fmt: skip
        if secrecy == "encrypted":
            return self._start_ceremony(
                by=by, spec=spec, trustees=trustees, threshold=threshold, at=at, ballot_id=ballot_id,
                rule_set=reference,
            )  # fmt: skip
        actor = self._authorise(by, "ballot.opened")
        norm = validate_ballot(**spec)  # type: ignore[arg-type]
        ballot = self._create(
            at,
            lambda at: Ballot.open(
                ballot_id=ballot_id or uuid4(), spec=norm, pseudonym_key=self.pseudonymizer.current, at=at,
                actor=actor, rule_set=reference,
            ),
        )  # fmt: skip
        return ballot.id

    def _start_ceremony(
        self,
        *,
        by: Principal,
        spec: dict[str, Any],
        trustees: list[str] | None,
        threshold: int | None,
        at: datetime,
        ballot_id: UUID | None,
        rule_set: dict[str, Any] | None = None,
    ) -> UUID:
        actor = self._authorise(by, "ballot.ceremony_started")
        norm = validate_ballot(**spec)
        named = check_trustees(trustees, threshold)
        for t in named:
            self._service(t["service"]).require("ballot:trustee")
        assert threshold is not None  # check_trustees
        bid = ballot_id or uuid4()
        self._create(
            at,
            lambda at: Ceremony.start(
                ballot_id=bid, spec=norm, trustees=named, threshold=threshold, at=at, actor=actor, rule_set=rule_set
            ),
        )
        return bid

    def get_ceremony(self, ballot_id: UUID) -> Ceremony:
        return self._get(ceremony_stream(ballot_id), Ceremony, "key ceremony")

    def _trustee_step(
        self,
        by: Principal,
        ballot_id: UUID,
        type_: str,
        at: datetime,
        step: Callable[[Ceremony, int, dict[str, str], datetime], None],
    ) -> None:
        actor = self._authorise(by, type_)

        def run(c: Ceremony, now: datetime) -> None:
            step(c, c.trustee_index(actor["id"]), actor, now)

        self._run(ceremony_stream(ballot_id), Ceremony, "key ceremony", at, run)

    def join_ceremony(self, *, by: Principal, ballot_id: UUID, encryption_key: Any, proof: Any, at: datetime) -> None:
        self._trustee_step(
            by, ballot_id, "ballot.trustee_joined", at,
            lambda c, i, actor, now: c.join(trustee=i, encryption_key=encryption_key, proof=proof, at=now, actor=actor),
        )  # fmt: skip

    def commit_ceremony(
        self, *, by: Principal, ballot_id: UUID, commitments: Any, proof: Any, shares: Any, at: datetime
    ) -> None:
        self._trustee_step(
            by, ballot_id, "ballot.trustee_committed", at,
            lambda c, i, actor, now: c.commit(
                trustee=i, commitments=commitments, proof=proof, shares=shares, at=now, actor=actor
            ),
        )  # fmt: skip

    def verify_ceremony(self, *, by: Principal, ballot_id: UUID, at: datetime) -> None:
        self._trustee_step(
            by, ballot_id, "ballot.trustee_verified", at,
            lambda c, i, actor, now: c.verify(trustee=i, at=now, actor=actor),
        )  # fmt: skip

    def complain_ceremony(self, *, by: Principal, ballot_id: UUID, about: Any, reason: Any, at: datetime) -> None:
        self._trustee_step(
            by, ballot_id, "ballot.trustee_complained", at,
            lambda c, i, actor, now: c.complain(trustee=i, about=about, reason=reason, at=now, actor=actor),
        )  # fmt: skip

    def open_encrypted(self, *, by: Principal, ballot_id: UUID, at: datetime) -> UUID:
        """``ballot.opened`` of an encrypted ballot once every trustee verified, with the joint key ``H``."""
        actor = self._authorise(by, "ballot.opened")
        ceremony = self.get_ceremony(ballot_id)
        key = ceremony.joint_key()
        if self._exists(ballot_id):
            raise CeremonyOutOfOrder("the ballot is already open", ballot=str(ballot_id))
        s = ceremony.state
        spec = {"title": s["title"], **s["spec"]}
        ballot = self._create(
            at,
            lambda at: Ballot.open(
                ballot_id=ballot_id, spec=spec, pseudonym_key=self.pseudonymizer.current, at=at, actor=actor,
                secrecy="encrypted", trustees=s["trustees"], threshold=s["threshold"], public_key=key.hex(),
                rule_set=s.get("rule_set"),
            ),
        )  # fmt: skip
        return ballot.id

    def cast_ballot(
        self, *, by: CitizenIdentity, ballot_id: UUID, body: Mapping[str, Any], at: datetime
    ) -> CastRecord.BallotCast | CastRecord.BallotRecast:
        """An encrypted ballot (or a later one of the same voter): every proof and the tracker are checked before
        the decision; decided under the ballot's shared guard, so none lands after ``voting_ended``."""
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("ballots are cast by citizens")
        with self.guards.shared(ballot_id):
            ballot = self._hot(ballot_id, Ballot, "ballot")
            voter = self.voter_pseudonym(ballot, by.subject)
            actor = self._authorise(by, "ballot.ballot_cast", pseudonym=voter)
            record_id = vote_stream(ballot_id, voter)
            first = not self.projections.has_cast(str(ballot_id), voter)
            # the proofs before the decision: other commands go on meanwhile (libsecp256k1 runs without the GIL)
            prechecked = ballot.precheck_ballot(voter=voter, body=body, identity_method=by.method, district=by.district)
            for _ in range(self.MAX_ATTEMPTS):
                record: Any = None
                if not first:
                    try:
                        record = self.repository.get(record_id, projector_func=project)
                    except AggregateNotFoundError:
                        record = None
                with self.sequencer.deciding(at) as now:
                    data = ballot.check_ballot(
                        voter=voter,
                        body=body,
                        identity_method=by.method,
                        age=by.age,
                        district=by.district,
                        at=now,
                        prechecked=prechecked,
                    )
                    if record is None:
                        record = CastRecord.cast(data=data, at=now, actor=actor)
                    else:
                        assert isinstance(record, CastRecord)
                        record.recast(data=data, at=now, actor=actor)
                    event = record.pending_events[-1]
                    try:
                        self._save(record)
                    except IntegrityError:
                        first = False
                        continue
                    except DecideAgain:  # another process's later event: decide again on the stored record
                        continue
                assert isinstance(event, CastRecord.BallotCast | CastRecord.BallotRecast)
                return event
        raise ConcurrentModification("ballot record kept changing; try again", ballot=str(ballot_id))

    def end_voting(self, *, by: Principal, ballot_id: UUID, at: datetime) -> dict[str, Any]:
        """``ballot.voting_ended`` at or after ``closes_at`` (a ``ballot:close`` service, or the clock as system
        actor): the aggregate is summed here, once, from the projection of each voter's last ballot."""
        actor = self._authorise(by, "ballot.voting_ended")

        def end(b: Ballot, now: datetime) -> dict[str, Any]:
            last = self.projections.last_ballots(str(ballot_id))
            return b.end_voting(voters=len(last), last_ballots=last, at=now, actor=actor)

        return self._run(ballot_id, Ballot, "ballot", at, end)

    def share_decryption(self, *, by: Principal, ballot_id: UUID, shares: Any, at: datetime) -> None:
        actor = self._authorise(by, "ballot.decryption_shared")
        commitments = self.get_ceremony(ballot_id).commitments()

        def share(b: Ballot, now: datetime) -> None:
            b.share_decryption(
                trustee=b.trustee_index(actor["id"]), shares=shares, commitments=commitments, at=now, actor=actor
            )

        self._run(ballot_id, Ballot, "ballot", at, share)

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
                    except DecideAgain:  # another process's later event: decide again on the stored record
                        continue
                assert isinstance(event, VoteRecord.VoteCast | VoteRecord.VoteChanged)
                return event
        raise ConcurrentModification("vote record kept changing; try again", ballot=str(ballot_id))

    def close_ballot(self, *, by: Principal, ballot_id: UUID, at: datetime) -> dict[str, Any]:
        """Close at or after ``closes_at``; the ``ballot.closed`` event carries the tally. Returns the tally. An
        encrypted ballot closes after ``voting_ended`` once ``threshold`` trustees shared: counts by Lagrange."""
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
