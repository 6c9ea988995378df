"""``CityApp``: the application layer the HTTP API calls.

Every command: validates its input, checks the actor (scope for services, identity for citizens, see
``identity.AUTHORISATION``), runs the aggregate command(s) and saves every touched aggregate in ONE
``self.save(...)`` (atomic). A store conflict (``IntegrityError``) either means a uniqueness violation
(duplicate signature) or a concurrent writer: then the command is re-run on fresh state (at most
``MAX_ATTEMPTS`` times) so it is decided again, e.g. a second offer for the same place becomes
``PlaceUnavailable``.

The app never configures persistence nor reads settings: the ledger sets its infrastructure through ``env`` and
hands it its pseudonymizer and vault (ledger/runtime.py).
Counts and tallies come from hook methods (``signature_count``, ``counted_votes``, ``open_petition_ids``) backed
here by an in-process :class:`~domain.projections.Projections` that is rebuilt from the notification log at
start-up and fed after each save; a multi-process deployment overrides the hooks with shared projections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError

from domain.ballots.aggregate import Ballot, VoteRecord, vote_stream
from domain.ballots.rules import validate_ballot
from domain.base import LedgerAggregate, rfc3339, stream_id
from domain.errors import (
    ConcurrentModification,
    ConfigurationError,
    DuplicateSignature,
    IdentityMethodNotAllowed,
    InvalidInput,
    NotAuthorised,
    NotFound,
    ServiceAlreadyRegistered,
    ServiceNotRegistered,
    UnknownList,
)
from domain.guards import HotAggregates, StreamGuards
from domain.housing.aggregate import HousingRegister
from domain.housing.order import list_order
from domain.housing.rules import HOUSING_LIST_BASES, HOUSING_LISTS, HOUSING_REMOVAL_REASONS
from domain.identity import AUTHORISATION, RULES, Actor, CitizenIdentity, Pseudonymizer
from domain.kindergarten.aggregate import KindergartenQueue
from domain.kindergarten.order import entry_positions, kindergarten_list
from domain.kindergarten.rules import CHERNIVTSI_KINDERGARTEN_BENEFITS, KINDERGARTEN_REMOVAL_REASONS
from domain.petitions.aggregate import Petition, Signature, signature_stream
from domain.pii import PersonalDataVault
from domain.projections import Projections, record_of
from domain.sequencing import Sequencer
from domain.services.aggregate import Service, service_stream
from domain.topics import register_moved_modules

Principal = Actor | CitizenIdentity
A = TypeVar("A", bound=LedgerAggregate)
#: Aggregates that other streams' commands read (signatures read petitions, votes read ballots).
GUARDED: tuple[type[LedgerAggregate], ...] = (Petition, Ballot)
R = TypeVar("R")

register_moved_modules()  # rows written before the contexts moved name their old modules (domain/topics.py)


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Projector for our aggregates: the library's default re-checks a runtime Protocol on every event,
    which costs more than the mutation itself on long streams."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class CityApp(Application[UUID]):
    name = "CityApp"
    MAX_ATTEMPTS = 5
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {
        KindergartenQueue: 200,
        HousingRegister: 200,
    }
    snapshotting_projectors: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], Any]] = {
        KindergartenQueue: project,
        HousingRegister: project,
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        pseudonymizer: Pseudonymizer | None = None,
        vault: PersonalDataVault | None = None,
        single_writer: bool = False,
    ) -> None:
        """`pseudonymizer` is required (ConfigurationError without one) and `vault` optional (commands that seal
        personal data refuse without it): both are built by the composition root from its settings, the domain reads
        none. `single_writer`: this process is the only one that changes petitions and ballots in this store,
        so signatures and votes may decide on cached petitions and ballots (see :mod:`domain.guards`)."""
        super().__init__(env)
        self.guards = StreamGuards()
        self.sequencer = Sequencer()
        self.hot = HotAggregates(single_writer)
        self._inflight: dict[UUID, int] = {}
        self._inflight_lock = threading.Lock()
        if pseudonymizer is None:
            # the domain reads no settings: the composition root builds the pseudonymizer (ledger/runtime.py)
            raise ConfigurationError("no pseudonymizer: the application must be given its pseudonym keys")
        self.pseudonymizer = pseudonymizer
        self.vault = vault
        self.projections = Projections()
        self.rebuild_projections()

    # == projections and hooks ==========================================================================
    def rebuild_projections(self) -> None:
        """Replay the whole notification log into the in-process projections (and start the writer's clock at the
        time of its last event)."""
        self.projections = Projections()
        start = 1
        while True:
            batch = self.recorder.select_notifications(start, 1000)
            if not batch:
                break
            for n in batch:
                event: Any = self.mapper.to_domain_event(n)
                self.projections.apply(record_of(event))
            start = batch[-1].id + 1
            self.sequencer.advance(event.timestamp)  # the log's latest time: decisions never go before it

    def signature_count(self, petition_id: UUID) -> int:
        return self.projections.signature_count(str(petition_id))

    def counted_votes(self, ballot_id: UUID) -> list[list[str]]:
        return self.projections.counted_votes(str(ballot_id))

    def open_petition_ids(self) -> list[UUID]:
        return [UUID(pid) for pid, st in self.projections.of_kind("petition").items() if st["status"] == "published"]

    # == plumbing =======================================================================================
    def _save(self, *aggregates: LedgerAggregate) -> None:
        """Save in ONE atomic write. Only inside a decision (:mod:`domain.sequencing`): event time and log order agree
        only for events whose time was taken where their commit is ordered."""
        self.sequencer.writing()
        events = [e for a in aggregates for e in a.pending_events]
        self.save(*aggregates)
        self.projections.apply_all(record_of(e) for e in events)

    def _get(self, aggregate_id: UUID, cls: type[A], what: str) -> A:
        try:
            agg: Any = self.repository.get(aggregate_id, projector_func=project)
        except AggregateNotFoundError:
            raise NotFound(f"no such {what}", id=str(aggregate_id)) from None
        if not isinstance(agg, cls):
            raise NotFound(f"no such {what}", id=str(aggregate_id))
        return agg

    def _exists(self, aggregate_id: UUID) -> bool:
        return any(True for _ in self.events.get(aggregate_id, limit=1))

    def _run(self, aggregate_id: UUID, cls: type[A], what: str, at: datetime, command: Callable[[A, datetime], R]) -> R:
        """Load, decide (``command(aggregate, now)``), save; re-decide on a concurrent write. Petitions and ballots are
        changed under their exclusive guard, so no signature or vote is decided on the state being replaced."""
        if cls not in GUARDED:
            return self._attempt(aggregate_id, cls, what, at, command)
        with self._changing(aggregate_id):
            return self._attempt(aggregate_id, cls, what, at, command)

    @contextmanager
    def _changing(self, *aggregate_ids: UUID) -> Iterator[None]:
        """Hold the exclusive guards of petitions/ballots being changed; their cached copies are dropped on the
        way out (still under the guard, so no reader can cache the replaced state)."""
        with self.guards.exclusive(*aggregate_ids):
            try:
                yield
            finally:
                self.hot.invalidate(aggregate_ids)

    def _attempt(
        self, aggregate_id: UUID, cls: type[A], what: str, at: datetime, command: Callable[[A, datetime], R]
    ) -> R:
        for _ in range(self.MAX_ATTEMPTS):
            agg = self._get(aggregate_id, cls, what)
            with self.sequencer.deciding(at) as now:
                result = command(agg, now)
                try:
                    self._save(agg)
                except IntegrityError:
                    continue
            return result
        raise ConcurrentModification("aggregate kept changing; try again", id=str(aggregate_id))

    def _create(self, at: datetime, build: Callable[[datetime], A]) -> A:
        """Decide and save a new aggregate (``build(now)``); a conflict propagates (the id exists)."""
        with self.sequencer.deciding(at) as now:
            agg = build(now)
            self._save(agg)
        return agg

    def _hot(self, aggregate_id: UUID, cls: type[A], what: str) -> A:
        """A petition or ballot for reading only (call under its shared guard)."""
        agg = self.hot.get(aggregate_id, lambda: self._get(aggregate_id, cls, what))
        if not isinstance(agg, cls):
            raise NotFound(f"no such {what}", id=str(aggregate_id))
        return agg

    def _service(self, service: str) -> Service:
        try:
            agg: Any = self.repository.get(service_stream(service), projector_func=project)
        except AggregateNotFoundError:
            raise ServiceNotRegistered("service is not registered", service=service) from None
        assert isinstance(agg, Service)
        return agg

    def _authorise(self, by: Principal, type_: str, *, pseudonym: str | None = None) -> dict[str, str]:
        """Return the event actor for ``by`` causing an event of ``type_``, or raise."""
        perm = AUTHORISATION[type_]
        if isinstance(by, CitizenIdentity):
            if not perm.citizen or pseudonym is None:
                raise NotAuthorised("citizens may not do this", event_type=type_)
            return Actor.citizen(pseudonym).as_dict()
        if not isinstance(by, Actor):
            raise NotAuthorised("unknown principal")
        if by.kind == "system":
            if not perm.system:
                raise NotAuthorised("system actors may not do this", event_type=type_, actor=by.as_dict())
            return by.as_dict()
        if by.kind == "service":
            if perm.scope is None:
                raise NotAuthorised("services may not do this", event_type=type_, actor=by.as_dict())
            self._service(by.id).require(perm.scope)
            return by.as_dict()
        raise NotAuthorised("citizens act through an identity assertion", event_type=type_)

    def _as_applicant(self, by: Principal, type_: str, applicant: str, key: int) -> dict[str, str]:
        """Actor for an entry-level command: the entry's own applicant, or an authorised service."""
        if isinstance(by, CitizenIdentity):
            pseudonym = self.pseudonymizer.citizen(by.subject, key)
            if pseudonym != applicant:
                raise NotAuthorised("only the applicant may do this", event_type=type_)
            return self._authorise(by, type_, pseudonym=pseudonym)
        return self._authorise(by, type_)

    def _seal(self, subject: str, data: Mapping[str, str | int]) -> str:
        if self.vault is None:
            raise ConfigurationError("no personal-data vault configured")
        return self.vault.seal(subject, data)

    def _unseal_on_error(self, subject: str, commitment: str) -> None:
        if self.vault is not None:
            self.vault.discard(subject, commitment)

    def erase_personal_data(self, subject: str, *, at: datetime) -> None:
        """Crypto-shred a vault subject (e.g. ``kindergarten.<entry id>``). The log is untouched."""
        if self.vault is None:
            raise ConfigurationError("no personal-data vault configured")
        self.vault.erase(subject, at=rfc3339(at))

    # == services =======================================================================================
    def register_service(self, *, by: Principal, service: str, name: str, scopes: Iterable[str], at: datetime) -> UUID:
        actor = self._authorise(by, "service.registered")
        try:
            agg = self._create(
                at, lambda at: Service.register(service=service, name=name, scopes=scopes, at=at, actor=actor)
            )
        except IntegrityError:
            raise ServiceAlreadyRegistered("service id already registered", service=service) from None
        return agg.id

    def change_service_scopes(self, *, by: Principal, service: str, scopes: Iterable[str], at: datetime) -> None:
        actor = self._authorise(by, "service.scopes_changed")
        self._run(
            service_stream(service),
            Service,
            "service",
            at,
            lambda s, at: s.change_scopes(scopes=scopes, at=at, actor=actor),
        )

    def revoke_service(self, *, by: Principal, service: str, reason: str, at: datetime) -> None:
        actor = self._authorise(by, "service.revoked")
        self._run(
            service_stream(service), Service, "service", at, lambda s, at: s.revoke(reason=reason, at=at, actor=actor)
        )

    def get_service(self, service: str) -> Service:
        return self._service(service)

    # == petitions ======================================================================================
    def create_petition(
        self,
        *,
        by: CitizenIdentity,
        title: str,
        text: str,
        rules: Mapping[str, Any],
        at: datetime,
        petition_id: UUID | None = None,
    ) -> UUID:
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("petitions are created by citizens")
        key = self.pseudonymizer.current
        author = self.pseudonymizer.citizen(by.subject, key)
        actor = self._authorise(by, "petition.created", pseudonym=author)

        def build(at: datetime) -> Petition:
            petition = Petition.create(
                petition_id=petition_id or uuid4(),
                title=title,
                text=text,
                rules=rules,
                pseudonym_key=key,
                author=author,
                at=at,
                actor=actor,
            )
            if by.method not in petition.rules["identity_methods"]:
                raise IdentityMethodNotAllowed(
                    "identity method not allowed", expected=petition.rules["identity_methods"], found=by.method
                )
            return petition

        return self._create(at, build).id

    def publish_petition(self, *, by: Principal, petition_id: UUID, at: datetime) -> None:
        actor = self._authorise(by, "petition.published")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.publish(at=at, actor=actor))

    def reject_petition(self, *, by: Principal, petition_id: UUID, reason: str, at: datetime) -> None:
        actor = self._authorise(by, "petition.rejected")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.reject(reason=reason, at=at, actor=actor))

    def sign_petition(self, *, by: CitizenIdentity, petition_id: UUID, at: datetime) -> Signature.Signed:
        """Sign; returns the ``petition.signed`` event. Emits ``threshold_reached`` in the same save when
        this signature brings the count to the threshold.

        Signatures are decided and committed under the petition's shared guard, so none lands after a close
        decided meanwhile. One that may cross the threshold is decided under the exclusive guard instead: with
        no other signature of that petition in flight, the count it carries is exact."""
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("petitions are signed by citizens")
        for _ in range(self.MAX_ATTEMPTS):
            with self.guards.shared(petition_id):
                petition = self._hot(petition_id, Petition, "petition")
                with self._inflight_lock:
                    inflight = self._inflight.get(petition_id, 0)
                    crossing = (
                        not petition.threshold_reached
                        and self.signature_count(petition_id) + inflight + 1 >= petition.threshold
                    )
                    if not crossing:
                        self._inflight[petition_id] = inflight + 1
                if not crossing:
                    try:
                        event = self._sign(by, petition, at, may_cross=False)
                    finally:
                        with self._inflight_lock:
                            left = self._inflight[petition_id] - 1
                            if left:
                                self._inflight[petition_id] = left
                            else:
                                del self._inflight[petition_id]
                    if event is not None:
                        return event
                    continue
            with self._changing(petition_id):
                event = self._sign(by, self._get(petition_id, Petition, "petition"), at, may_cross=True)
            if event is not None:
                return event
        raise ConcurrentModification("petition kept changing; try again", id=str(petition_id))

    def _sign(
        self, by: CitizenIdentity, petition: Petition, at: datetime, *, may_cross: bool
    ) -> Signature.Signed | None:
        """One attempt: the event, or None when a concurrent write means deciding again."""
        signer = self.pseudonymizer.citizen(by.subject, petition.state["pseudonym_key"])
        actor = self._authorise(by, "petition.signed", pseudonym=signer)
        try:
            with self.sequencer.deciding(at) as now:
                signature = Signature.sign(
                    petition=petition, signer=signer, identity_method=by.method, at=now, actor=actor
                )
                event = signature.pending_events[0]
                touched: list[LedgerAggregate] = [signature]
                count = self.signature_count(petition.id) + 1
                if may_cross and not petition.threshold_reached and count >= petition.threshold:
                    petition.reach_threshold(count=count, signature=signature.id, at=now, actor=RULES.as_dict())
                    touched.append(petition)
                self._save(*touched)
        except IntegrityError:
            if self._exists(signature_stream(petition.id, signer)):
                raise DuplicateSignature(
                    "this citizen already signed", petition=str(petition.id), signer=signer
                ) from None
            return None
        assert isinstance(event, Signature.Signed)
        return event

    def respond_to_petition(self, *, by: Principal, petition_id: UUID, response: str, at: datetime) -> None:
        actor = self._authorise(by, "petition.responded")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.respond(response=response, at=at, actor=actor))

    def close_petition(self, *, by: Principal, petition_id: UUID, at: datetime) -> None:
        actor = self._authorise(by, "petition.closed")
        self._run(
            petition_id,
            Petition,
            "petition",
            at,
            lambda p, at: p.close(signatures=self.signature_count(petition_id), at=at, actor=actor),
        )

    def close_expired_petitions(self, *, by: Principal, at: datetime) -> list[UUID]:
        """Close every published petition whose deadline has passed, in one save."""
        actor = self._authorise(by, "petition.closed")
        ids = self.open_petition_ids()
        with self._changing(*ids):
            for _ in range(self.MAX_ATTEMPTS):
                petitions = [self._get(pid, Petition, "petition") for pid in ids]
                touched = []
                with self.sequencer.deciding(at) as now:
                    for p in petitions:
                        if p.status == "published" and p.state["deadline"] <= rfc3339(now):
                            p.close(signatures=self.signature_count(p.id), at=now, actor=actor)
                            touched.append(p)
                    try:
                        self._save(*touched)
                    except IntegrityError:
                        continue
                return [p.id for p in touched]
        raise ConcurrentModification("petitions kept changing; try again")

    def get_petition(self, petition_id: UUID) -> Petition:
        return self._get(petition_id, Petition, "petition")

    # == ballots ========================================================================================
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

    # == kindergarten queues ============================================================================
    def create_kindergarten_queue(
        self,
        *,
        by: Principal,
        name: str,
        institutions: Iterable[str],
        at: datetime,
        benefits: Any = None,
        removal_reasons: Any = None,
        acceptance_days: int = 30,
        max_preferences: int = 3,
        queue_id: UUID | None = None,
    ) -> UUID:
        actor = self._authorise(by, "queue.created")
        queue = self._create(
            at,
            lambda at: KindergartenQueue.create(
                queue_id=queue_id or uuid4(),
                name=name,
                institutions=institutions,
                benefits=CHERNIVTSI_KINDERGARTEN_BENEFITS if benefits is None else benefits,
                removal_reasons=KINDERGARTEN_REMOVAL_REASONS if removal_reasons is None else removal_reasons,
                acceptance_days=acceptance_days,
                max_preferences=max_preferences,
                pseudonym_key=self.pseudonymizer.current,
                at=at,
                actor=actor,
            ),
        )
        return queue.id

    @staticmethod
    def kindergarten_subject(entry_id: str) -> str:
        """Vault subject holding an entry's personal data (child's data, benefit documents)."""
        return f"kindergarten.{entry_id}"

    def register_kindergarten_entry(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        child_key: str,
        child_data: Mapping[str, str | int],
        birth_year: int,
        institutions: list[str],
        at: datetime,
        applicant: CitizenIdentity | None = None,
    ) -> str:
        """Register a child. ``by`` is the applicant (a citizen) or a service registering for ``applicant``.
        ``child_key`` (e.g. the birth-certificate number) is only pseudonymised, to refuse duplicate entries;
        ``child_data`` goes to the vault and the event carries its commitment. Returns the entry id."""
        if isinstance(by, CitizenIdentity):
            if applicant is not None and applicant != by:
                raise NotAuthorised("a citizen registers only for themself")
            applicant = by
        if applicant is None:
            raise InvalidInput("a service registering an entry must name the applicant")
        if not isinstance(child_key, str) or not child_key.strip():
            raise InvalidInput("child_key must be a non-empty string")
        holder = applicant

        def command(q: KindergartenQueue, at: datetime) -> str:
            key = q.state["pseudonym_key"]
            pseudonym = self.pseudonymizer.citizen(holder.subject, key)
            if isinstance(by, CitizenIdentity):
                actor = self._authorise(by, "queue.entry_registered", pseudonym=pseudonym)
            else:
                actor = self._authorise(by, "queue.entry_registered")
            subject = self.kindergarten_subject(q.next_entry_id())
            commitment = self._seal(subject, child_data)
            try:
                return q.register(
                    applicant=pseudonym,
                    child=self.pseudonymizer.child(child_key.strip(), key),
                    child_commitment=commitment,
                    birth_year=birth_year,
                    institutions=institutions,
                    at=at,
                    actor=actor,
                )
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def grant_benefit(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        entry: str,
        code: str,
        document: Mapping[str, str | int],
        at: datetime,
    ) -> str:
        """Grant a benefit on the basis of a document (sealed in the vault). Returns the document commitment."""
        actor = self._authorise(by, "queue.benefit_granted")

        def command(q: KindergartenQueue, at: datetime) -> str:
            q.entry(entry)
            subject = self.kindergarten_subject(entry)
            commitment = self._seal(subject, document)
            try:
                q.grant_benefit(entry=entry, code=code, document_commitment=commitment, at=at, actor=actor)
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise
            return commitment

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def revoke_benefit(
        self, *, by: Principal, queue_id: UUID, entry: str, code: str, reason: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "queue.benefit_revoked")
        self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.revoke_benefit(entry=entry, code=code, reason=reason, at=at, actor=actor),
        )

    def change_preferences(
        self, *, by: Principal, queue_id: UUID, entry: str, institutions: list[str], at: datetime
    ) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            e = q.entry(entry)
            actor = self._as_applicant(by, "queue.preferences_changed", e["applicant"], q.state["pseudonym_key"])
            q.change_preferences(entry=entry, institutions=institutions, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def issue_offer(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        institution: str,
        birth_year: int,
        place: str,
        at: datetime,
        entry: str | None = None,
    ) -> str:
        """Offer a place to the first eligible entry of the group; returns the offer id."""
        actor = self._authorise(by, "queue.offer_issued")
        return self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.issue_offer(
                institution=institution, birth_year=birth_year, place=place, entry=entry, at=at, actor=actor
            ),
        )

    def _offer_command(self, by: Principal, queue_id: UUID, offer: str, type_: str, at: datetime) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            o = q.offer(offer)
            applicant = q.entry(o["entry"])["applicant"]
            actor = self._as_applicant(by, type_, applicant, q.state["pseudonym_key"])
            if type_ == "queue.offer_accepted":
                q.accept_offer(offer=offer, at=at, actor=actor)
            else:
                q.decline_offer(offer=offer, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def accept_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        self._offer_command(by, queue_id, offer, "queue.offer_accepted", at)

    def decline_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        self._offer_command(by, queue_id, offer, "queue.offer_declined", at)

    def expire_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        actor = self._authorise(by, "queue.offer_expired")
        self._run(
            queue_id, KindergartenQueue, "queue", at, lambda q, at: q.expire_offer(offer=offer, at=at, actor=actor)
        )

    def expire_due_offers(self, *, by: Principal, queue_id: UUID, at: datetime) -> list[str]:
        """Expire every pending offer whose acceptance period is over (one save)."""
        actor = self._authorise(by, "queue.offer_expired")

        def command(q: KindergartenQueue, at: datetime) -> list[str]:
            due = q.due_expiries(at)
            for offer in due:
                q.expire_offer(offer=offer, at=at, actor=actor)
            return due

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def withdraw_entry(self, *, by: Principal, queue_id: UUID, entry: str, at: datetime) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            e = q.entry(entry)
            actor = self._as_applicant(by, "queue.entry_withdrawn", e["applicant"], q.state["pseudonym_key"])
            q.withdraw(entry=entry, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def remove_entry(self, *, by: Principal, queue_id: UUID, entry: str, reason_code: str, at: datetime) -> None:
        actor = self._authorise(by, "queue.entry_removed")
        self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.remove(entry=entry, reason_code=reason_code, at=at, actor=actor),
        )

    def get_kindergarten_queue(self, queue_id: UUID) -> KindergartenQueue:
        return self._get(queue_id, KindergartenQueue, "queue")

    def kindergarten_list(self, queue_id: UUID, institution: str, birth_year: int) -> list[dict[str, Any]]:
        return kindergarten_list(self.get_kindergarten_queue(queue_id).state, institution, birth_year)

    def entry_positions(self, queue_id: UUID, entry: str) -> dict[str, int]:
        q = self.get_kindergarten_queue(queue_id)
        q.entry(entry)
        return entry_positions(q.state, entry)

    # == housing register ===============================================================================
    def open_housing_register(
        self,
        *,
        by: Principal,
        name: str,
        at: datetime,
        removal_reasons: Any = None,
        list_bases: Mapping[str, Any] | None = None,
        register_id: UUID | None = None,
    ) -> UUID:
        actor = self._authorise(by, "housing.register_opened")
        reg = self._create(
            at,
            lambda at: HousingRegister.open(
                register_id=register_id or uuid4(),
                name=name,
                removal_reasons=HOUSING_REMOVAL_REASONS if removal_reasons is None else removal_reasons,
                list_bases=HOUSING_LIST_BASES if list_bases is None else list_bases,
                pseudonym_key=self.pseudonymizer.current,
                at=at,
                actor=actor,
            ),
        )
        return reg.id

    @staticmethod
    def housing_subject(entry_id: str) -> str:
        return f"housing.{entry_id}"

    def register_housing_entry(
        self,
        *,
        by: Principal,
        register_id: UUID,
        household_data: Mapping[str, str | int],
        at: datetime,
        applicant: CitizenIdentity | None = None,
    ) -> str:
        if isinstance(by, CitizenIdentity):
            if applicant is not None and applicant != by:
                raise NotAuthorised("a citizen registers only for themself")
            applicant = by
        if applicant is None:
            raise InvalidInput("a service registering an entry must name the applicant")
        holder = applicant

        def command(r: HousingRegister, at: datetime) -> str:
            pseudonym = self.pseudonymizer.citizen(holder.subject, r.state["pseudonym_key"])
            if isinstance(by, CitizenIdentity):
                actor = self._authorise(by, "housing.entry_registered", pseudonym=pseudonym)
            else:
                actor = self._authorise(by, "housing.entry_registered")
            subject = self.housing_subject(str(stream_id(str(r.id), "entry", str(r.state["registrations"] + 1))))
            commitment = self._seal(subject, household_data)
            try:
                return r.register(applicant=pseudonym, household_commitment=commitment, at=at, actor=actor)
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise

        return self._run(register_id, HousingRegister, "housing register", at, command)

    def include_in_list(
        self,
        *,
        by: Principal,
        register_id: UUID,
        entry: str,
        list_name: str,
        code: str,
        document: Mapping[str, str | int],
        at: datetime,
    ) -> str:
        actor = self._authorise(by, "housing.list_included")

        def command(r: HousingRegister, at: datetime) -> str:
            r.entry(entry)
            subject = self.housing_subject(entry)
            commitment = self._seal(subject, document)
            try:
                r.include(
                    entry=entry, list_name=list_name, code=code, document_commitment=commitment, at=at, actor=actor
                )
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise
            return commitment

        return self._run(register_id, HousingRegister, "housing register", at, command)

    def exclude_from_list(
        self, *, by: Principal, register_id: UUID, entry: str, list_name: str, reason: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "housing.list_excluded")
        self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.exclude(entry=entry, list_name=list_name, reason=reason, at=at, actor=actor),
        )

    def reregister_housing_entry(
        self, *, by: Principal, register_id: UUID, entry: str, year: int, at: datetime
    ) -> None:
        def command(r: HousingRegister, at: datetime) -> None:
            e = r.entry(entry)
            actor = self._as_applicant(by, "housing.reregistered", e["applicant"], r.state["pseudonym_key"])
            r.reregister(entry=entry, year=year, at=at, actor=actor)

        self._run(register_id, HousingRegister, "housing register", at, command)

    def propose_housing_removals(self, *, by: Principal, register_id: UUID, year: int, at: datetime) -> list[str]:
        actor = self._authorise(by, "housing.removal_proposed")
        return self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.propose_removals(year=year, at=at, actor=actor),
        )

    def remove_housing_entry(
        self, *, by: Principal, register_id: UUID, entry: str, reason_code: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "housing.entry_removed")
        self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.remove(entry=entry, reason_code=reason_code, at=at, actor=actor),
        )

    def allocate_dwelling(
        self,
        *,
        by: Principal,
        register_id: UUID,
        list_name: str,
        dwelling: str,
        at: datetime,
        entry: str | None = None,
    ) -> str:
        actor = self._authorise(by, "housing.dwelling_allocated")
        return self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.allocate(list_name=list_name, dwelling=dwelling, entry=entry, at=at, actor=actor),
        )

    def get_housing_register(self, register_id: UUID) -> HousingRegister:
        return self._get(register_id, HousingRegister, "housing register")

    def housing_list(self, register_id: UUID, list_name: str) -> list[str]:
        if list_name not in HOUSING_LISTS:
            raise UnknownList("unknown list", found=str(list_name), expected=list(HOUSING_LISTS))
        return list_order(self.get_housing_register(register_id).state, list_name)
