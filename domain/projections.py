"""Projections: pure folds over event records (counts, tallies, queue orders, positions).

A record is what the public log carries for an event: ``type``, ``stream``, ``version``, ``time``, ``actor``
and ``data`` (:class:`EventRecord`; :func:`record_of` builds one from a domain event). The same code can run
over the envelopes of an audit bundle, so the published state can be recomputed from the log alone.
Records must be applied in log order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from domain.ballots.aggregate import CastRecord, VoteRecord
from domain.ballots.ceremony import CEREMONY_TYPES, ceremony_status, fold_ceremony
from domain.ballots.crypto.ballot import statement
from domain.ballots.rules import compute_tally
from domain.base import event_time, public_data
from domain.catalogue import Catalogue
from domain.clock import Deadlines
from domain.kinds import KINDS
from domain.personal_data.aggregate import erasure_stream
from domain.petitions.aggregate import Signature
from domain.registry import Kind


class EventRecord(NamedTuple):
    type: str
    stream: str
    version: int
    time: str
    actor: Mapping[str, str]
    data: Mapping[str, Any]


def record_of(event: Any) -> EventRecord:
    return EventRecord(
        type=type(event).TYPE,
        stream=str(event.originator_id),
        version=event.originator_version,
        time=event_time(event),
        actor=event.actor,
        data=public_data(event),
    )


#: ``"<prefix>."`` (current or legacy) -> the kind whose fold a stream with events of that prefix gets.
STREAM_KINDS: dict[str, Kind] = {f"{p}.": k for k in KINDS for p in k.prefixes}
#: Events of streams not kept per stream, counted instead (one-event signature streams, the voters' streams).
SIGNED = Signature.Signed.TYPE
VOTES = (VoteRecord.VoteCast.TYPE, VoteRecord.VoteChanged.TYPE)
RULESET_PUBLISHED = "ruleset.published"
BALLOTS_CAST = (CastRecord.BallotCast.TYPE, CastRecord.BallotRecast.TYPE)


class Projections:
    """In-memory read model of one log. Signature and vote streams are not kept per stream (a million of
    them would not fit comfortably): they feed counters instead.

    Thread-safe. Writers in several threads may deliver records of different streams out of log order; records
    of one stream are applied in version order (a record arriving early waits for its predecessor)."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}
        self.kinds: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.early: dict[str, dict[int, EventRecord]] = {}
        self.signatures: dict[str, int] = {}
        #: ballot id -> voter pseudonym -> (version, selection) of the voter's last vote.
        self.votes: dict[str, dict[str, tuple[int, list[str]]]] = {}
        #: Encrypted ballots: ballot id -> voter -> (version, tracker, ciphertexts) of the voter's last ballot
        #: (no choice, no count: the aggregate is summed once, at ``ballot.voting_ended``), and every tracker ->
        #: (ballot, voter, version) for the tracker's status.
        self.cast: dict[str, dict[str, tuple[int, str, tuple[tuple[int, bytes, bytes], ...]]]] = {}
        self.trackers: dict[str, tuple[str, str, int, str]] = {}
        #: Ceremonies by ballot id (their streams are not ballots: not in ``streams``, not published).
        self.ceremonies: dict[str, dict[str, Any]] = {}
        #: Published rule sets: name -> its latest version (domain/rulesets/).
        self.rule_sets: dict[str, int] = {}
        #: What published rule sets apply to (``petition``, ``kindergarten``, ...) -> the names published for it.
        self.rule_set_kinds: dict[str, set[str]] = {}
        self._positions: dict[tuple[str, str | None], list[int]] = {}
        self.position = 0
        #: Sorted indexes for the open-data lists (domain/catalogue.py), kept as records are applied.
        self.catalogue = Catalogue()
        #: Upcoming deadlines of the clock (domain.clock), fed as events are applied.
        self.deadlines = Deadlines()
        self._lock = threading.RLock()

    def apply(self, record: EventRecord) -> None:
        with self._lock:
            self._apply(record)

    def _apply(self, record: EventRecord) -> None:
        self.position += 1
        t = record.type
        if t == SIGNED:
            p = record.data["petition"]
            self.signatures[p] = self.signatures.get(p, 0) + 1
            self.catalogue.signed(p, record.data["signer"], record.time)
            return
        if t in VOTES:
            voters = self.votes.setdefault(record.data["ballot"], {})
            current = voters.get(record.data["voter"])
            if current is None or current[0] < record.version:
                voters[record.data["voter"]] = (record.version, list(record.data["selection"]))
            return
        if t in BALLOTS_CAST:
            self._cast(record)
            return
        if t in CEREMONY_TYPES:
            state = self.ceremonies.setdefault(record.data["ballot"], {})
            fold_ceremony(state, t, record.time, record.actor, record.data)
            return
        if t == RULESET_PUBLISHED:
            name, version = record.data["ruleset"], record.data["version"]
            self.rule_sets[name] = max(version, self.rule_sets.get(name, 0))
            self.rule_set_kinds.setdefault(record.data["applies_to"], set()).add(name)
        kind = STREAM_KINDS.get(t.split(".", 1)[0] + ".")
        if kind is None:
            return
        fold = kind.fold
        stream = record.stream
        if record.version != self.versions.get(stream, 0) + 1:
            self.early.setdefault(stream, {})[record.version] = record
            return
        while True:
            if record.version == 1:
                self.streams[stream] = {}
                self.kinds[stream] = kind.prefix
            # legacy prefixes (``queue.*`` of envelope format 1) reach the fold under the kind's current name
            type_ = kind.canonical(record.type)
            fold(self.streams[stream], type_, record.time, record.actor, record.data)
            self.catalogue.update(kind.name, stream, record.time, self.streams[stream])
            self.deadlines.observe(type_, stream, record.data, self.streams[stream])
            self.versions[stream] = record.version
            waiting = self.early.get(stream)
            if not waiting or record.version + 1 not in waiting:
                return
            record = waiting.pop(record.version + 1)

    def _cast(self, record: EventRecord) -> None:
        d = record.data
        ballot, voter = d["ballot"], d["voter"]
        self.trackers[d["tracker"]] = (ballot, voter, record.version, record.stream)
        voters = self.cast.setdefault(ballot, {})
        current = voters.get(voter)
        if current is not None and current[0] > record.version:
            return
        key = (ballot, d["district"])
        positions = self._positions.get(key)
        if positions is None:
            spec = self.streams.get(ballot)
            if spec is None:  # pragma: no cover - a ballot is cast only after its ballot.opened
                return
            index = {o["id"]: i for i, o in enumerate(spec["options"])}
            st = statement(spec, d["district"])
            positions = self._positions[key] = [index[o] for o in st.options]
        cts = tuple(
            (o, bytes.fromhex(ct["a"]), bytes.fromhex(ct["b"]))
            for o, ct in zip(positions, d["ciphertexts"], strict=True)
        )
        voters[voter] = (record.version, d["tracker"], cts)

    def last_ballots(self, ballot_id: str) -> list[tuple[tuple[int, bytes, bytes], ...]]:
        """Each voter's last encrypted ballot: option position -> ciphertext (read once, at ``voting_ended``)."""
        with self._lock:
            return [cts for _, _, cts in self.cast.get(ballot_id, {}).values()]

    def has_cast(self, ballot_id: str, voter: str) -> bool:
        with self._lock:
            return voter in self.cast.get(ballot_id, {})

    def tracker(self, tracker: str) -> tuple[str, str, int, str, bool] | None:
        """``(ballot, voter, version, stream, last)`` of a tracker: ``last`` when it is the voter's latest ballot."""
        with self._lock:
            found = self.trackers.get(tracker)
            if found is None:
                return None
            ballot, voter, version, stream = found
            return ballot, voter, version, stream, self.cast[ballot][voter][0] == version

    def ceremony(self, ballot_id: str) -> dict[str, Any] | None:
        with self._lock:
            state = self.ceremonies.get(ballot_id)
            return None if state is None else {**state, "status": ceremony_status(state)}

    def apply_all(self, records: Iterable[EventRecord]) -> None:
        with self._lock:
            for r in records:
                self._apply(r)

    # -- queries -------------------------------------------------------------------------------------------
    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Stream id -> folded state of every stream of the kind whose current prefix is ``kind`` (``petition``)."""
        return {s: st for s, st in self.streams.items() if self.kinds[s] == kind}

    def erasure(self, subject: str) -> dict[str, Any] | None:
        """The logged erasure of vault subject ``subject`` (``subject``, ``reason``, ``erased_at``), or None."""
        with self._lock:
            state = self.streams.get(str(erasure_stream(subject)))
            return None if state is None or state.get("subject") != subject else dict(state)

    def latest_rule_set(self, name: str) -> int | None:
        """The latest published version of rule set ``name`` (None: never published)."""
        with self._lock:
            return self.rule_sets.get(name)

    def rule_sets_for(self, applies_to: str) -> list[str]:
        """The names of the rule sets published for ``applies_to`` (``petition``, ``kindergarten``, ``housing``,
        ``ballot``), sorted: from the first one on, every new petition, queue or ballot of that kind names one."""
        with self._lock:
            return sorted(self.rule_set_kinds.get(applies_to, ()))

    def signature_count(self, petition_id: str) -> int:
        return self.signatures.get(petition_id, 0)

    def has_voted(self, ballot_id: str, voter: str) -> bool:
        with self._lock:
            return voter in self.votes.get(ballot_id, {})

    def counted_votes(self, ballot_id: str) -> list[list[str]]:
        with self._lock:
            return [selection for _, selection in self.votes.get(ballot_id, {}).values()]

    def tally(self, ballot_id: str) -> dict[str, Any]:
        return compute_tally(self.streams[ballot_id], self.counted_votes(ballot_id))

    def public_state(self) -> dict[str, Any]:
        """Published state: each kind's part (``Kind.state_part``), one value per stream in stream id order (petition
        counts and statuses, tallies of closed ballots, queue orders, housing lists)."""
        return {
            k.state_part: {sid: k.published(self, sid, st) for sid, st in sorted(self.of_kind(k.prefix).items())}
            for k in KINDS
            if k.state_part is not None and k.published is not None
        }
