"""Hot aggregates for commands: a bounded cache of the aggregates commands change, kept current by fast-forward.

A kindergarten queue or a housing register is one stream holding every entry, so loading it costs its size even
from a snapshot: a command that reloads it before deciding costs O(queue), and a city's total O(queue²). Instead a
command takes the aggregate's in-process lock (:meth:`AggregateCache.holding`), finds it here and reads only the
events stored after the cached version (one indexed query, usually empty: the version check). It decides on that
state and saves; the store's optimistic version check still refuses a save on a stale version (another process
wrote meanwhile), and then the copy is dropped and the command decided again on fresh state.

The cached object is the one commands mutate (no copy: a copy costs O(queue) too), so the rules are:

* only under the aggregate's lock (:meth:`holding`), taken *before* any decision (domain/sequencing.py);
* a command that fails after its aggregate took a new event (a refused save, an error after an emit) drops the copy
  (:meth:`drop`): its state may hold events that were never stored. A command refused before emitting anything
  (most domain errors) leaves the state untouched, and the copy stays;
* readers never get the cached object itself: only what a function computes from it under the lock.

The cache holds at most ``maxsize`` aggregates (least recently used goes first). Nothing here is durable: a crash
loses only the cache, never an acknowledged event (acknowledged means committed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

#: Default bound: a 100,000-entry queue is ~0.2 GB in memory; a city has a few dozen queues and registers.
DEFAULT_MAXSIZE = 32


class AggregateCache:
    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._locks: dict[UUID, list[Any]] = {}  # key -> [lock, users]

    @contextmanager
    def holding(self, key: UUID) -> Iterator[None]:
        """Hold the in-process lock of aggregate ``key`` (commands on one aggregate run one at a time)."""
        with self._lock:
            slot = self._locks.get(key)
            if slot is None:
                slot = self._locks[key] = [threading.Lock(), 0]
            slot[1] += 1
        try:
            with slot[0]:
                yield
        finally:
            with self._lock:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._locks[key]

    def get(self, key: UUID) -> Any | None:
        """The cached aggregate or None (call holding ``key``)."""
        if self.maxsize <= 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: UUID, aggregate: Any) -> None:
        """Cache ``aggregate`` as the current state of ``key`` (call holding ``key``)."""
        if self.maxsize <= 0:
            return
        with self._lock:
            self._items[key] = aggregate
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def saved(self, aggregate: Any) -> None:
        """``aggregate`` was just saved: a different object cached for its id is behind the store now."""
        with self._lock:
            found = self._items.get(aggregate.id)
            if found is not None and found is not aggregate:
                del self._items[aggregate.id]

    def drop(self, key: UUID) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
