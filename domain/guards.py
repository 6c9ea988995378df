"""In-process ordering of commands that READ an aggregate against commands that CHANGE it.

A signature reads its petition (is it open? is the deadline ahead?) but is stored in a stream of its own, so
the event store's version check cannot order it against a ``petition.closed`` written by another thread: the
signature could be decided on the open petition and committed after the close, and an auditor would rightly
report a signature after the close. The same holds for a vote against ``ballot.closed`` and for the signature
count a ``threshold_reached`` event carries.

``StreamGuards`` is a reader/writer lock per aggregate id. Readers (signatures, votes) hold it *shared* from
their decision until their events are committed; writers (publish, close, respond, threshold) hold it
*exclusively* from loading the aggregate until it is saved. Writers are preferred: a waiting writer stops new
readers, so a close is not starved by a stream of signatures.

``HotAggregates`` caches the aggregates readers need (one petition read by every signature), so a signature
does not reload its petition from the store. It is correct only when every change to those aggregates goes
through this process: writers invalidate the entry under the exclusive guard, and readers fill it under the
shared guard, so no reader can cache a state that a writer has already replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID


class _RW:
    __slots__ = ("cond", "readers", "users", "writer", "writers_waiting")

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.readers = 0
        self.writer = False
        self.writers_waiting = 0
        self.users = 0


class StreamGuards:
    """A reader/writer lock per aggregate id, created on first use and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[UUID, _RW] = {}

    def _use(self, key: UUID) -> _RW:
        with self._lock:
            rw = self._locks.get(key)
            if rw is None:
                rw = self._locks[key] = _RW()
            rw.users += 1
            return rw

    def _release(self, key: UUID, rw: _RW) -> None:
        with self._lock:
            rw.users -= 1
            if rw.users == 0:
                del self._locks[key]

    @contextmanager
    def shared(self, key: UUID) -> Iterator[None]:
        rw = self._use(key)
        try:
            with rw.cond:
                while rw.writer or rw.writers_waiting:
                    rw.cond.wait()
                rw.readers += 1
            try:
                yield
            finally:
                with rw.cond:
                    rw.readers -= 1
                    if rw.readers == 0:
                        rw.cond.notify_all()
        finally:
            self._release(key, rw)

    @contextmanager
    def exclusive(self, *keys: UUID) -> Iterator[None]:
        """Exclusive on every key (taken in sorted order, so two multi-key writers cannot deadlock)."""
        taken: list[tuple[UUID, _RW]] = []
        try:
            for key in sorted(set(keys), key=str):
                rw = self._use(key)
                taken.append((key, rw))
                with rw.cond:
                    rw.writers_waiting += 1
                    try:
                        while rw.writer or rw.readers:
                            rw.cond.wait()
                    finally:
                        rw.writers_waiting -= 1
                    rw.writer = True
            yield
        finally:
            for key, rw in reversed(taken):
                with rw.cond:
                    if rw.writer:
                        rw.writer = False
                        rw.cond.notify_all()
                self._release(key, rw)

    def held(self) -> int:
        """How many aggregate ids have a lock in use (for tests: it returns to 0)."""
        with self._lock:
            return len(self._locks)


class HotAggregates:
    """Read-only cache of the aggregates readers decide on; see the module docstring for when it is valid."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._items: dict[UUID, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: UUID, load: Callable[[], Any]) -> Any:
        """The cached aggregate (do not mutate it), or `load()`ed and cached. Call under the shared guard."""
        if not self.enabled:
            return load()
        found = self._items.get(key)
        if found is None:
            found = load()
            with self._lock:
                self._items[key] = found
        return found

    def invalidate(self, keys: Iterable[UUID]) -> None:
        """Forget `keys` (call under the exclusive guard, after the save)."""
        with self._lock:
            for key in keys:
                self._items.pop(key, None)
