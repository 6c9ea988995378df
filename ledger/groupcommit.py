"""Group commit: concurrent writes share one database transaction; each caller returns only after it commits.

The domain's commands are unchanged: they still call `app.save(...)`, which maps events to stored events and
calls the recorder's `insert_events`. Here that one method is wrapped: the calling thread queues its stored events
(with the time of the decision it holds); if no commit is under way it leads: it takes everything queued (up to
`max_batch` writes, its own first), inserts it in ONE transaction, releases the writers it committed for and hands
the lead to the first write queued meanwhile. Otherwise it waits until a leader committed its write or handed it the
lead. A lone writer commits its own write at once, in its own thread (no hop to a committer thread and back);
writers that arrive while a transaction commits are committed together by the next leader. If a transaction fails
on a uniqueness conflict (a duplicate signature, two writers of one stream version), the batch is re-run one write
per transaction, so only the conflicting writes get their `IntegrityError` (and the domain decides them again,
exactly as without batching). Commit order, and so the log order, is the queue order (one leader at a time,
batches taken from the head), and the queue order is the order of the domain's decisions: a command queues its
events while it still holds the writer's decision lock (domain/sequencing.py), and the lock is handed over right
after, so the next decision starts while this one waits for its transaction. That is why event times never go
backwards in the log among this process's writes.

Writes of other processes on the same database (an operator's CLI command beside the server) are ordered by the
store: each batch's transaction, once it holds the write lock, reads the newest notification id, and when another
process committed since, refuses the writes of the batch decided before that process's latest event
(ledger/db/order.py). Those get `domain.sequencing.DecideAgain` (not an `IntegrityError`: a re-decision is never
a duplicate) and decide again, after the rest of the batch, at a time not before that event; the rest is committed.

It lives in the ledger, beside the recorder it wraps, so that every writer of one process shares it: the API's
requests (api/app.py) and the demo's citizens (hromada/demo.py) go through the same committer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from domain.sequencing import DecideAgain
from ledger.db.recorder import LedgerApplicationRecorder

log = logging.getLogger("hromada.ledger.groupcommit")


class BatchMetrics(Protocol):
    """What the committer reports (api.metrics.Metrics): one call per committed transaction."""

    def batch(self, writes: int) -> None: ...


class _Write:
    """One caller's events. `done` is a lock taken at creation and released by the leader that committed them, or
    to hand this write the lead (`lead`): the caller blocks on acquiring it, in C, without the Condition an Event
    would build for every wait."""

    __slots__ = ("at", "done", "error", "events", "lead")

    def __init__(self, events: Sequence[Any], at: datetime | None) -> None:
        self.events = events
        self.at = at  # the time of the decision that queued it (what the store's order check compares)
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None
        self.lead = False


Inserter = Callable[[Sequence[Sequence[Any]], Sequence[datetime | None]], list[DecideAgain | None]]


def batch_inserter(recorder: Any) -> Inserter:
    """Insert writes (each one caller's stored events, decided at the given times) in one transaction: the ledger's
    recorder's ``insert_batch`` (ledger/db/recorder.py: on a SQLite file its DB-API path, elsewhere the library's
    transaction and, on PostgreSQL, its ``LOCK TABLE ... IN EXCLUSIVE MODE``, which makes commit order the
    notification-id order the integrator relies on; on both, the order check of ledger/db/order.py, which may refuse
    single writes). Any other recorder: its own ``insert_events`` for all the rows, nothing refused."""
    if isinstance(recorder, LedgerApplicationRecorder):
        return recorder.insert_batch
    insert_events = recorder.insert_events

    def insert_all(writes: Sequence[Sequence[Any]], times: Sequence[datetime | None]) -> list[DecideAgain | None]:
        rows = [e for w in writes for e in w]
        if rows:
            insert_events(rows)
        return [None] * len(writes)

    return insert_all


class GroupCommitter:
    def __init__(
        self,
        recorder: Any,
        max_batch: int,
        metrics: BatchMetrics | None = None,
        handed_over: Callable[[], None] | None = None,
    ) -> None:
        """`handed_over` is called by a writer thread once its events are queued (the decision lock's release)."""
        self.recorder = recorder
        self.handed_over = handed_over or (lambda: None)
        self.original_insert = recorder.insert_events  # the original bound method (restored by stop())
        self.insert = batch_inserter(recorder)
        order = getattr(recorder, "order", None)
        self.decided: Callable[[], datetime | None] = order.decided if order is not None else (lambda: None)
        self.max_batch = max_batch
        self.metrics = metrics
        self._lock = threading.Lock()  # the queue, the lead and `_stopping`
        self._queue: deque[_Write] = deque()  # invariant: not empty only while a leader commits
        self._leading = False
        self._stopping = False

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        if any(v is not None for v in kwargs.values()):
            return self.original_insert(stored_events, **kwargs)  # tracking records etc.: not batched
        write = _Write(stored_events, self.decided())
        with self._lock:
            stopped = self._stopping
            if not stopped:
                self._queue.append(write)
                leader = not self._leading
                self._leading = True
        if stopped:
            return self.original_insert(stored_events, **kwargs)
        self.handed_over()  # queued in decision order: the next decision may start while this one waits
        if not leader:
            write.done.acquire()  # committed by a leader, or handed the lead
        if leader or write.lead:
            self._lead(write)
        if write.error is not None:
            raise write.error
        return None

    def _lead(self, mine: _Write) -> None:
        """Commit the head of the queue (`mine` is its first write), then hand the lead on or lay it down."""
        try:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
            self._commit(batch, mine)
        finally:
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.done.release()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Write], mine: _Write) -> None:
        try:
            refused = self.insert([w.events for w in batch], [w.at for w in batch])
            for w, r in zip(batch, refused, strict=True):
                w.error = r
        except IntegrityError as e:
            if len(batch) == 1:
                batch[0].error = e
            else:
                for w in batch:  # isolate the conflicting writes
                    try:
                        w.error = self.insert([w.events], [w.at])[0]
                    except BaseException as one:
                        w.error = one
        except BaseException as e:
            log.warning("group commit of %d writes failed: %s", len(batch), e)
            for w in batch:
                w.error = e
        if self.metrics is not None:
            self.metrics.batch(len(batch))
        for w in batch:
            if w is not mine:
                w.done.release()

    def stop(self, timeout: float = 10) -> None:
        """Writers from now on insert on their own; the writes queued are committed by their leaders (waited for up
        to `timeout` seconds); the recorder's own `insert_events` is restored."""
        with self._lock:
            self._stopping = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._leading:
                    break
            time.sleep(0.001)
        self.recorder.insert_events = self.original_insert


def install(app: Any, max_batch: int, metrics: BatchMetrics | None = None) -> GroupCommitter:
    """Route `app.recorder.insert_events` through a group committer (stop() restores it)."""
    sequencer = getattr(app, "sequencer", None)
    gc = GroupCommitter(app.recorder, max_batch, metrics, sequencer.handed_over if sequencer is not None else None)
    app.recorder.insert_events = gc.insert_events
    return gc
