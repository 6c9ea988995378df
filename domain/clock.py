"""The clock's deadlines: what the rules make happen by themselves when a frozen deadline passes (docs/domain.md
"The clock").

:data:`ACTIONS` is the one table of deadline actions. A row says which event sets a deadline (its type, the ``data``
field holding the instant, the field naming the item inside the stream, if any), how to tell the item still waits
(from the projections' folded state), and the command that acts on it with the clock's actor. Adding an action (the
encrypted ballots' ``ballot.voting_ended``, say) is one row.

:class:`Deadlines` is a projection fed as events are applied (:class:`domain.projections.Projections` calls
:meth:`Deadlines.observe`): a heap of ``(due, action, stream, item)``. A round (:func:`run_due`) pops only what is
due, checks it still waits, and runs its command, so it costs O(due items), not O(aggregates). Exactly once: each
command decides on the aggregate's state under the stream's optimistic concurrency (``AppCore._run``), so a second
round, process or restart finds nothing left to do; the heap is rebuilt with the projections at start-up.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.base import rfc3339
from domain.errors import DomainError
from domain.identity import Actor
from domain.petitions.rules import response_overdue_at

#: The actor of every event the clock appends.
CLOCK = Actor.system("clock")


@dataclass(frozen=True)
class DeadlineAction:
    """One row: the event that sets the deadline, how to see the item still waits, what to run when it is due."""

    #: The action's name (in a round's report).
    name: str
    #: The (current) event type whose ``data`` carries the deadline.
    sets: str
    #: The ``data`` field holding the deadline (an RFC 3339 instant).
    due_field: str
    #: The ``data`` field naming the item inside the stream (an offer of a queue); None: the stream itself.
    item_field: str | None
    #: ``(folded state of the stream, item) -> True`` while the deadline still has to be acted on.
    waiting: Callable[[Mapping[str, Any], str | None], bool]
    #: ``(app, stream, item, now)``: the command appending the event, as :data:`CLOCK`.
    fire: Callable[[Any, UUID, str | None, datetime], None]
    #: ``(folded state of the stream, data) -> the deadline``, when it is not ``data[due_field]`` itself (a petition's
    #: response is overdue from the start of the local day after ``due_date``, in the rules' time zone).
    due: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = None


def _offer_pending(state: Mapping[str, Any], offer: str | None) -> bool:
    offers: Mapping[str, Mapping[str, Any]] = state.get("offers", {})
    return bool(offers.get(offer or "", {}).get("status") == "pending")


def _end_ballot(app: Any, ballot_id: UUID, now: datetime) -> None:
    """At ``closes_at``: an open ballot is closed with its tally; an encrypted one gets ``ballot.voting_ended`` (its
    aggregate), since only its trustees can decrypt the tally."""
    if app.get_ballot(ballot_id).state.get("secrecy") == "encrypted":
        app.end_voting(by=CLOCK, ballot_id=ballot_id, at=now)
    else:
        app.close_ballot(by=CLOCK, ballot_id=ballot_id, at=now)


def _response_waiting(state: Mapping[str, Any], _: str | None) -> bool:
    return bool(state.get("threshold_reached") and not state.get("responded") and not state.get("response_overdue"))


def _overdue_at(state: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return response_overdue_at(state["rules"], str(data["due_date"]))


ACTIONS: tuple[DeadlineAction, ...] = (
    DeadlineAction(
        "petition.closed",
        sets="petition.published",
        due_field="deadline",
        item_field=None,
        waiting=lambda st, _: st.get("status") == "published",
        fire=lambda app, s, _, now: app.close_petition(by=CLOCK, petition_id=s, at=now),
    ),
    DeadlineAction(
        "ballot.closed",  # an encrypted ballot's voting ends instead; its trustees decrypt, then it is closed
        sets="ballot.opened",
        due_field="closes_at",
        item_field=None,
        waiting=lambda st, _: st.get("status") == "open",
        fire=lambda app, s, _, now: _end_ballot(app, s, now),
    ),
    DeadlineAction(
        "kindergarten.offer_expired",
        sets="kindergarten.offer_issued",
        due_field="expires_at",
        item_field="offer",
        waiting=_offer_pending,
        # the place goes to the next eligible entry of the group in the same save (kindergarten.offer_issued)
        fire=lambda app, s, offer, now: app.expire_and_offer_next(by=CLOCK, queue_id=s, offer=offer, at=now),
    ),
    DeadlineAction(
        "petition.response_overdue",
        sets="petition.threshold_reached",
        due_field="due_date",
        item_field=None,
        waiting=_response_waiting,
        fire=lambda app, s, _, now: app.mark_response_overdue(by=CLOCK, petition_id=s, at=now),
        due=_overdue_at,
    ),
)
_BY_SETTER: dict[str, DeadlineAction] = {a.sets: a for a in ACTIONS}


@dataclass(frozen=True)
class Fired:
    """One deadline a round acted on (or tried to: ``error`` is the domain's refusal, e.g. a race lost)."""

    action: str
    stream: str
    item: str | None
    due: str
    error: str | None = None


class Deadlines:
    """The heap of upcoming deadlines. Thread-safe; an entry whose item no longer waits is dropped when popped."""

    def __init__(self) -> None:
        self._heap: list[tuple[str, int, str, str]] = []  # (due, action index, stream, item or "")
        self._lock = threading.Lock()

    def observe(
        self, event_type: str, stream: str, data: Mapping[str, Any], state: Mapping[str, Any] | None = None
    ) -> None:
        """An applied event; ``state`` is its stream's folded state after it (for a row with a ``due`` function)."""
        action = _BY_SETTER.get(event_type)
        if action is None:
            return
        item = "" if action.item_field is None else str(data[action.item_field])
        due = str(data[action.due_field]) if action.due is None else action.due(state or {}, data)
        with self._lock:
            heapq.heappush(self._heap, (due, ACTIONS.index(action), stream, item))

    def __len__(self) -> int:
        return len(self._heap)

    def next_due(self) -> str | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def push(self, due: str, action: DeadlineAction, stream: str, item: str | None) -> None:
        """Put a popped entry back (a round that could not act on it retries it next round)."""
        with self._lock:
            heapq.heappush(self._heap, (due, ACTIONS.index(action), stream, item or ""))

    def pop_due(self, now: str) -> list[tuple[str, DeadlineAction, str, str | None]]:
        """Remove and return every entry due at ``now`` (deadline <= now), earliest first."""
        out = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                due, i, stream, item = heapq.heappop(self._heap)
                out.append((due, ACTIONS[i], stream, item or None))
        return out


def run_due(app: Any, now: datetime) -> list[Fired]:
    """One round: act on every deadline due at ``now`` whose item still waits (``app`` is the city application)."""
    fired: list[Fired] = []
    projections = app.projections
    for due, action, stream, item in projections.deadlines.pop_due(rfc3339(now)):
        state = projections.streams.get(stream)
        if state is None or not action.waiting(state, item):
            continue  # acted on already (by a command, an earlier round, another process)
        try:
            action.fire(app, UUID(stream), item, now)
        except DomainError as e:  # decided otherwise on the stored state (another process got there first), or lost
            fired.append(Fired(action.name, stream, item, due, error=f"{type(e).__name__}: {e}"))
            # a race, or a time behind the log: the next round looks again (and finds it done, or acts on it); a
            # deadline is never dropped while its item waits (the verifier's clock_missing)
            projections.deadlines.push(due, action, stream, item)
            continue
        fired.append(Fired(action.name, stream, item, due))
    return fired
