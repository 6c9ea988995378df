"""Audit steps 4 (rule replay) and 5 (actor authorisation), plugged into :func:`verifier.audit.default_steps`.

Both look at every line during the single streaming pass, after step 1 has parsed it (``ctx.current``); lines
that step 1 rejected are not replayed (step 1 already reports them; the count is in the stats). Memory grows
with the number of aggregates, queue/register entries and ballot voters, never with the number of events.
"""

from __future__ import annotations

import json
from typing import Any

from verifier.audit import AuditContext, Finding, Step
from verifier.bundle import Oversize, Unterminated
from verifier.rules.model import Event, Violation, first_difference
from verifier.rules.replay import Replay
from verifier.rules.services import Authorisation

__all__ = ["AuthorisationStep", "RuleReplayStep", "SkippedStep", "skipped_rule_steps"]


def _finding(step: int, v: Violation) -> Finding:
    ev = v.event
    return Finding(
        step=step,
        code=v.code,
        message=v.message,
        index=ev.index if ev else None,
        event_id=ev.id if ev else None,
        event_type=ev.type if ev else None,
        expected=v.expected,
        found=v.found,
        details=dict(v.details),
    )


def _event(ctx: AuditContext, index: int) -> Event | None:
    """The event of line ``index`` as step 1 parsed it (shared by steps 4 and 5), or None if step 1 rejected it."""
    cached: tuple[int, Event | None] | None = ctx.__dict__.get("_rules_event")
    if cached is not None and cached[0] == index:
        return cached[1]
    checked = ctx.current
    if checked is None or checked.problems:
        ev = None
    else:
        env = checked.event
        ev = (
            None
            if env is None
            else Event(
                index, env["id"], env["type"], env["stream"], env["version"], env["time"], env["actor"], env["data"]
            )
        )
    ctx.__dict__["_rules_event"] = (index, ev)  # a private attribute of the shared context
    return ev


class RuleReplayStep(Step):
    number = 4
    name = "rule replay (petitions, ballots, queues; state.json)"
    wants_lines = True

    def __init__(self, cache_items: int | None = None) -> None:
        super().__init__()
        self.replay = Replay(lambda v: self.fail(_finding(4, v)), cache_items)
        self.cache_items = self.replay.scratch.cache_items  # resolved (a rule worker process gets the same)
        self.not_replayed = 0

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        ev = _event(ctx, index)
        if ev is None:
            self.not_replayed += 1
            return
        self.replay.apply(ev)

    def finish(self, ctx: AuditContext) -> None:
        r = self.replay
        try:
            r.finish()
            self.result.stats.update(
                {
                    "events_replayed": r.events,
                    "events_not_replayed (rejected by step 1)": self.not_replayed,
                    "services": len(r.services.services),
                    "petitions": len(r.petitions.petitions),
                    "ballots": len(r.ballots.ballots),
                    "kindergarten_queues": len(r.kindergarten.queues),
                    "housing_registers": len(r.housing.registers),
                    "rule_state_values_spilled_to_disk": r.scratch.evicted,
                }
            )
            if r.petitions.late_responses:
                self.result.stats["late_petition_responses (on_time: false)"] = r.petitions.late_responses
            self._compare_state(ctx)
        finally:
            r.close()

    def _compare_state(self, ctx: AuditContext) -> None:
        published: Any = None
        if ctx.bundle.has("state.json"):
            try:
                with ctx.bundle.open_member("state.json") as f:
                    published = json.loads(f.read().decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                self.fail(Finding(4, "state_unreadable", f"state.json is not valid UTF-8 JSON: {exc}"))
                return
        if not published:
            self.result.stats["state_json"] = "absent or empty: the bundle publishes no state, nothing compared"
            ctx.warnings.append("state.json is absent or empty: the published state was not compared with the replay")
            return
        replayed = self.replay.public_state()
        diff = first_difference(replayed, published)
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


class AuthorisationStep(Step):
    number = 5
    name = "actor authorisation (scopes, citizens, system)"
    wants_lines = True

    def __init__(self, cache_items: int | None = None) -> None:
        super().__init__()
        self.auth = Authorisation(lambda v: self.fail(_finding(5, v)), cache_items)
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


class SkippedStep(Step):
    """A step the auditor chose not to run: reported NOT RUN with the reason, never as passed."""

    def __init__(self, number: int, name: str, reason: str) -> None:
        self.number = number
        self.name = name
        super().__init__()
        self.reason = reason

    def skip_reason(self, ctx: AuditContext) -> str | None:
        return self.reason


def skipped_rule_steps(reason: str = "skipped: --no-rules (the domain rules were not replayed)") -> list[Step]:
    return [SkippedStep(4, RuleReplayStep.name, reason), SkippedStep(5, AuthorisationStep.name, reason)]
