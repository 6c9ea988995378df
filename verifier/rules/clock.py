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
  the end of the log (the finding is at the event that set the deadline, and names the action, stream, item, due);
- ``clock_late``: it was acted on, but only after such an event (at a later time than it);
- ``clock_early``: a clock event (actor ``system:clock``; ``petition.response_overdue`` whoever the actor) before its
  deadline.

The grace (:data:`GRACE_SECONDS`) is the verifier's tolerance for a clock that runs in rounds (every few seconds in
``hromada serve``, every few minutes from cron): events of one round share its time, so the events a late round
appends are not late with respect to each other.

Runs in the main process over every event (the rule worker's kinds included), before the kinds' rules. Its state is
one row per waiting deadline, one time zone per petition not yet at its threshold or closed and one row per pending
offer, in maps that spill to the rule step's scratch file; the log's time is two instants (times never go backwards
in log order, step 1), so a deadline is missed iff the log's last time is at or after ``due + GRACE``, and acted on
late iff the latest time before its event's is.
"""

from __future__ import annotations

import contextlib
import marshal
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from verifier.rules.model import Event, Report, Violation, format_instant, parse_instant
from verifier.rules.store import Scratch, SpillMap

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
    """The clock's deadlines of one log. ``scratch``: the rule step's (its maps spill to the scratch file, so memory
    stays bounded however many petitions, ballots and offers wait)."""

    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report
        scratch = Scratch() if scratch is None else scratch
        #: "action stream item" -> (due, index, id, type as logged, stream) of the event that set it
        self.pending: SpillMap[tuple[str, int, str, str, str]] = scratch.map("clock_pending", _MARSHAL)
        self.timezones: SpillMap[str] = scratch.map("clock_timezones")  # petition -> rules.timezone, until needed
        self.offers: SpillMap[str] = scratch.map("clock_offers")  # "queue entry" -> its pending offer
        self.deadlines = 0
        # the log's time: the latest event time, and the latest before it (with the index of its last event)
        self.last: str | None = None
        self.prev: str | None = None
        self.prev_index = -1
        self._last_index = -1

    def fail(self, ev: Event, code: str, message: str, expected: Any, found: Any, **details: Any) -> None:
        self.report(Violation(ev, code, message, expected, found, details))

    def apply(self, ev: Event) -> None:
        t = ev.time
        if self.last is None or t > self.last:
            self.prev, self.prev_index, self.last = self.last, self._last_index, t
        self._last_index = ev.index
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
            self.offers[f"{s} {d['entry']}"] = offer
        elif t in ("kindergarten.offer_accepted", "kindergarten.offer_declined"):
            self.offers.pop(f"{s} {d['entry']}", None)
            self._resolve(ev, (_OFFER, s, str(d["offer"])), acts=False)
        elif t in ("kindergarten.entry_withdrawn", "kindergarten.entry_removed"):
            cancelled = self.offers.pop(f"{s} {d['entry']}", None)
            if cancelled is not None:
                self._resolve(ev, (_OFFER, s, cancelled), acts=False)
        action = _ACTS.get(t)
        if action is None:
            return
        if t == "petition.closed":
            self.timezones.pop(s, None)
        if t == "kindergarten.offer_expired":
            self.offers.pop(f"{s} {d['entry']}", None)
        self._resolve(ev, (action, s, str(d["offer"]) if action == _OFFER else ""), acts=True)

    def _set(self, ev: Event, key: Key, due: str) -> None:
        parse_instant(due)
        self.deadlines += 1
        self.pending[" ".join(key)] = (due, ev.index, ev.id, ev.logged_type, ev.stream)

    def _resolve(self, ev: Event, key: Key, *, acts: bool) -> None:
        found = self.pending.pop(" ".join(key), None)
        if found is None:
            return
        due = found[0]
        action, stream, item = key
        what = {"action": action, "stream": stream, "item": item or None, "due": due}
        clock_event = ev.actor == CLOCK or ev.type == _OVERDUE
        if acts and clock_event and ev.time < due:
            self.fail(
                ev, "clock_early", f"{ev.logged_type} by the clock before its deadline", f">= {due}", ev.time, **what
            )
        # late: an event before this one, at an earlier time than this one, was already at or after due + grace
        if self.prev is not None and ev.time == self.last and self.prev >= _plus_grace(due):
            self.fail(
                ev,
                "clock_late",
                f"{action} was due at {due}; the log went on past it (grace {GRACE_SECONDS} s) before this event",
                f"{action} by {self.prev} (event #{self.prev_index})",
                ev.time,
                **what,
                passed_at={"index": self.prev_index, "time": self.prev},
            )

    def finish(self) -> None:
        """Every deadline still waiting that the log's last time went past (by the grace) is missing; the finding is
        at the event that set it."""
        last = self.last
        if last is None:
            return
        for key, (due, index, eid, logged, stream) in self.pending.items():
            if last < _plus_grace(due):
                continue
            action, _, item = key.split(" ")
            setter = Event(index, eid, logged, stream, 0, "", {}, {})
            self.fail(
                setter,
                "clock_missing",
                f"{action} of {stream}{' offer ' + item if item else ''} was due at {due} (set by this event); the "
                f"log goes on to {last}, past it by more than the grace ({GRACE_SECONDS} s), and holds no {action}",
                action,
                "none",
                action=action,
                stream=stream,
                item=item or None,
                due=due,
                log_time=last,
            )


def _plus_grace(due: str) -> str:
    return format_instant(parse_instant(due) + timedelta(seconds=GRACE_SECONDS))


_MARSHAL = (marshal.dumps, marshal.loads)
