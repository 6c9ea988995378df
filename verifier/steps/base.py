"""The step base: what every audit step is (:class:`Step`) and what the steps share (:class:`AuditContext`).

A step is numbered and named; the runner (:mod:`verifier.runner`) asks it :meth:`Step.skip_reason`, then calls
:meth:`Step.start`, :meth:`Step.on_line` for every line of ``events.jsonl`` (if it ``wants_lines``) and
:meth:`Step.finish`; a failed check is :meth:`Step.fail` with a :class:`~verifier.report.Finding`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from verifier import report
from verifier.anchor_policy import RewriteCheck
from verifier.anchors import ChainAccess
from verifier.envelope import CheckedLine
from verifier.note import VerifierKey
from verifier.report import Finding, Status, StepResult
from verifier.source import Bundle, LineBound, LogInfo, Oversize, Unterminated

__all__ = ["NOT_IMPLEMENTED", "AuditContext", "NotImplementedStep", "ProgressCallback", "SkippedStep", "Step"]

NOT_IMPLEMENTED = "not yet implemented in this verifier version"

ProgressCallback = Callable[[int, int], None]


@dataclass
class AuditContext:
    """What steps share. ``roots`` maps a tree size to the root recomputed from the leaves."""

    bundle: Bundle
    log: LogInfo
    auditor_key: VerifierKey | None
    offline: bool
    extra_checkpoints: Sequence[tuple[str, bytes]]
    trusted_key: VerifierKey | None = None
    # Set by step 2: the trusted key and the keys the hand-overs lead to from it, in order (verifier.keychain).
    key_chain: list[VerifierKey] = field(default_factory=list)
    wanted_sizes: set[int] = field(default_factory=set)
    roots: dict[int, bytes] = field(default_factory=dict)
    events_seen: int = 0
    warnings: list[str] = field(default_factory=list)
    # How step 3 reaches the chain (--rpc, --contract); None: no chain access.
    chain: ChainAccess | None = None
    # What step 3 could say about the operator rewriting and re-signing the whole log (set when it ran).
    rewrite: RewriteCheck | None = None
    # Set by step 1 for the line being processed, for later steps that look at events.
    current: CheckedLine | None = None
    # Set by step 2: no line of events.jsonl beyond this many is read (the largest tree size signed by the trusted
    # key: nothing could authenticate a line beyond it); ``lines.exceeded`` tells whether the file holds more.
    lines: LineBound | None = None


class Step:
    """A numbered audit step. Override :meth:`skip_reason`, :meth:`start`, :meth:`on_line`, :meth:`finish`."""

    number: int = 0
    name: str = ""
    wants_lines: bool = False

    def __init__(self) -> None:
        self.result = StepResult(self.number, self.name, Status.PASSED)

    def skip_reason(self, ctx: AuditContext) -> str | None:
        """Why this step will not run (shown in the summary), or None to run it."""
        return None

    def start(self, ctx: AuditContext) -> None:
        return None

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        return None

    def finish(self, ctx: AuditContext) -> None:
        return None

    def fail(self, finding: Finding) -> None:
        self.result.status = Status.FAILED
        self.result.findings_total += 1
        if len(self.result.findings) < report.MAX_FINDINGS_PER_STEP:
            self.result.findings.append(finding)


class NotImplementedStep(Step):
    """A step this verifier version knows about but cannot run yet. Never reports "passed"."""

    def __init__(self, number: int, name: str, offline_skips: bool = False) -> None:
        self.number = number
        self.name = name
        self.offline_skips = offline_skips
        super().__init__()

    def skip_reason(self, ctx: AuditContext) -> str | None:
        if self.offline_skips and ctx.offline:
            return "skipped: --offline (no chain queries were made)"
        return NOT_IMPLEMENTED


class SkippedStep(Step):
    """A step the auditor chose not to run: reported NOT RUN with the reason, never as passed."""

    def __init__(self, number: int, name: str, reason: str) -> None:
        self.number = number
        self.name = name
        super().__init__()
        self.reason = reason

    def skip_reason(self, ctx: AuditContext) -> str | None:
        return self.reason
