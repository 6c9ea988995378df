"""Group commit: concurrent writes share one database transaction; each caller returns only after it commits.

The domain's commands are unchanged: they still call `app.save(...)`, which maps events to stored events and
calls the recorder's `insert_events`. Here that one method is wrapped: the calling thread queues its stored events
and waits; a committer thread takes everything queued (up to `max_batch` writes) and inserts it in ONE
transaction. If that transaction fails on a uniqueness conflict (a duplicate signature, two writers of one stream
version), the batch is re-run one write per transaction, so only the conflicting writes get their
`IntegrityError` (and the domain decides them again, exactly as without batching). Commit order, and so the log
order, is the queue order, and the queue order is the order of the domain's decisions: a command queues its events
while it still holds the writer's decision lock (domain/sequencing.py), and the lock is handed over right after, so
the next decision starts while this one waits for its transaction. That is why event times never go backwards in
the log.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError
from sqlalchemy import insert

from api.metrics import Metrics

log = logging.getLogger("hromada.api.groupcommit")


class _Write:
    """One caller's events. `done` is a lock taken at creation and released by the committer: the caller blocks
    on acquiring it, in C, without the Condition an Event would build for every wait."""

    __slots__ = ("done", "error", "events")

    def __init__(self, events: Sequence[Any]) -> None:
        self.events = events
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None


def batch_inserter(recorder: Any) -> Callable[[Sequence[Any]], None]:
    """Insert stored events in one transaction with one Core `INSERT ... VALUES` for all rows.

    The same rows, table and transaction as the recorder's own `insert_events` (which builds one ORM object per
    event and flushes a unit of work: about twice the CPU per batch). Kept from it: the recorder's transaction
    (and so its locks) and, on PostgreSQL, its `LOCK TABLE ... IN EXCLUSIVE MODE`, which makes commit order the
    notification-id order the integrator relies on. Left out: its `NOTIFY` (nothing here LISTENs)."""
    table = recorder.events_record_cls.__table__
    statement = insert(table)

    def insert_batch(stored_events: Sequence[Any]) -> None:
        if not stored_events:  # an empty parameter list would run `INSERT ... DEFAULT VALUES`
            return
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        with recorder.transaction(commit=True) as session:
            recorder._lock_table(session)  # a no-op but on PostgreSQL
            session.execute(statement, rows)

    return insert_batch


class GroupCommitter:
    def __init__(
        self,
        recorder: Any,
        max_batch: int,
        metrics: Metrics | None = None,
        handed_over: Callable[[], None] | None = None,
    ) -> None:
        """`handed_over` is called by a writer thread once its events are queued (the decision lock's release)."""
        self.recorder = recorder
        self.handed_over = handed_over or (lambda: None)
        self.original_insert = recorder.insert_events  # the original bound method (restored by stop())
        self.insert = batch_inserter(recorder)
        self.max_batch = max_batch
        self.metrics = metrics
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()  # None: stop after what is queued
        self._enqueue = threading.Lock()  # orders `stop()` against writers: nothing is queued after the None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hromada-group-commit", daemon=True)
        self._thread.start()

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        if any(v is not None for v in kwargs.values()) or threading.current_thread() is self._thread:
            return self.original_insert(stored_events, **kwargs)  # tracking records etc.: not batched
        write = _Write(stored_events)
        with self._enqueue:
            if self._stopping:
                return self.original_insert(stored_events, **kwargs)
            self._queue.put(write)
        self.handed_over()  # queued in decision order: the next decision may start while this one waits
        write.done.acquire()
        if write.error is not None:
            raise write.error
        return None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is None else [first]
            stop = first is None
            while not stop and len(batch) < self.max_batch:
                try:
                    write = self._queue.get_nowait()
                except queue.Empty:
                    break
                if write is None:
                    stop = True
                else:
                    batch.append(write)
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Write]) -> None:
        try:
            self.insert([e for w in batch for e in w.events])
        except IntegrityError as e:
            if len(batch) == 1:
                batch[0].error = e
            else:
                for w in batch:  # isolate the conflicting writes
                    try:
                        self.insert(w.events)
                    except BaseException as one:
                        w.error = one
        except BaseException as e:
            log.warning("group commit of %d writes failed: %s", len(batch), e)
            for w in batch:
                w.error = e
        if self.metrics is not None:
            self.metrics.batch(len(batch))
        for w in batch:
            w.done.release()

    def stop(self) -> None:
        with self._enqueue:
            if not self._stopping:
                self._stopping = True
                self._queue.put(None)
        self._thread.join(timeout=10)
        self.recorder.insert_events = self.original_insert


def install(app: Any, max_batch: int, metrics: Metrics | None = None) -> GroupCommitter:
    """Route `app.recorder.insert_events` through a group committer (stop() restores it)."""
    sequencer = getattr(app, "sequencer", None)
    gc = GroupCommitter(app.recorder, max_batch, metrics, sequencer.handed_over if sequencer is not None else None)
    app.recorder.insert_events = gc.insert_events
    return gc
