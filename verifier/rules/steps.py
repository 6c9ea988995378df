"""Audit steps 4 (rule replay) and 5 (actor authorisation), plugged into :func:`verifier.steps.defaults.default_steps`.

Both look at every line during the single streaming pass, after step 1 has parsed it (``ctx.current``); lines
that step 1 rejected are not replayed (step 1 already reports them; the count is in the stats). Memory grows
with the number of aggregates, queue/register entries and ballot voters, never with the number of events.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from verifier import report as _report
from verifier.envelope import CheckedLine
from verifier.kinds import AUTHORISATION, STATE_PART, canonical_type
from verifier.limits import STATE_ALLOWANCE
from verifier.report import Finding, Status
from verifier.rules.clock import ClockReplay
from verifier.rules.model import Event, Violation
from verifier.rules.replay import Replay
from verifier.rules.services import Authorisation
from verifier.rules.statecmp import (
    OBJECT,
    SCALAR,
    LazyObject,
    Row,
    StateBeyondLimit,
    StateTable,
    StateUnreadable,
    first_state_difference,
    flatten,
    key_path,
    read_published,
)
from verifier.source import Oversize, Unterminated
from verifier.spill import ScratchFile
from verifier.steps.base import AuditContext, SkippedStep, Step

__all__ = [
    "STATE_PART",
    "AuthorisationStep",
    "ReplayPart",
    "RuleReplayStep",
    "SkippedStep",
    "event_of",
    "rule_finding",
    "skipped_rule_steps",
]


def _index(f: Finding) -> int:
    return -1 if f.index is None else f.index


def rule_finding(step: int, v: Violation) -> Finding:
    ev = v.event
    return Finding(
        step=step,
        code=v.code,
        message=v.message,
        index=ev.index if ev else None,
        event_id=ev.id if ev else None,
        event_type=ev.logged_type if ev else None,
        expected=v.expected,
        found=v.found,
        details=dict(v.details),
    )


def _event(ctx: AuditContext, index: int) -> Event | None:
    """The event of line ``index`` as step 1 parsed it (shared by steps 4 and 5), or None if step 1 rejected it."""
    cached: tuple[int, Event | None] | None = ctx.__dict__.get("_rules_event")
    if cached is not None and cached[0] == index:
        return cached[1]
    ev = event_of(index, ctx.current)
    ctx.__dict__["_rules_event"] = (index, ev)  # a private attribute of the shared context
    return ev


def event_of(index: int, checked: CheckedLine | None) -> Event | None:
    """The rules' view of line ``index`` as step 1 checked it, or None if step 1 rejected it (also the monitor's,
    verifier/monitor/rules.py)."""
    if checked is None or checked.problems:
        return None
    env = checked.event
    if env is None:
        return None
    logged = env["type"]
    etype = canonical_type(logged)  # the rules see one name (verifier.kinds)
    return Event(
        index,
        env["id"],
        etype,
        env["stream"],
        env["version"],
        env["time"],
        env["actor"],
        env["data"],
        None if etype is logged else logged,
    )


@dataclass
class ReplayPart:
    """What a rule worker process replayed (the events whose type prefix is in its share), to be merged into
    the main process's step 4 (:meth:`RuleReplayStep.merge`): its findings during the stream and at the end,
    with their uncapped counts and its counters. Its parts of the replayed public state follow separately, as
    rows in batches (:meth:`RuleReplayStep.own_state_rows`, :meth:`RuleReplayStep.replayed_state`)."""

    stream: list[Finding]
    stream_total: int
    tail: list[Finding]
    tail_total: int
    counts: dict[str, int]
    late_responses: list[dict[str, Any]]


class RuleReplayStep(Step):
    """Step 4. ``exclude``: type prefixes this instance does not replay (a rule worker process replays them,
    and :meth:`merge` takes its :class:`ReplayPart` in before :meth:`finish`). ``quiet``: kinds (names) it replays
    without reporting or counting them (a rule worker's copy of the kinds both processes replay)."""

    number = 4
    name = "rule replay (petitions, ballots, queues; state.json)"
    wants_lines = True

    def __init__(
        self, cache_items: int | None = None, exclude: frozenset[str] = frozenset(), quiet: frozenset[str] = frozenset()
    ) -> None:
        super().__init__()
        self.replay = Replay(lambda v: self.fail(rule_finding(4, v)), cache_items, quiet=quiet)
        # the clock's deadlines span kinds of both processes and need the whole log's time: replayed here, over
        # every event, never in the rule worker (which calls ``replay.apply`` itself)
        self.clock = ClockReplay(lambda v: self.fail(rule_finding(4, v)), self.replay.scratch)
        self.cache_items = self.replay.scratch.cache_items  # resolved (a rule worker process gets the same)
        self.not_replayed = 0
        self.exclude = exclude
        self.other: ReplayPart | None = None
        self._published_state: tuple[Any, StateUnreadable | None] | None = None
        self._state_file: ScratchFile | None = None  # the two sides of the state.json comparison
        self._replayed: StateTable | None = None
        self._published_table: StateTable | None = None

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        ev = _event(ctx, index)
        if ev is None:
            self.not_replayed += 1
            return
        self.clock.apply(ev)
        if self.exclude and ev.type.partition(".")[0] in self.exclude:
            if self.replay.scratch.overfull:  # the clock's maps (the replay evicts after its own events)
                self.replay.scratch.maintain()
            return
        self.replay.apply(ev)

    def _counts(self) -> dict[str, int]:
        r = self.replay
        return {"events_replayed": r.events, **r.counts(), "rule_state_values_spilled_to_disk": r.scratch.evicted}

    def part(self) -> ReplayPart:
        """In a rule worker process, after the stream: this share's :class:`ReplayPart` (then, if the main process
        compares a published state, :meth:`own_state_rows`; then ``replay.close()``)."""
        r = self.replay
        stream, stream_total = self.result.findings, self.result.findings_total
        self.result.findings, self.result.findings_total = [], 0
        r.finish()
        return ReplayPart(
            stream,
            stream_total,
            self.result.findings,
            self.result.findings_total,
            self._counts(),
            r.petitions.late_responses,
        )

    def own_state_rows(self) -> Iterator[Row]:
        """The rows (:mod:`verifier.rules.statecmp`) of the parts of the replayed public state this instance
        replays (not those of ``exclude``), made as they are consumed."""
        for prefix, part in STATE_PART.items():
            if prefix not in self.exclude:
                yield from flatten(key_path(part), LazyObject(self.replay.state_items(part)))

    def _tables(self) -> tuple[StateTable, StateTable]:
        if self._state_file is None:
            self._state_file = ScratchFile("hromada-verify-state-", "state.db")
            self._replayed = StateTable(self._state_file, "replayed")
            self._published_table = StateTable(self._state_file, "published")
        assert self._replayed is not None and self._published_table is not None
        return self._replayed, self._published_table

    def replayed_state(self) -> StateTable:
        """Where the replayed public state is collected for the comparison (a rule worker's rows are written
        here by the main process as they arrive)."""
        return self._tables()[0]

    def merge(self, other: ReplayPart) -> None:
        """Take in the share a rule worker replayed; :meth:`finish` then reports as if one replay had seen all."""
        self.other = other

    def finish(self, ctx: AuditContext) -> None:
        r = self.replay
        try:
            other = self.other
            if other is not None:  # the stream findings of both shares, in log order (each event is in one)
                mine = self.result.findings
                merged = heapq.merge(mine, other.stream, key=_index)
                self.result.findings = list(merged)[: _report.MAX_FINDINGS_PER_STEP]
                self.result.findings_total += other.stream_total
            r.finish()
            self.clock.finish()
            if other is not None:
                for f in other.tail:
                    self.fail(f)
                self.result.findings_total += other.tail_total - len(other.tail)
                if other.stream_total or other.tail_total:
                    self.result.status = Status.FAILED
            counts = self._counts()
            if other is not None:
                counts = {k: v + other.counts[k] for k, v in counts.items()}
            self.result.stats.update(
                {
                    "events_replayed": counts.pop("events_replayed"),
                    "events_not_replayed (rejected by step 1)": self.not_replayed,
                    **counts,
                    "clock_deadlines": self.clock.deadlines,
                }
            )
            late = r.petitions.late_responses + (other.late_responses if other is not None else [])
            if late:
                self.result.stats["late_petition_responses (on_time: false)"] = late
            self._compare_state(ctx)
        finally:
            r.close()
            if self._state_file is not None:
                self._state_file.close()

    def _published(self, ctx: AuditContext) -> tuple[bool, StateUnreadable | None]:
        """``state.json`` read once into the published table: (whether the bundle has one, or why it cannot be
        read)."""
        if self._published_state is None:
            present, error = False, None
            if ctx.bundle.has("state.json"):
                present = True
                try:
                    _bound_state(ctx)
                    with ctx.bundle.open_member("state.json") as f:
                        read_published(f, self._tables()[1])
                except StateUnreadable as exc:
                    error = exc
            self._published_state = (present, error)
        return self._published_state

    def compares_state(self, ctx: AuditContext) -> bool:
        """Whether :meth:`finish` will compare a published state with the replay (so a rule worker must send
        its parts of the replayed state): ``state.json`` is readable and not empty (``{}``, ``[]``, ``null``,
        ``false``, ``0`` or ``""``)."""
        present, error = self._published(ctx)
        if not present or error is not None:
            return False
        published = self._tables()[1]
        root = published.root()
        if root is None:
            return False
        kind, value = root
        return bool(value) if kind == SCALAR else not published.is_empty_container()

    def _compare_state(self, ctx: AuditContext) -> None:
        _, error = self._published(ctx)
        if error is not None:
            self.fail(Finding(4, error.code, error.describe()))
            return
        if not self.compares_state(ctx):
            self.result.stats["state_json"] = "absent or empty: the bundle publishes no state, nothing compared"
            ctx.warnings.append("state.json is absent or empty: the published state was not compared with the replay")
            return
        replayed, published = self._tables()
        replayed.add([(b"", OBJECT, None)])  # the top-level object; the rule worker's parts are already in
        replayed.add(self.own_state_rows())
        diff = first_state_difference(replayed, published)
        if diff is None:
            self.result.stats["state_json"] = "equal to the replay"
            return
        path, expected, found = diff
        self.result.stats["state_json"] = f"differs at {path}"
        self.fail(
            Finding(
                4,
                "state_mismatch",
                f"the published state.json differs from the replayed state; first difference at {path}",
                expected=expected,
                found=found,
                details={"path": path},
            )
        )


def _bound_state(ctx: AuditContext) -> None:
    """Refuse to read a ``state.json`` larger than ``events.jsonl`` plus :data:`~verifier.limits.STATE_ALLOWANCE`:
    the published state is derived from the events and far smaller (reading it costs ~5 µs per value)."""
    size, events = ctx.bundle.member_size("state.json"), ctx.bundle.member_size("events.jsonl")
    if size is not None and events is not None and size > events + STATE_ALLOWANCE:
        raise StateBeyondLimit(
            f"it is {size:,} bytes, more than events.jsonl ({events:,} bytes) plus {STATE_ALLOWANCE >> 20} MiB (the "
            "verifier's limit: the published state is derived from the events and far smaller)"
        )


class AuthorisationStep(Step):
    number = 5
    name = "actor authorisation (scopes, citizens, system)"
    wants_lines = True

    def __init__(self, cache_items: int | None = None) -> None:
        super().__init__()
        self.auth = Authorisation(lambda v: self.fail(rule_finding(5, v)), AUTHORISATION, cache_items)
        self.cache_items = self.auth.scratch.cache_items
        self.checked = 0

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        ev = _event(ctx, index)
        if ev is None:
            return
        self.checked += 1
        self.auth.handle(ev)

    def finish(self, ctx: AuditContext) -> None:
        self.result.stats.update({"events_checked": self.checked, "services_seen": len(self.auth.services)})
        self.auth.close()


def skipped_rule_steps(reason: str = "skipped: --no-rules (the domain rules were not replayed)") -> list[Step]:
    return [SkippedStep(4, RuleReplayStep.name, reason), SkippedStep(5, AuthorisationStep.name, reason)]
