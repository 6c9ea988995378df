"""Petitions (docs/domain.md "Petitions"): status, deadline, signatures, threshold, response, closing.

Per petition the replay keeps O(1) state (plus, only between the signature that reaches the threshold and the
``threshold_reached`` event, the signatures seen in that window). One signature per pseudonym needs no signer
set: a valid signature lives in the stream ``S("petition", P, "signature", signer)`` at version 1, so a second
one would be version 2 of the same stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from verifier.rules.calendar import calendar_of
from verifier.rules.model import (
    Event,
    Malformed,
    Report,
    Violation,
    add_period,
    as_bool,
    as_int,
    as_list,
    as_map,
    as_str,
    local_date,
    pseudonym_problem,
    stream_id,
)
from verifier.rules.store import Scratch, SpillMap, pickle_codec

__all__ = ["PetitionRules"]

MAX_WINDOW = 100_000  # signatures remembered between reaching the threshold and threshold_reached


@dataclass(slots=True)
class Petition:
    threshold: int
    period: dict[str, Any]
    identity_methods: frozenset[str]
    working_days: int
    timezone: str
    calendar: dict[str, Any]
    key: int = 1
    status: str = "pending"
    deadline: str | None = None
    valid: int = 0  # valid signatures so far
    recorded: int = 0  # every petition.signed naming this petition (what a fold of the log counts)
    reached_by: Event | None = None  # the valid signature that brought the count to the threshold
    window: dict[str, str] = field(default_factory=dict)  # signature stream -> time, from reached_by on
    window_counts: dict[str, int] = field(default_factory=dict)  # signature stream -> count including it
    threshold_event: bool = False
    due_date: str | None = None
    responded: bool = False
    overdue: bool = False


class PetitionRules:
    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report
        self.scratch = Scratch() if scratch is None else scratch
        # Citizens create petitions: their number grows with the log, so they spill (pickled: a petition holds
        # the Event that reached its threshold).
        self.petitions: SpillMap[Petition] = self.scratch.map("petitions", pickle_codec())
        self.orphan_signatures: SpillMap[int] = self.scratch.map("orphan_signatures")
        self.late_responses: list[dict[str, Any]] = []
        #: ``(event, "petition", rules)`` -> the rule set checks of a ``petition.created``
        #: (:meth:`verifier.rules.rulesets.RuleSetRules.check_reference`), handed over by :meth:`read`.
        self.check_rule_set: Callable[[Event, str, Any], Violation | None] | None = None

    def read(self, kind: str, rules: Any) -> None:
        """The rules of a kind the petitions ask (verifier.kinds ``reads``): the rule sets."""
        if kind == "rulesets":
            self.check_rule_set = rules.check_reference

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        t = ev.type
        if t == "petition.signed":
            self._signed(ev)
            return
        if t == "petition.created":
            self._created(ev)
            return
        p = self.petitions.get(ev.stream)
        if p is None:
            self.fail(ev, "unknown_petition", f"{t} for a stream that holds no petition.created", None, ev.stream)
            return
        if p.status == "rejected":
            self.fail(ev, "event_after_rejected", "nothing may follow petition.rejected", "no event", t)
        elif p.status == "closed" and t not in (
            "petition.threshold_reached",
            "petition.responded",
            "petition.response_overdue",
        ):
            self.fail(
                ev,
                "event_after_closed",
                "only threshold_reached/responded/response_overdue may follow petition.closed",
                "threshold_reached, responded or response_overdue",
                t,
            )
        if t == "petition.published":
            self._published(ev, p)
        elif t == "petition.rejected":
            as_str(ev.data, "reason")
            if p.status != "pending":
                self.fail(ev, "moderated_twice", "a petition is moderated once", "status pending", p.status)
            p.status = "rejected"
        elif t == "petition.threshold_reached":
            self._threshold(ev, p)
        elif t == "petition.responded":
            self._responded(ev, p)
        elif t == "petition.closed":
            self._closed(ev, p)
        elif t == "petition.response_overdue":
            self._overdue(ev, p)
        else:
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a petition.* type", t)

    def _created(self, ev: Event) -> None:
        d = ev.data
        rules = as_map(d, "rules")
        author = as_str(d, "author")
        key = as_int(d, "pseudonym_key")
        wrong = pseudonym_problem(author, "cit", key)
        if wrong is not None:
            self.fail(ev, "pseudonym_mismatch", "author is a citizen pseudonym of the petition's key", wrong, author)
        threshold = as_int(rules, "threshold")
        period = dict(as_map(rules, "period"))
        add_period("2000-01-01T00:00:00.000000Z", period)  # validates the shape
        tz = as_str(rules, "timezone")
        try:
            ZoneInfo(tz)
        except (ValueError, KeyError) as exc:
            raise Malformed("rules.timezone", "an IANA time zone", tz) from exc
        if threshold < 1:
            self.fail(ev, "invalid_rules", "the threshold must be at least 1", ">= 1", threshold)
        if self.check_rule_set is not None:
            found = self.check_rule_set(ev, "petition", rules)
            if found is not None:
                self.report(found)
        if ev.version != 1:
            self.fail(ev, "created_not_first", "petition.created opens its stream", "version 1", ev.version)
        if ev.stream in self.petitions:
            self.fail(ev, "created_twice", "a petition is created once", None, ev.stream)
        self.petitions[ev.stream] = Petition(
            threshold=threshold,
            period=period,
            identity_methods=frozenset(str(m) for m in as_list(rules, "identity_methods")),
            working_days=as_int(rules, "response_working_days"),
            timezone=tz,
            calendar=dict(as_map(rules, "calendar")),
            key=key,
            recorded=self.orphan_signatures.pop(ev.stream, 0),
        )

    def _published(self, ev: Event, p: Petition) -> None:
        deadline = as_str(ev.data, "deadline")
        if p.status != "pending":
            self.fail(ev, "moderated_twice", "a petition is moderated once", "status pending", p.status)
        expected = add_period(ev.time, p.period)
        if deadline != expected:
            self.fail(
                ev,
                "deadline_mismatch",
                f"deadline must be time(published) + period {p.period}",
                expected,
                deadline,
            )
        p.status = "published"
        p.deadline = deadline

    def _signed(self, ev: Event) -> None:
        d = ev.data
        pid = as_str(d, "petition")
        signer = as_str(d, "signer")
        method = as_str(d, "identity_method")
        p = self.petitions.get(pid)
        if p is None:
            self.orphan_signatures[pid] = self.orphan_signatures.get(pid, 0) + 1
            self.fail(ev, "unknown_petition", "signature for a petition that was not created before it", None, pid)
            return
        p.recorded += 1
        valid = True
        expected_stream = stream_id("petition", pid, "signature", signer)
        if ev.stream != expected_stream:
            valid = False
            self.fail(
                ev,
                "signature_stream_mismatch",
                "a signature's stream is S('petition', P, 'signature', signer) (one signature per pseudonym)",
                expected_stream,
                ev.stream,
            )
        elif ev.version != 1:
            valid = False
            self.fail(
                ev,
                "duplicate_signature",
                f"second signature by pseudonym {signer} (one signature per pseudonym)",
                "version 1",
                ev.version,
            )
        if p.status == "pending" or p.status == "rejected":
            valid = False
            self.fail(
                ev, "signature_before_publication", "petition not published before the signature", "published", p.status
            )
        elif p.status == "closed":
            valid = False
            self.fail(ev, "signature_after_closure", "petition closed before the signature", "published", "closed")
        elif p.deadline is not None and not ev.time < p.deadline:
            valid = False
            self.fail(
                ev, "signature_after_deadline", "signature at or after the deadline", f"time < {p.deadline}", ev.time
            )
        wrong = pseudonym_problem(signer, "cit", p.key)
        if wrong is not None:
            valid = False
            self.fail(ev, "pseudonym_mismatch", "signer is a citizen pseudonym of the petition's key", wrong, signer)
        if method not in p.identity_methods:
            valid = False
            self.fail(
                ev,
                "identity_method_not_allowed",
                "identity method not in the petition's rules",
                sorted(p.identity_methods),
                method,
            )
        if not valid:
            return
        p.valid += 1
        if p.valid == p.threshold and p.reached_by is None:
            p.reached_by = ev
        if p.reached_by is not None and not p.threshold_event and len(p.window) < MAX_WINDOW:
            p.window[ev.stream] = ev.time
            p.window_counts[ev.stream] = p.valid

    def _threshold(self, ev: Event, p: Petition) -> None:
        d = ev.data
        count = as_int(d, "count")
        signature = as_str(d, "signature")
        due = as_str(d, "due_date")
        if p.threshold_event:
            self.fail(ev, "threshold_repeated", "threshold_reached occurs at most once per petition", "once", "again")
            return
        if p.valid < p.threshold:
            self.fail(
                ev,
                "threshold_early",
                "threshold_reached before the count reached the threshold",
                f"count >= {p.threshold}",
                p.valid,
            )
        elif not p.threshold <= count <= p.valid:
            self.fail(
                ev,
                "threshold_count_mismatch",
                "data.count must be between the threshold and the count at this point",
                f"{p.threshold} <= count <= {p.valid}",
                count,
            )
        sig_time = p.window.get(signature)
        if sig_time is None:
            self.fail(
                ev,
                "threshold_signature_unknown",
                "data.signature must name a valid signature of this petition counted at or after the threshold",
                p.reached_by.stream if p.reached_by else None,
                signature,
            )
        else:
            if ev.time != sig_time:
                self.fail(
                    ev, "threshold_time_mismatch", "time must equal the named signature's time", sig_time, ev.time
                )
            if p.window_counts[signature] < count:
                self.fail(
                    ev,
                    "threshold_count_mismatch",
                    "the count including the named signature must be >= data.count",
                    f">= {count}",
                    p.window_counts[signature],
                )
        expected_due = self.due_date(p, ev.time)
        if due != expected_due:
            self.fail(
                ev,
                "due_date_mismatch",
                f"due_date = the {p.working_days}th working day after the local date ({p.timezone}) of time",
                expected_due,
                due,
            )
        p.threshold_event = True
        p.due_date = due
        p.window.clear()
        p.window_counts.clear()

    def due_date(self, p: Petition, instant: str) -> str:
        local = local_date(instant, ZoneInfo(p.timezone))
        return calendar_of(p.calendar).nth_working_day_after(local, p.working_days).isoformat()

    def _responded(self, ev: Event, p: Petition) -> None:
        d = ev.data
        as_str(d, "response")
        due = as_str(d, "due_date")
        on_time = as_bool(d, "on_time")
        if not p.threshold_event:
            self.fail(
                ev, "response_before_threshold", "a response only after threshold_reached", "threshold_reached", "none"
            )
        if p.responded:
            self.fail(ev, "response_repeated", "petition.responded at most once", "once", "again")
        if p.due_date is not None and due != p.due_date:
            self.fail(ev, "due_date_mismatch", "responded.due_date repeats the threshold's", p.due_date, due)
        expected_on_time = local_date(ev.time, ZoneInfo(p.timezone)).isoformat() <= due
        if on_time != expected_on_time:
            self.fail(ev, "on_time_mismatch", "on_time = (local date of time <= due_date)", expected_on_time, on_time)
        if not on_time and len(self.late_responses) < 200:
            self.late_responses.append({"index": ev.index, "petition": ev.stream, "due_date": due, "time": ev.time})
        p.responded = True

    def _overdue(self, ev: Event, p: Petition) -> None:
        """``petition.response_overdue``: once, after ``threshold_reached`` and before any response, repeating the
        threshold's ``due_date`` and the rules' ``response_working_days`` (its time: the clock replay,
        verifier/rules/clock.py)."""
        d = ev.data
        due = as_str(d, "due_date")
        days = as_int(d, "response_working_days")
        if not p.threshold_event:
            self.fail(
                ev,
                "overdue_before_threshold",
                "no response is due before threshold_reached",
                "threshold_reached",
                "none",
            )
        elif p.responded:
            self.fail(ev, "overdue_after_response", "the petition has its response already", "no response", "responded")
        if p.overdue:
            self.fail(ev, "overdue_repeated", "petition.response_overdue at most once", "once", "again")
        if p.due_date is not None and due != p.due_date:
            self.fail(ev, "due_date_mismatch", "response_overdue.due_date repeats the threshold's", p.due_date, due)
        if days != p.working_days:
            self.fail(
                ev,
                "overdue_rule_mismatch",
                "response_working_days repeats the petition's frozen rules",
                p.working_days,
                days,
            )
        p.overdue = p.overdue or p.threshold_event

    def _closed(self, ev: Event, p: Petition) -> None:
        d = ev.data
        reason = as_str(d, "reason")
        signatures = as_int(d, "signatures")
        if p.status != "published":
            self.fail(ev, "close_not_published", "petition.closed only when published", "published", p.status)
        if p.deadline is not None and ev.time < p.deadline:
            self.fail(
                ev, "closed_before_deadline", "petition.closed only at time >= deadline", f">= {p.deadline}", ev.time
            )
        if reason != "deadline":
            self.fail(ev, "close_reason", "petition.closed reason", "deadline", reason)
        if signatures != p.valid:
            self.fail(ev, "close_count_mismatch", "signatures = the count of valid signatures", p.valid, signatures)
        p.status = "closed"

    def finish(self) -> None:
        for _pid, p in self.petitions.items():
            if p.reached_by is not None and not p.threshold_event:
                self.fail(
                    p.reached_by,
                    "threshold_missing",
                    "this signature brought the count to the threshold but no petition.threshold_reached follows",
                    "petition.threshold_reached",
                    "none",
                )

    def state_items(self) -> Iterator[tuple[str, Any]]:
        """``state.json``'s ``petitions`` part, in key order (read from the spill map a petition at a time)."""
        for pid, p in self.petitions.items():  # in key order
            yield (
                pid,
                {
                    "status": p.status,
                    "signatures": p.recorded,
                    "threshold": p.threshold,
                    "threshold_reached": p.threshold_event,
                    "responded": p.responded,
                },
            )
