"""The audit's report: what each step found (:class:`Finding`), each step's result, and the whole report.

Written by the steps (:mod:`verifier.steps`) and the runner (:mod:`verifier.runner`); read by the CLI
(``--json`` and the summary). Nothing here reads a bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from verifier.anchor_policy import RewriteCheck

__all__ = ["MAX_FINDINGS_PER_STEP", "AuditReport", "Finding", "Status", "StepResult"]

#: Findings kept per step (the rest are counted in ``findings_total``). Read at each use (tests lower it).
MAX_FINDINGS_PER_STEP = 200


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass
class Finding:
    """One failed check, with its evidence."""

    step: int
    code: str
    message: str
    index: int | None = None
    event_id: str | None = None
    event_type: str | None = None
    expected: Any = None
    found: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "code": self.code, "message": self.message}
        for key in ("index", "event_id", "event_type", "expected", "found"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.details:
            out["details"] = self.details
        return out

    def describe(self) -> str:
        lines = [f"[step {self.step}] {self.code}: {self.message}"]
        if self.index is not None:
            lines.append(f"  event:    #{self.index} id={self.event_id or '?'} type={self.event_type or '?'}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        for key, value in self.details.items():
            text = str(value)
            if "\n" in text:
                text = "\n" + "\n".join("      " + line for line in text.splitlines())
            lines.append(f"  {key}: {text}")
        return "\n".join(lines)


@dataclass
class StepResult:
    number: int
    name: str
    status: Status
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "findings_total": self.findings_total,
            "findings": [f.to_json() for f in self.findings],
            "stats": self.stats,
        }


@dataclass
class AuditReport:
    source: str
    origin: str
    tree_size: int
    steps: list[StepResult]
    warnings: list[str]
    seconds: float
    events: int
    # Whether the audit excluded that the operator rewrote and re-signed the whole log (``operator_rewrite``).
    rewrite: RewriteCheck = field(default_factory=lambda: RewriteCheck(False, "step 3 (anchors) was not run"))

    @property
    def verified(self) -> bool:
        return all(s.status is not Status.FAILED for s in self.steps)

    @property
    def complete(self) -> bool:
        return all(s.status is not Status.NOT_RUN for s in self.steps)

    @property
    def exit_code(self) -> int:
        return 0 if self.verified else 1

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def findings(self) -> list[Finding]:
        return [f for s in self.steps for f in s.findings]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "audit",
            "source": self.source,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "verified": self.verified,
            "complete": self.complete,
            "exit_code": self.exit_code,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "warnings": self.warnings,
            "operator_rewrite": self.rewrite.to_json(),
            "not_run": [
                {"number": s.number, "name": s.name, "reason": s.reason}
                for s in self.steps
                if s.status is Status.NOT_RUN
            ],
            "steps": [s.to_json() for s in self.steps],
        }
