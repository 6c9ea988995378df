"""The clock, replayed (docs/domain.md "The clock"): from the frozen deadlines in the log and the log's own time,
every deadline is acted on, and never early.

A deadline is set by an event (``petition.published`` ``deadline``; ``petition.threshold_reached``: the response is
overdue from the start of the local day after ``due_date``, in the petition's time zone; ``ballot.opened``
``closes_at``; ``kindergarten.offer_issued`` ``expires_at``) and is *acted on* by the event the clock appends for it
(``petition.closed``, ``petition.response_overdue``, ``ballot.closed`` or ``ballot.voting_ended``,
``kindergarten.offer_expired``), whoever appends it, or made moot by another (``petition.responded``; an accepted or
declined offer; the entry's withdrawal or removal).

Findings:

- ``clock_missing``: the log went on to an event at or after ``due + GRACE`` and nothing acted on the deadline, up to
  the end of the log;
- ``clock_late``: it was acted on, but only after such an event (at a later time than it);
- ``clock_early``: a clock event (actor ``system:clock``; ``petition.response_overdue`` whoever the actor) before its
  deadline.

The grace (:data:`GRACE_SECONDS`) is the verifier's tolerance for a clock that runs in rounds (every few seconds in
``hromada serve``, every few minutes from cron): events of one round share its time, so the events a late round
appends are not late with respect to each other.

Runs in the main process over every event (the rule worker's kinds included), before the kinds' rules; memory is
O(pending deadlines) plus one time zone per petition not yet at its threshold or closed.
"""

from __future__ import annotations

import contextlib
import heapq
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from verifier.rules.model import Event, Report, Violation, format_instant, parse_instant

__all__ = ["GRACE_SECONDS", "ClockReplay", "overdue_at"]

#: How long after a deadline the log may go on before the clock event must be in it.
GRACE_SECONDS = 3600
CLOCK = {"kind": "system", "id": "clock"}

_CLOSED, _OVERDUE, _BALLOT, _OFFER = (
    "petition.closed",
    "petition.response_overdue",
    "ballot.closed",
    "kindergarten.offer_expired",
)
#: The clock's events: the deadline each acts on.
_ACTS = {
    "petition.closed": _CLOSED,
    "petition.response_overdue": _OVERDUE,
    "ballot.closed": _BALLOT,
    "ballot.voting_ended": _BALLOT,
    "kindergarten.offer_expired": _OFFER,
}

#: Every type that sets, acts on or makes moot a deadline (the others only move the log's time on).
_SEEN = frozenset(
    {
        "petition.created",
        "petition.published",
        "petition.rejected",
        "petition.threshold_reached",
        "petition.responded",
        "ballot.opened",
        "kindergarten.offer_issued",
        "kindergarten.offer_accepted",
        "kindergarten.offer_declined",
        "kindergarten.entry_withdrawn",
        "kindergarten.entry_removed",
        *_ACTS,
    }
)

Key = tuple[str, str, str]  # (action, stream, item or "")


def overdue_at(due_date: str, tz: str) -> str:
    """A response due on the local date ``due_date`` is overdue from the start of the next local day (in UTC)."""
    start = datetime.combine(date.fromisoformat(due_date) + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
    return format_instant(start.astimezone(UTC))


class ClockReplay:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.pending: dict[Key, str] = {}  # key -> due
        self._heap: list[tuple[str, Key]] = []  # (due + grace, key); stale entries are dropped when popped
        self.passed: dict[Key, Event] = {}  # key -> the first event at or after due + grace, while pending
        self.timezones: dict[str, str] = {}  # petition -> rules.timezone, until its threshold or its end
        self.offers: dict[tuple[str, str], str] = {}  # (queue, entry) -> its pending offer
        self.deadlines = 0

    def fail(self, ev: Event, code: str, message: str, expected: Any, found: Any, **details: Any) -> None:
        self.report(Violation(ev, code, message, expected, found, details))

    def apply(self, ev: Event) -> None:
        t = ev.time
        heap = self._heap
        while heap and heap[0][0] <= t:
            _, key = heapq.heappop(heap)
            if key in self.pending and key not in self.passed:
                self.passed[key] = ev
        if ev.type not in _SEEN:
            return  # signatures, votes, registrations...: no deadline
        # malformed data: the kind's rules report it
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError, OverflowError):
            self._event(ev)

    def _event(self, ev: Event) -> None:
        t, d, s = ev.type, ev.data, ev.stream
        if t == "petition.created":
            self.timezones[s] = str(d["rules"]["timezone"])
        elif t == "petition.published":
            self._set(ev, (_CLOSED, s, ""), str(d["deadline"]))
        elif t == "petition.rejected":
            self.timezones.pop(s, None)
        elif t == "petition.threshold_reached":
            tz = self.timezones.pop(s, None)
            if tz is not None:
                self._set(ev, (_OVERDUE, s, ""), overdue_at(str(d["due_date"]), tz))
        elif t == "petition.responded":
            self._resolve(ev, (_OVERDUE, s, ""), acts=False)
        elif t == "ballot.opened":
            self._set(ev, (_BALLOT, s, ""), str(d["closes_at"]))
        elif t == "kindergarten.offer_issued":
            offer = str(d["offer"])
            self._set(ev, (_OFFER, s, offer), str(d["expires_at"]))
            self.offers[(s, str(d["entry"]))] = offer
        elif t in ("kindergarten.offer_accepted", "kindergarten.offer_declined"):
            self.offers.pop((s, str(d["entry"])), None)
            self._resolve(ev, (_OFFER, s, str(d["offer"])), acts=False)
        elif t in ("kindergarten.entry_withdrawn", "kindergarten.entry_removed"):
            cancelled = self.offers.pop((s, str(d["entry"])), None)
            if cancelled is not None:
                self._resolve(ev, (_OFFER, s, cancelled), acts=False)
        action = _ACTS.get(t)
        if action is None:
            return
        if t == "petition.closed":
            self.timezones.pop(s, None)
        if t == "kindergarten.offer_expired":
            self.offers.pop((s, str(d["entry"])), None)
        self._resolve(ev, (action, s, str(d["offer"]) if action == _OFFER else ""), acts=True)

    def _set(self, ev: Event, key: Key, due: str) -> None:
        parse_instant(due)
        self.deadlines += 1
        self.pending[key] = due
        self.passed.pop(key, None)
        heapq.heappush(self._heap, (format_instant(parse_instant(due) + timedelta(seconds=GRACE_SECONDS)), key))

    def _resolve(self, ev: Event, key: Key, *, acts: bool) -> None:
        due = self.pending.pop(key, None)
        if due is None:
            return
        action, stream, item = key
        what = {"action": action, "stream": stream, "item": item or None, "due": due}
        clock_event = ev.actor == CLOCK or ev.type == _OVERDUE
        if acts and clock_event and ev.time < due:
            self.fail(
                ev, "clock_early", f"{ev.logged_type} by the clock before its deadline", f">= {due}", ev.time, **what
            )
        passed = self.passed.pop(key, None)
        if passed is not None and ev.time > passed.time:
            self.fail(
                ev,
                "clock_late",
                f"{action} was due at {due}; the log went on past it (grace {GRACE_SECONDS} s) before this event",
                f"{action} by {passed.time} (event #{passed.index})",
                ev.time,
                **what,
                passed_at={"index": passed.index, "time": passed.time},
            )

    def finish(self) -> None:
        for key, ev in sorted(self.passed.items(), key=lambda kv: kv[1].index):
            if key not in self.pending:
                continue
            action, stream, item = key
            due = self.pending[key]
            self.fail(
                ev,
                "clock_missing",
                f"{action} of {stream}{' offer ' + item if item else ''} was due at {due}; the log went on past it "
                f"(grace {GRACE_SECONDS} s; this event's time) and holds no {action}",
                action,
                "none",
                action=action,
                stream=stream,
                item=item or None,
                due=due,
            )
