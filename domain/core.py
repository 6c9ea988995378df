"""The application core every context's commands run on: one eventsourcing ``Application``, its plumbing.

Every command: validates its input, checks the actor (:meth:`AppCore._authorise`: scope for services, identity for
citizens, the table is ``domain.kinds.AUTHORISATION``), runs the aggregate command(s) and saves every touched
aggregate in ONE ``self.save(...)`` (atomic). A store conflict (``IntegrityError``) either means a uniqueness
violation (duplicate signature) or a concurrent writer: then the command is re-run on fresh state (at most
``MAX_ATTEMPTS`` times) so it is decided again, e.g. a second offer for the same place becomes ``PlaceUnavailable``.
A save the store refuses because another process committed a later event meanwhile
(:class:`~domain.sequencing.DecideAgain`) is decided again the same way, by every command, creations included:
it is never a duplicate.

Every save happens inside a decision of the writer's :class:`~domain.sequencing.Sequencer` (``_save`` refuses
otherwise), so event time and log order agree. Aggregates that other streams' commands read (petitions, ballots) are
changed under their exclusive guard (:mod:`domain.guards`).

The core never configures persistence nor reads settings: the ledger sets its infrastructure through ``env`` and
hands it its pseudonymizer and vault (ledger/runtime.py). Counts and tallies are read from an in-process
:class:`~domain.projections.Projections`, rebuilt from the notification log at start-up and fed after each save.

The commands themselves live in ``domain/<context>/commands.py``, one mixin per context over this core;
:class:`domain.app.CityApp` composes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from domain.base import LedgerAggregate
from domain.cache import AggregateCache
from domain.errors import (
    ConcurrentModification,
    ConfigurationError,
    CustomRulesRefused,
    InvalidInput,
    NotAuthorised,
    NotFound,
    RuleSetNotPublished,
    ServiceNotRegistered,
)
from domain.guards import HotAggregates, StreamGuards
from domain.identity import Actor, CitizenIdentity, Principal, Pseudonymizer
from domain.kinds import AUTHORISATION, KINDS
from domain.pii import PersonalDataVault
from domain.projections import Projections, record_of
from domain.rulesets.aggregate import MAX_VERSION, RuleSet, rule_set_stream
from domain.sequencing import DecideAgain, Sequencer
from domain.services.aggregate import Service, service_stream
from domain.topics import register_moved_modules

A = TypeVar("A", bound=LedgerAggregate)
#: Aggregates that other streams' commands read (signatures read petitions, votes read ballots): the kinds say which.
GUARDED: tuple[type[LedgerAggregate], ...] = tuple(cls for kind in KINDS for cls in kind.guarded)
R = TypeVar("R")
#: Aggregates that operator commands change from their own process while the server runs (`hromada service add`,
#: docs/api.md): their cached copies are checked against the store even in the one writer.
WRITTEN_BESIDE: tuple[type[LedgerAggregate], ...] = (Service,)
#: Attributes of an aggregate derived from its state (order indexes), left out of snapshots.
INDEX_ATTRIBUTES = ("_index",)


def snapshot_step(interval: int, version: int) -> int:
    """Versions between snapshots of a stream at ``version``: ``interval``, doubled while it is at most an eighth of
    the stream (200, 400 from version 1,600, 800 from 3,200 ...): so between a quarter and an eighth of a long one."""
    step = interval
    while step * 8 <= version:
        step *= 2
    return step


register_moved_modules()  # rows written before the contexts moved name their old modules (domain/topics.py)


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Projector for our aggregates: the library's default re-checks a runtime Protocol on every event,
    which costs more than the mutation itself on long streams."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class AppCore(Application[UUID]):
    """The plumbing of one city application: load, decide, save; guards and the writer's sequencer; authorisation;
    the personal-data vault. No command of any context lives here (see ``domain/<context>/commands.py``)."""

    MAX_ATTEMPTS = 5

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
        #: The aggregates commands change, kept current by fast-forward (domain/cache.py).
        self.cache = AggregateCache()
        #: Commands in flight per aggregate, not yet in the projections (signatures per petition, read by
        #: domain/petitions/commands.py to tell whether a signature may cross the threshold).
        self._inflight: dict[UUID, int] = {}
        self._inflight_lock = threading.Lock()
        if pseudonymizer is None:
            # the domain reads no settings: the composition root builds the pseudonymizer (ledger/runtime.py)
            raise ConfigurationError("no pseudonymizer: the application must be given its pseudonym keys")
        self.pseudonymizer = pseudonymizer
        self.vault = vault
        self.projections = Projections()
        self.rebuild_projections()

    # == projections ==================================================================================
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

    # == plumbing =======================================================================================
    def _save(self, *aggregates: LedgerAggregate) -> None:
        """Save in ONE atomic write. Only inside a decision (:mod:`domain.sequencing`): event time and log order agree
        only for events whose time was taken where their commit is ordered."""
        self.sequencer.writing()
        events = [e for a in aggregates for e in a.pending_events]
        self.save(*aggregates)
        for a in aggregates:  # a copy of it cached apart from this object is now behind the store
            self.cache.saved(a)
        self.projections.apply_all(record_of(e) for e in events)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's ``save`` (eventsourcing 9.5 ``Application.save``: collect, record, snapshot, notify) for our
        aggregates, without its two runtime-``Protocol`` ``isinstance`` checks per object (each walks the protocol's
        members: ~15 µs of every command). Anything else goes to the library's."""
        if kwargs or not all(isinstance(o, LedgerAggregate) for o in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, called as it does
        return recordings

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot a saved aggregate from the object just saved (the library reloads it from the store first: a
        second O(stream) read per snapshot), when the save crossed a multiple of :func:`snapshot_step`: the kind's
        interval while the stream is short, an eighth to a quarter of its length once it is long, so the O(state)
        cost of writing a snapshot stays O(1) per event and a cold load replays at most that tail."""
        intervals = self.snapshotting_intervals
        if not self.snapshots or not intervals:
            return
        aggregates = processing_event.aggregates
        if not any(type(a) in intervals for a in aggregates.values()):  # most saves: no snapshotted kind
            return
        saved: dict[UUID, tuple[int, int]] = {}
        for event in processing_event.events:
            lo, hi = saved.get(event.originator_id, (event.originator_version, event.originator_version))
            saved[event.originator_id] = (min(lo, event.originator_version), max(hi, event.originator_version))
        for aggregate_id, (lo, hi) in saved.items():
            aggregate = aggregates.get(aggregate_id)
            interval = None if aggregate is None else intervals.get(type(aggregate))
            if interval is None or aggregate.version != hi:
                continue
            step = snapshot_step(interval, hi)
            if hi // step > (lo - 1) // step:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                assert snapshot_class is not None  # snapshotting is on (the intervals are set)
                snapshot = snapshot_class.take(aggregate)
                for name in INDEX_ATTRIBUTES:  # derived indexes are rebuilt on load, never stored
                    snapshot.state.pop(name, None)
                self.snapshots.put([snapshot])

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
        """Decide on the cached aggregate, fast-forwarded to the store's latest version (domain/cache.py), under its
        in-process lock; a save refused by the store's version check drops the copy and decides again."""
        for _ in range(self.MAX_ATTEMPTS):
            with self.cache.holding(aggregate_id):
                agg = self._current(aggregate_id, cls, what)
                version = agg.version
                try:
                    with self.sequencer.deciding(at) as now:
                        result = command(agg, now)
                        try:
                            self._save(agg)
                        except (IntegrityError, DecideAgain):
                            self.cache.drop(aggregate_id)
                            continue
                except BaseException:
                    if agg.version != version:  # failed after an emit: the state holds events never stored
                        self.cache.drop(aggregate_id)
                    raise
            return result
        raise ConcurrentModification("aggregate kept changing; try again", id=str(aggregate_id))

    def _current(self, aggregate_id: UUID, cls: type[A], what: str) -> A:
        """The aggregate as stored now: the cached copy plus the events stored after its version (one indexed
        read, empty unless another process wrote), or loaded (snapshot + tail) and cached. Call holding its lock.

        In the one writer of its database (``single_writer``, or the API's ``aggregate_cache``: ``hot.enabled``,
        held by ledger/writerlock.py) every save goes through :meth:`_save`, which drops a cached copy that
        another object replaced, so a cached copy is current and not even that read is needed; except services
        (:data:`WRITTEN_BESIDE`), which operator commands may change beside the server."""
        agg: Any = self.cache.get(aggregate_id)
        if agg is None:
            agg = self._get(aggregate_id, cls, what)
            build = getattr(agg, "index", None)
            if callable(build):  # a queue's or register's lookup index: built once per load, not by some command
                build()
        elif not self.hot.enabled or cls in WRITTEN_BESIDE:  # else the one writer saw every save: current
            try:
                agg = project(agg, self.events.get(aggregate_id, gt=agg.version))
            except BaseException:
                self.cache.drop(aggregate_id)
                raise
        if not isinstance(agg, cls):
            raise NotFound(f"no such {what}", id=str(aggregate_id))
        self.cache.put(aggregate_id, agg)
        return agg

    def _read(self, aggregate_id: UUID, cls: type[A], what: str, query: Callable[[A], R]) -> R:
        """``query`` on the current aggregate (the cached one, fast-forwarded): it must return a copy, never a part
        of the aggregate's state (which the next command mutates)."""
        with self.cache.holding(aggregate_id):
            return query(self._current(aggregate_id, cls, what))

    def _create(self, at: datetime, build: Callable[[datetime], A]) -> A:
        """Decide and save a new aggregate (``build(now)``); a conflict propagates (the id exists). A save the store
        refuses for another process's later event (:class:`~domain.sequencing.DecideAgain`) is built again."""
        for _ in range(self.MAX_ATTEMPTS):
            with self.sequencer.deciding(at) as now:
                agg = build(now)
                try:
                    self._save(agg)
                except DecideAgain:
                    continue
            return agg
        raise ConcurrentModification("the log kept moving under this command; try again")

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

    def _rule_set(self, name: str, version: int | None) -> RuleSet:
        """A published rule set (its ``version``, or the latest when None); RuleSetNotPublished otherwise. Rule sets
        never change once published, so the cached copy is the stored one."""
        if version is None:
            version = self.projections.latest_rule_set(name) if isinstance(name, str) else None
            if version is None:
                raise RuleSetNotPublished("the city has published no rule set of this name", ruleset=str(name))
        if not isinstance(name, str) or type(version) is not int or not 1 <= version <= MAX_VERSION:
            raise RuleSetNotPublished("no such rule set", ruleset=str(name), version=str(version))
        try:
            return self._read(rule_set_stream(name, version), RuleSet, "rule set", lambda r: r)
        except NotFound:
            raise RuleSetNotPublished(
                "the city has not published this version of the rule set", ruleset=name, version=version
            ) from None

    def _referenced_rules(
        self, applies_to: str, rule_set: str | None, version: int | None, *, inline: bool, what: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The rules a new petition, queue or ballot (``applies_to``) freezes: ``(rules, {name, version})`` of the
        published rule set it names (``rule_set``, its latest version unless ``version``), or ``(None, None)`` when
        it names none and may write its rules inline (``inline``: it gave some, ``what`` names them). Inline rules
        are for a city that has published no rule set for this kind yet; from its first one on they are refused."""
        if rule_set is not None:
            if inline:
                raise InvalidInput(f"give rule_set or {what}, not both", field="rule_set")
            published = self._rule_set(rule_set, version)
            if published.state["applies_to"] != applies_to:
                raise RuleSetNotPublished(
                    f"the rule set does not apply to {applies_to}s",
                    ruleset=rule_set,
                    applies_to=published.state["applies_to"],
                )
            return dict(published.state["rules"]), published.reference
        if version is not None:
            raise InvalidInput("rule_set_version names a version of rule_set: give rule_set", field="rule_set")
        names = self.projections.rule_sets_for(applies_to)
        if names:
            raise CustomRulesRefused(
                f"the city publishes its {applies_to} rules: name one of its rule sets (rule_set) instead of {what}",
                published=names,
            )
        return None, None

    def _require_scope(self, service: str, scope: str) -> None:
        """Refuse unless ``service`` is registered, active and holds ``scope`` (on its cached aggregate)."""
        try:
            self._read(service_stream(service), Service, "service", lambda s: s.require(scope))
        except NotFound:
            raise ServiceNotRegistered("service is not registered", service=service) from None

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
            self._require_scope(by.id, perm.scope)
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
