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

from domain.ballots.aggregate import fold_ballot
from domain.ballots.rules import compute_tally
from domain.base import Fold, event_time, public_data
from domain.housing.aggregate import fold_housing
from domain.housing.order import housing_lists
from domain.kindergarten.aggregate import fold_kindergarten
from domain.kindergarten.order import kindergarten_orders
from domain.petitions.aggregate import fold_petition
from domain.services.aggregate import fold_service


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


STREAM_FOLDS: dict[str, Fold] = {
    "service.": fold_service,
    "petition.": fold_petition,
    "ballot.": fold_ballot,
    "queue.": fold_kindergarten,
    "housing.": fold_housing,
}


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
        self.position = 0
        self._lock = threading.RLock()

    def apply(self, record: EventRecord) -> None:
        with self._lock:
            self._apply(record)

    def _apply(self, record: EventRecord) -> None:
        self.position += 1
        t = record.type
        if t == "petition.signed":
            p = record.data["petition"]
            self.signatures[p] = self.signatures.get(p, 0) + 1
            return
        if t in ("ballot.vote_cast", "ballot.vote_changed"):
            voters = self.votes.setdefault(record.data["ballot"], {})
            current = voters.get(record.data["voter"])
            if current is None or current[0] < record.version:
                voters[record.data["voter"]] = (record.version, list(record.data["selection"]))
            return
        prefix = t.split(".", 1)[0] + "."
        fold = STREAM_FOLDS.get(prefix)
        if fold is None:
            return
        stream = record.stream
        if record.version != self.versions.get(stream, 0) + 1:
            self.early.setdefault(stream, {})[record.version] = record
            return
        while True:
            if record.version == 1:
                self.streams[stream] = {}
                self.kinds[stream] = prefix[:-1]
            fold(self.streams[stream], record.type, record.time, record.actor, record.data)
            self.versions[stream] = record.version
            waiting = self.early.get(stream)
            if not waiting or record.version + 1 not in waiting:
                return
            record = waiting.pop(record.version + 1)

    def apply_all(self, records: Iterable[EventRecord]) -> None:
        with self._lock:
            for r in records:
                self._apply(r)

    # -- queries -------------------------------------------------------------------------------------------
    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {s: st for s, st in self.streams.items() if self.kinds[s] == kind}

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
        """Published state (petition counts and statuses, tallies of closed ballots, queue orders)."""
        petitions = {
            pid: {
                "status": st["status"],
                "signatures": self.signature_count(pid),
                "threshold": st["rules"]["threshold"],
                "threshold_reached": st["threshold_reached"],
                "responded": st["responded"],
            }
            for pid, st in sorted(self.of_kind("petition").items())
        }
        ballots = {
            bid: {"status": st["status"], "tally": st.get("tally")}
            for bid, st in sorted(self.of_kind("ballot").items())
        }
        queues = {qid: kindergarten_orders(st) for qid, st in sorted(self.of_kind("queue").items())}
        registers = {rid: housing_lists(st) for rid, st in sorted(self.of_kind("housing").items())}
        return {"petitions": petitions, "ballots": ballots, "kindergarten": queues, "housing": registers}
