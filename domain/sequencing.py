"""Event time and log order agree by construction: the writer decides one command at a time.

The log's order is the order in which events are committed; an auditor checks that event times never go backwards
in it (``time_backwards``). Under concurrent writes that fails if each command takes its time first and then races
the others to the commit: a command that took its time earlier can commit later. So the time of every event is
taken *here*, under one lock per writer, and the lock is held until the command's events are queued for commit in
that same order:

1. ``with sequencer.deciding(at) as now:`` waits for the previous decision to hand over, then stamps this one:
   ``now`` is ``at``, or the time of the previous decision when ``at`` is earlier by at most :data:`MAX_LAG`. A live
   caller reads the clock just before it asks (the API: when the request is routed), so its reading lags the
   previous decision's by the time it waited for its turn; with one caller and a clock that only moves forward, the
   clamp never applies. A time further back is a caller's error (a simulated clock run backwards, a wrong import):
   refused with :class:`~domain.errors.TimeBeforeLog`, nothing is written.
2. The command decides with ``now`` (deadlines, windows, the event times) and saves.
3. The save queues the events for commit. A group committer (ledger/groupcommit.py) commits in queue order and
   calls :meth:`Sequencer.handed_over` as soon as the events are queued, so the next decision starts while this one
   waits for its transaction; without one, the save commits before the block ends.

A command that must decide again (a conflict on commit) takes a new decision, so a new time that is not before
anything committed meanwhile. A decision refused before it saves (a domain error) moves no clock. Decisions do not
nest, and nothing that can wait for another decision (guards, the commit of another command) may be taken inside
one: take locks first, then decide.

Other processes (an operator's CLI command beside ``hromada serve``, docs/api.md) decide under their own sequencer,
so nothing here orders their decisions against this one's. The store does: every write of events checks, under the
database's write lock, whether another process committed since this one last did, and refuses a write whose time is
before the latest such event (ledger/db/order.py). The refusal is :class:`DecideAgain`, raised by the save inside
the decision; the store has already moved this clock to that event's time (:meth:`Sequencer.advance`, callable
from any thread, inside a decision too), and the command decides again, on fresh state and at a time not before it.
:meth:`Sequencer.decided_at` is the time the store checks: that of the decision the calling thread holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from domain.base import require_utc, rfc3339
from domain.errors import TimeBeforeLog

#: How far a command's time may lag the previous decision's and be moved up to it (longer than any request waits
#: for its turn; a request that waited longer is refused and may be retried).
MAX_LAG = timedelta(seconds=60)


class DecideAgain(Exception):
    """The store refused a decided write: another process committed an event later than the decision's time after
    this process last wrote (the module docstring). Nothing of the write is stored, and this sequencer decides
    nothing before ``after`` any more: the command must decide again. Distinct from the store's ``IntegrityError``,
    which some commands turn into a domain error (a duplicate): this one is never a duplicate."""

    def __init__(self, after: datetime) -> None:
        super().__init__(f"an event at {rfc3339(after)} was committed by another process: decide again")
        self.after = after


class NestedDecision(RuntimeError):
    """A decision was started inside another one on the same thread (a programming error, never a user's)."""


class Sequencer:
    """The writer's clock and decision lock (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the decision lock
        self._clock = threading.Lock()  # `_last` moves only forward, whoever moves it (a decision, the store)
        self._last: datetime | None = None
        self._local = threading.local()

    @property
    def last(self) -> datetime | None:
        """The time of the latest decision (or of the latest stored event, see :meth:`advance`)."""
        return self._last

    def advance(self, at: datetime) -> None:
        """No decision gets a time before ``at`` from now on (at start-up: the time of the last stored event, so a
        clock set back across a restart cannot make the log's time go backwards; later: the time of an event another
        process committed). Takes no decision lock, so the store may call it from a thread inside a decision; a
        decision already under way may still take an earlier time, which the store then refuses (the module
        docstring)."""
        at = require_utc(at)
        with self._clock:
            if self._last is None or at > self._last:
                self._last = at

    def holding(self) -> bool:
        """Whether this thread is inside a decision that has not handed over yet."""
        return bool(getattr(self._local, "holding", False))

    @contextmanager
    def deciding(self, at: datetime) -> Iterator[datetime]:
        """Decide one command: yields the time its events carry. Precondition: ``at`` is timezone-aware."""
        at = require_utc(at)
        if getattr(self._local, "active", False):
            raise NestedDecision("a decision was started inside another one")
        self._lock.acquire()
        self._local.active = True
        self._local.holding = True
        try:
            last = self._last
            if last is not None and at < last:
                if last - at > MAX_LAG:
                    raise TimeBeforeLog(
                        "the command's time is before the log's latest event",
                        expected=f">= {rfc3339(last)}",
                        found=rfc3339(at),
                    )
                at = last
            self._local.at = at
            yield at
        finally:
            self._local.active = False
            self.handed_over()

    def writing(self) -> None:
        """The current decision saves its events now: its time becomes the log's latest. A decision refused before
        it saves moves no clock; one whose save the store refuses (a conflict) does, since its events were queued in
        decision order and the next decision may already have started on its time. Precondition: :meth:`holding`,
        so the next decision, which can only start after the hand-over, sees this time."""
        if not self.holding():
            raise RuntimeError("events saved outside a decision (use Sequencer.deciding)")
        at: datetime = self._local.at
        with self._clock:
            if self._last is None or at > self._last:
                self._last = at

    def decided_at(self) -> datetime | None:
        """The time of the decision this thread holds (None outside one, or once it handed over): what the store
        checks a write against (ledger/db/order.py)."""
        if not self.holding():
            return None
        at: datetime = self._local.at
        return at

    def handed_over(self) -> None:
        """This thread's events are queued for commit in decision order: let the next decision start. Idempotent;
        a no-op outside a decision."""
        if getattr(self._local, "holding", False):
            self._local.holding = False
            self._lock.release()
            callback = getattr(self._local, "on_hand_over", None)
            if callback is not None:
                callback()

    def on_hand_over(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` in this thread each time one of its decisions hands over (None: no longer). For a caller
        that starts its next command as soon as this one is decided, so that decisions keep its order while their
        commits are shared (hromada/pipeline.py)."""
        self._local.on_hand_over = callback
