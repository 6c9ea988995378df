"""The housing register's lists in order, computed from the register's state (no event sets a position).

Shared by the aggregate (allocations go to the first entry, removal proposals walk the general list), the
projections (the published lists) and the API.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from domain.housing.rules import HOUSING_LISTS


def list_order(state: Mapping[str, Any], list_name: str) -> list[str]:
    """Active entries of a list in order: general by (registered_at, entry id); the others by
    (included_at, entry id)."""
    entries = state["entries"]
    if list_name == "general":
        ids = [eid for eid, e in entries.items() if e["status"] == "active"]
        ids.sort(key=lambda eid: (entries[eid]["registered_at"], eid))
    else:
        ids = [eid for eid, e in entries.items() if e["status"] == "active" and list_name in e["lists"]]
        ids.sort(key=lambda eid: (entries[eid]["lists"][list_name]["included_at"], eid))
    return ids


def housing_lists(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every list of a register in order (its part of the published state)."""
    return {name: list_order(state, name) for name in HOUSING_LISTS}


def list_key(state: Mapping[str, Any], list_name: str, entry_id: str) -> tuple[str, str] | None:
    """An entry's place in a list (``list_order``'s sort key), or None when it is not in that list."""
    e = state["entries"][entry_id]
    if e["status"] != "active":
        return None
    if list_name == "general":
        return (e["registered_at"], entry_id)
    included = e["lists"].get(list_name)
    return None if included is None else (included["included_at"], entry_id)


class RegisterIndex:
    """What a register's commands look up, kept as its events are applied instead of scanned per command: the
    active entry of each applicant (uniqueness) and per list a heap of its entries' keys (the first of a list for
    an allocation, O(log n)). Derived from the state alone, built on first use after a load, never stored; stale
    heap keys are dropped when they reach the top (see kindergarten's ``QueueIndex``)."""

    __slots__ = ("active", "lists")

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.active: dict[str, str] = {}
        self.lists: dict[str, list[tuple[str, str]]] = {name: [] for name in HOUSING_LISTS}
        for eid in state["entries"]:
            self.touched(state, eid)

    def touched(self, state: Mapping[str, Any], entry_id: str) -> None:
        """After an event of ``entry_id`` was folded into ``state``."""
        e = state["entries"][entry_id]
        if e["status"] == "active":
            self.active.setdefault(e["applicant"], entry_id)
        elif self.active.get(e["applicant"]) == entry_id:
            del self.active[e["applicant"]]
        for name, heap in self.lists.items():
            key = list_key(state, name, entry_id)
            if key is not None:
                heapq.heappush(heap, key)

    def first(self, state: Mapping[str, Any], list_name: str) -> str | None:
        heap = self.lists[list_name]
        while heap:
            key = heap[0]
            if list_key(state, list_name, key[1]) == key:
                return key[1]
            heapq.heappop(heap)
        return None
