"""Log order across processes: the store refuses a write decided before an event another process committed.

One process orders its own decisions (domain/sequencing.py: one decision at a time, committed in decision order).
Another process writing the same database, such as an operator's CLI command beside `hromada serve` (docs/api.md),
decides under its own sequencer, so it may commit a later-timed event while this one holds decided but uncommitted
writes, and those would land after it with earlier times (`time_backwards` in the audit). So every write of events
(the group committer's batch, and a single save without one) is checked in its own transaction, after it holds the
database's write lock and before it inserts (ledger/db/recorder.py: `BEGIN IMMEDIATE` on SQLite, `LOCK TABLE ...
IN EXCLUSIVE MODE` on PostgreSQL, held to the commit, so nothing commits between the check and the insert):

1. One indexed read per transaction: the largest notification id. When it is the largest id this recorder
   committed or saw, no other writer committed since, and that is all the check costs.
2. Otherwise the newest row's time is decoded (that one row: the log's times never go backwards in commit order,
   every writer keeping to this check, so the newest row holds the latest time). It becomes the floor, and the
   process's sequencer is advanced to it (`Sequencer.advance`), so decisions from now on are not before it.
3. A write decided before the floor is refused with `domain.sequencing.DecideAgain`: nothing of it is stored, and
   its command decides again. The rest of the batch is inserted (in order: writes decided after the advance come
   after those decided before it, and have times not before the floor). The floor stays, so writes decided before
   the advance and still queued are refused as they reach the store.

A write's time is that of the decision its thread holds (`decided`, set by ledger/app.py from the application's
sequencer; the group committer takes it when the write is queued); a write made outside any decision is checked
by the time in its first event's envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domain.sequencing import DecideAgain
from ledger.envelope import parse_time


def envelope_time(state: Any) -> datetime | None:
    """The `time` of a stored event's envelope (None when the state is not one)."""
    try:
        value = json.loads(bytes(state))["time"]
        return parse_time(value) if isinstance(value, str) else None
    except (ValueError, TypeError, KeyError):
        return None


def _no_decision() -> datetime | None:
    return None


def _not_advanced(_: datetime) -> None:
    return None


class WriteOrder:
    """One recorder's view of the log's order (the module docstring). Its methods run under the write lock."""

    def __init__(self) -> None:
        #: The time of the decision the calling thread holds (None: none; the write's envelope is read instead).
        self.decided: Callable[[], datetime | None] = _no_decision
        #: Called with the time of an event another writer committed later than any seen before.
        self.advance: Callable[[datetime], None] = _not_advanced
        self.seen: int | None = None  # the largest notification id committed or seen by this recorder
        self.floor: datetime | None = None  # the latest time of another writer's event seen so far

    def refusals(
        self,
        newest: int | None,
        time_of_row: Callable[[int], Any],
        writes: Sequence[Sequence[Any]],
        times: Sequence[datetime | None],
    ) -> list[DecideAgain | None]:
        """Per write of ``writes`` (each a sequence of stored events, decided at ``times``): None to insert it, or
        the refusal to raise to its writer. ``newest`` is the largest notification id stored, ``time_of_row(id)``
        reads that row's state (called only when another writer committed it)."""
        if newest is not None and newest != self.seen:
            self.seen = newest
            foreign = envelope_time(time_of_row(newest))
            if foreign is not None and (self.floor is None or foreign > self.floor):
                self.floor = foreign
                self.advance(foreign)
        floor = self.floor
        if floor is None:
            return [None] * len(writes)
        out: list[DecideAgain | None] = []
        for events, at in zip(writes, times, strict=True):
            if at is None and events:
                at = envelope_time(events[0].state)
            out.append(DecideAgain(floor) if at is not None and at < floor else None)
        return out

    def committed(self, last_id: int | None) -> None:
        """This recorder's transaction inserted rows up to ``last_id`` (call before its commit, under the lock: if
        the commit fails, the next check reads the newest row once more, which costs a read, nothing else)."""
        if last_id is not None:
            self.seen = last_id
