"""Order of a kindergarten queue, computed from the queue's state: no event sets a position.

Order within a group (institution I, birth year Y: waiting entries listing I, born in Y) is ascending
``(benefit rank, registered_at, entry id)``; the first eligible entry (in the group, no pending offer) is the one
an offer must go to. Shared by the aggregate (offers in turn), the projections (the published groups) and the API
(lists, positions); docs/domain.md "Kindergarten queue" is the same rule in words, for the verifier.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any


def benefit_rank(state: Mapping[str, Any], entry: Mapping[str, Any]) -> int:
    """Best (lowest) rank among the entry's benefits; ``len(table) + 1`` without any."""
    ranks = state["benefit_ranks"]
    return min((ranks[c] for c in entry["benefits"]), default=len(ranks) + 1)


def sort_key(state: Mapping[str, Any], entry_id: str) -> tuple[int, str, str]:
    e = state["entries"][entry_id]
    return (benefit_rank(state, e), e["registered_at"], entry_id)


def in_group(entry: Mapping[str, Any], institution: str, birth_year: int) -> bool:
    return entry["status"] == "waiting" and entry["birth_year"] == birth_year and institution in entry["institutions"]


def is_eligible(entry: Mapping[str, Any], institution: str, birth_year: int) -> bool:
    """Eligible for an offer: waiting, in the group, and not holding a pending offer."""
    return in_group(entry, institution, birth_year) and entry["offer"] is None


def group_order(state: Mapping[str, Any], institution: str, birth_year: int) -> list[str]:
    """The public ordered list of a group: waiting entries listing ``institution`` with ``birth_year``."""
    ids = [eid for eid, e in state["entries"].items() if in_group(e, institution, birth_year)]
    ids.sort(key=lambda eid: sort_key(state, eid))
    return ids


def first_eligible(state: Mapping[str, Any], institution: str, birth_year: int) -> str | None:
    best: tuple[int, str, str] | None = None
    for eid, e in state["entries"].items():
        if is_eligible(e, institution, birth_year):
            k = sort_key(state, eid)
            if best is None or k < best:
                best = k
    return None if best is None else best[2]


def kindergarten_orders(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every non-empty group's ordered list, keyed ``"<institution>/<birth year>"`` (one pass + sorts)."""
    groups: dict[tuple[str, int], list[str]] = {}
    for eid, e in state["entries"].items():
        if e["status"] == "waiting":
            for inst in e["institutions"]:
                groups.setdefault((inst, e["birth_year"]), []).append(eid)
    keys = {eid: sort_key(state, eid) for ids in groups.values() for eid in ids}
    return {f"{i}/{y}": sorted(groups[(i, y)], key=keys.__getitem__) for i, y in sorted(groups)}


def kindergarten_list(state: Mapping[str, Any], institution: str, birth_year: int) -> list[dict[str, Any]]:
    """The public ordered list of one group with positions (1-based); no personal data."""
    out = []
    for pos, eid in enumerate(group_order(state, institution, birth_year), start=1):
        e = state["entries"][eid]
        rank, registered_at, _ = sort_key(state, eid)
        out.append(
            {
                "position": pos,
                "entry": eid,
                "benefit_rank": rank,
                "registered_at": registered_at,
                "offer_pending": e["offer"] is not None,
            }
        )
    return out


def entry_positions(state: Mapping[str, Any], entry_id: str) -> dict[str, int]:
    """Position (1-based) of an entry in each group it belongs to, keyed by institution."""
    e = state["entries"][entry_id]
    if e["status"] != "waiting":
        return {}
    return {inst: group_order(state, inst, e["birth_year"]).index(entry_id) + 1 for inst in e["institutions"]}


class QueueIndex:
    """What a queue's commands look up, kept as its events are applied instead of scanned per command: per group
    a heap of the eligible entries' sort keys (the first eligible entry is the top, O(log n)), and a heap of the
    pending offers by expiry (the due ones without a scan of every offer ever issued).

    Derived from the state alone (built on first use after a load, then kept by :meth:`touched`), never stored.
    Heaps drop stale keys lazily: an entry that stops being eligible stays in the heap until it reaches the top
    and is found stale there; every event that makes an entry eligible pushes its current key again, so each
    eligible entry's current key is always in its groups' heaps. The answer is the scan's
    (:func:`first_eligible`): the least current key among eligible entries.
    """

    __slots__ = ("expiries", "groups")

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.groups: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
        self.expiries: list[tuple[str, int, str]] = []
        for eid in state["entries"]:
            self.touched(state, eid)
        for seq, (oid, o) in enumerate(state["offers"].items(), start=1):
            if o["status"] == "pending":
                self.expiries.append((o["expires_at"], seq, oid))
        heapq.heapify(self.expiries)

    def touched(self, state: Mapping[str, Any], entry_id: str) -> None:
        """After an event of ``entry_id`` was folded into ``state``."""
        e = state["entries"][entry_id]
        if e["status"] == "waiting" and e["offer"] is None:
            key = sort_key(state, entry_id)
            for inst in e["institutions"]:
                heapq.heappush(self.groups.setdefault((inst, e["birth_year"]), []), key)

    def offered(self, state: Mapping[str, Any], offer_id: str) -> None:
        """After ``kindergarten.offer_issued`` of ``offer_id`` was folded into ``state``."""
        heapq.heappush(self.expiries, (state["offers"][offer_id]["expires_at"], state["offers_issued"], offer_id))

    def first_eligible(self, state: Mapping[str, Any], institution: str, birth_year: int) -> str | None:
        heap = self.groups.get((institution, birth_year))
        while heap:
            key = heap[0]
            e = state["entries"][key[2]]
            if is_eligible(e, institution, birth_year) and sort_key(state, key[2]) == key:
                return key[2]
            heapq.heappop(heap)
        return None

    def due_expiries(self, state: Mapping[str, Any], now: str) -> list[str]:
        """Pending offers expiring at or before ``now``, in the order they were issued (O(k log n) for k due)."""
        heap, offers = self.expiries, state["offers"]
        due: list[tuple[str, int, str]] = []
        while heap and heap[0][0] <= now:
            item = heapq.heappop(heap)
            if offers[item[2]]["status"] == "pending":
                due.append(item)
        for item in due:  # still pending until their expiry is applied (then dropped lazily)
            heapq.heappush(heap, item)
        return [oid for _, _, oid in sorted(due, key=lambda item: item[1])]
