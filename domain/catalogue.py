"""The catalogue: sorted, filterable indexes of the streams the projections keep, for paged open-data lists.

Kept incrementally by :class:`domain.projections.Projections` (one update per applied record of a listed kind, one
per signature), never rebuilt per request. Each listed stream has a sort key ``(first event time, stream id)``:
RFC 3339 strings of ``domain.base.rfc3339`` sort in time order, so the key is stable across restarts (a replay
gives every stream the same key) and new streams land at the end. For every combination of its facet values
(``status``, ``kind``, ``district`` ...), including no facet at all, the stream is in one sorted list: a page with
any combination of filters is a bisection and a slice, O(log n + page size), and a page after a cursor (the last
key seen) neither repeats nor skips a stream whatever is written between two pages.

Signers are kept per petition as sorted ``(signed_at, signer pseudonym)``: never the identity behind it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Mapping
from itertools import combinations, product
from typing import Any, NamedTuple

#: ``(time, stream id)``: a listed stream's place in every list it is in.
Key = tuple[str, str]
#: ``(list, ((facet, value), ...))``: one sorted list.
IndexKey = tuple[str, tuple[tuple[str, str], ...]]
#: Folded state -> ``(list name, facet -> values)``. A facet with several values (a ballot's districts) puts the
#: stream in the list of each.
Facets = Callable[[Mapping[str, Any]], tuple[str, dict[str, tuple[str, ...]]]]


def _petition(state: Mapping[str, Any]) -> tuple[str, dict[str, tuple[str, ...]]]:
    return "petitions", {"status": (state["status"],)}


def ballot_districts(state: Mapping[str, Any]) -> tuple[str, ...]:
    """The districts a ballot concerns: its eligibility districts and its options' districts."""
    eligible = (state.get("eligibility") or {}).get("districts") or []
    options = [o["district"] for o in state.get("options", []) if o.get("district")]
    return tuple(sorted({*eligible, *options}))


def _ballot(state: Mapping[str, Any]) -> tuple[str, dict[str, tuple[str, ...]]]:
    return "ballots", {"status": (state["status"],), "kind": (state["kind"],), "district": ballot_districts(state)}


def _kindergarten(state: Mapping[str, Any]) -> tuple[str, dict[str, tuple[str, ...]]]:
    return "queues", {"kind": ("kindergarten",), "institution": tuple(state["institutions"])}


def _housing(state: Mapping[str, Any]) -> tuple[str, dict[str, tuple[str, ...]]]:
    return "queues", {"kind": ("housing",)}


#: Kind name (``domain.kinds``) -> its facets; kinds not named here are not listed.
FACETS: dict[str, Facets] = {
    "petitions": _petition,
    "ballots": _ballot,
    "kindergarten": _kindergarten,
    "housing": _housing,
}


class Page(NamedTuple):
    streams: list[Key]
    #: The key after which the next page starts; None when this page is the last.
    more: Key | None


def index_keys(name: str, facets: Mapping[str, tuple[str, ...]]) -> frozenset[IndexKey]:
    """Every list a stream with these facet values belongs to (one per subset of facets and choice of values)."""
    names = sorted(facets)
    out: set[IndexKey] = set()
    for n in range(len(names) + 1):
        for subset in combinations(names, n):
            for values in product(*(facets[f] for f in subset)):
                out.add((name, tuple(zip(subset, values, strict=True))))
    return frozenset(out)


def _insert(items: list[Key], key: Key) -> None:
    """Keep ``items`` sorted; the usual case (the log's time only grows) is an append."""
    if not items or items[-1] <= key:
        items.append(key)
    else:
        insort(items, key)


def _page(items: list[Key], after: Key | None, start: str | None, end: str | None, limit: int) -> Page:
    lo = 0 if start is None else bisect_left(items, (start, ""))
    if after is not None:
        lo = max(lo, bisect_right(items, after))
    hi = len(items) if end is None else bisect_left(items, (end, ""))
    chunk = items[lo : min(hi, lo + limit)]
    more = chunk[-1] if chunk and lo + limit < hi else None
    return Page(chunk, more)


class Catalogue:
    """Not thread-safe by itself: the projections call it under their lock, and readers take that lock too."""

    def __init__(self) -> None:
        self.keys: dict[str, Key] = {}
        self.memberships: dict[str, frozenset[IndexKey]] = {}
        self.values: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}
        self.lists: dict[IndexKey, list[Key]] = {}
        self.signers: dict[str, list[Key]] = {}

    def update(self, kind_name: str, stream: str, time: str, state: Mapping[str, Any]) -> None:
        """After a record of ``stream`` was folded into ``state`` (``time``: the record's, kept from the first)."""
        facets = FACETS.get(kind_name)
        if facets is None:
            return
        key = self.keys.setdefault(stream, (time, stream))
        values = facets(state)
        if self.values.get(stream) == values:  # most events (a registration, a benefit) change no facet
            return
        self.values[stream] = values
        new = index_keys(*values)
        old = self.memberships.get(stream, frozenset())
        for k in old - new:
            items = self.lists[k]
            i = bisect_left(items, key)
            if i < len(items) and items[i] == key:
                del items[i]
        for k in new - old:
            _insert(self.lists.setdefault(k, []), key)
        self.memberships[stream] = new

    def signed(self, petition: str, signer: str, time: str) -> None:
        _insert(self.signers.setdefault(petition, []), (time, signer))

    def page(
        self,
        name: str,
        filters: Mapping[str, str],
        *,
        after: Key | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int,
    ) -> Page:
        """Streams of list ``name`` with every facet in ``filters``, first event time in ``[start, end)``, after
        ``after``, in key order, at most ``limit``."""
        key: IndexKey = (name, tuple(sorted(filters.items())))
        return _page(self.lists.get(key, []), after, start, end, limit)

    def signer_page(self, petition: str, *, after: Key | None, limit: int) -> Page:
        return _page(self.signers.get(petition, []), after, None, None, limit)

    def listed(self, stream: str) -> bool:
        return stream in self.keys
