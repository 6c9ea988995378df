"""Many citizens at once through one process's writer, in a fixed order: the demo's concurrent phases.

The API gets concurrency from its callers: many citizens' requests arrive together, each is decided in turn under
the writer's decision lock (domain/sequencing.py) and their events are committed together by the group committer
(ledger/groupcommit.py). A script is one caller: each command would wait for its own commit (an fsync) before the
next one is even decided. A :class:`Pipeline` runs the commands on worker threads, as the API's threads run
requests, and lets the caller submit command k+1 as soon as command k is *decided* (its events queued for commit),
not committed. So the decisions keep the caller's order, and with it every event's time and place in the log, as
if the commands ran one by one, while their commits share transactions. The commands are the domain's own,
through the same committer as the API's: nothing is decided or stored differently.

What the caller keeps to (hromada/demo.py does):

- commands of one key (a citizen) run one at a time: a command waits for the previous command of its key to
  finish, as a citizen waits for the answer (a revote is decided on the stored vote, not on a guess);
- :meth:`Pipeline.drain` before reading what the commands wrote (projections, aggregates), before a checkpoint,
  and before anything acts on deadlines the commands may have set;
- a submitted command takes one decision (a command retried after a store conflict takes a second one, later: its
  events then come after commands submitted meanwhile; no command of the demo's concurrent phases conflicts).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from domain.sequencing import Sequencer

T = TypeVar("T")


class Pending(Generic[T]):
    """One submitted command. ``turn`` is released once it is decided (or finished), ``done`` once it finished."""

    __slots__ = ("_decided", "_finished", "done", "error", "fn", "turn", "value")

    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.turn = threading.Lock()
        self.turn.acquire()
        self.done = threading.Lock()
        self.done.acquire()
        self._decided = False
        self._finished = False
        self.value: T | None = None
        self.error: BaseException | None = None

    def decided(self) -> None:
        """The command's decision handed over (or it ended without one). Called in its worker thread only."""
        if not self._decided:
            self._decided = True
            self.turn.release()

    def wait(self) -> None:
        if not self._finished:
            self.done.acquire()
            self.done.release()

    def result(self) -> T:
        """The command's return value (its exception re-raised), once it finished."""
        self.wait()
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class Done(Pending[T]):
    """A command run now, in the caller's thread (the caller without a pipeline): its exception propagates."""

    def __init__(self, fn: Callable[[], T]) -> None:
        super().__init__(fn)
        self.value = fn()
        self._finished = True
        self.decided()
        self.done.release()


class Pipeline:
    """Submit commands in order; each runs on a worker thread; the next may be decided once the previous one was."""

    def __init__(self, sequencer: Sequencer, workers: int = 16) -> None:
        self.sequencer = sequencer
        self._queue: queue.SimpleQueue[Pending[Any] | None] = queue.SimpleQueue()
        self._submitted: list[Pending[Any]] = []
        self._by_key: dict[Hashable, Pending[Any]] = {}
        self._threads = [
            threading.Thread(target=self._work, name=f"hromada-citizen-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[], T], *, key: Hashable | None = None) -> Pending[T]:
        """Run ``fn`` on a worker; return once it is decided (its events queued for commit) or finished. A command
        of a ``key`` that has one in flight starts after that one finished."""
        if key is not None and (previous := self._by_key.get(key)) is not None:
            previous.wait()
        pending: Pending[T] = Pending(fn)
        self._queue.put(pending)
        pending.turn.acquire()
        self._submitted.append(pending)
        if key is not None:
            self._by_key[key] = pending
        return pending

    def drain(self) -> None:
        """Wait for every submitted command to finish; re-raise the first (in submission order) that failed."""
        submitted, self._submitted = self._submitted, []
        self._by_key.clear()
        for p in submitted:
            p.wait()
        for p in submitted:
            if p.error is not None:
                raise p.error

    def close(self) -> None:
        """Drain, then stop the workers."""
        try:
            self.drain()
        finally:
            for _ in self._threads:
                self._queue.put(None)
            for t in self._threads:
                t.join(timeout=10)

    def _work(self) -> None:
        while (pending := self._queue.get()) is not None:
            self.sequencer.on_hand_over(pending.decided)
            try:
                pending.value = pending.fn()
            except BaseException as e:  # re-raised to the caller by result() or drain()
                pending.error = e
            finally:
                self.sequencer.on_hand_over(None)
                pending.decided()
                pending._finished = True
                pending.done.release()
