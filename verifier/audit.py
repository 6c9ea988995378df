"""The audit of a bundle, as numbered check steps.

The runner opens the bundle, reads ``log.json``, lets every step prepare, then streams ``events.jsonl`` once:
for each line it computes the leaf hash, appends it to a streaming Merkle tree (O(log n) memory), records the
root at every size some checkpoint claims, and hands the line to the steps that look at events. Then each step
finishes and reports. Memory does not grow with the log (findings are capped per step; per-stream version state
spills to disk, see :class:`verifier.envelope.StreamVersions`).

Steps (docs/audit.md):

1. envelopes and leaf hashes - every line is a well-formed envelope (formats.md §1), in order per stream,
   and ``events.jsonl`` holds exactly ``tree_size`` complete lines;
2. checkpoints - every checkpoint note is signed by the trusted key, names this log, and its root equals the
   root recomputed from the leaves at its size; two validly signed, different notes for one size are reported
   as proof of a fork; the key in ``log.json`` equals the auditor's key;
3. anchors - every ``Anchored`` event of this log on chain (read before the events are streamed, so the runner
   records the roots at anchored sizes too) equals the recomputed root at its size, and ``anchors.jsonl`` lists
   exactly the anchors that are on chain (:class:`verifier.anchor_step.AnchorStep`, :mod:`verifier.anchors`);
4. rule replay, 5. actor authorisation - a step this version cannot run is reported as NOT RUN with the reason,
   never as passed.

Later work plugs a step in by subclassing :class:`Step` and adding it to :func:`default_steps`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from verifier.anchor_policy import RewriteCheck
from verifier.anchors import ChainAccess
from verifier.bundle import Bundle, LineBound, LogInfo, Oversize, Unterminated, iter_event_lines, open_bundle
from verifier.envelope import (
    MAX_STREAMS_IN_MEMORY,
    CheckedLine,
    Problem,
    SequenceChecker,
    check_line,
    parse_accepted,
)
from verifier.errors import UnreadableInput, VerificationError
from verifier.merkle import EMPTY_ROOT, TreeBuilder
from verifier.note import Checkpoint, VerifierKey, open_checkpoint, parse_verifier_key

__all__ = [
    "MAX_FINDINGS_PER_STEP",
    "AuditContext",
    "AuditReport",
    "CheckpointStep",
    "EnvelopeStep",
    "Finding",
    "NotImplementedStep",
    "ProgressCallback",
    "Status",
    "Step",
    "StepResult",
    "default_steps",
    "run_audit",
]

MAX_FINDINGS_PER_STEP = 200
PROGRESS_EVERY = 4096
PARALLEL_MIN_EVENTS = 100_000  # below this, starting worker processes costs more than it saves
CHUNK_LINES = 2000
CHUNK_BYTES = 1 << 20
NOT_IMPLEMENTED = "not yet implemented in this verifier version"

ProgressCallback = Callable[[int, int], None]


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
class AuditContext:
    """What steps share. ``roots`` maps a tree size to the root recomputed from the leaves."""

    bundle: Bundle
    log: LogInfo
    auditor_key: VerifierKey | None
    offline: bool
    extra_checkpoints: Sequence[tuple[str, bytes]]
    trusted_key: VerifierKey | None = None
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
        if len(self.result.findings) < MAX_FINDINGS_PER_STEP:
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


def _problem_finding(step: int, index: int, checked: CheckedLine | None, p: Problem) -> Finding:
    return Finding(
        step=step,
        code=p.code,
        message=p.message,
        index=index,
        event_id=checked.event_id if checked else None,
        event_type=checked.event_type if checked else None,
        expected=p.expected,
        found=p.found,
    )


class EnvelopeStep(Step):
    number = 1
    name = "envelopes + leaf hashes"
    wants_lines = True

    def __init__(self, max_streams_in_memory: int = MAX_STREAMS_IN_MEMORY) -> None:
        super().__init__()
        self.sequence = SequenceChecker(max_streams_in_memory)
        self.bytes = 0
        self.truncated = False

    def start(self, ctx: AuditContext) -> None:
        self.sequence.versions.expected_streams = ctx.log.tree_size

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        if type(line) is bytes:
            self.bytes += len(line) + 1
            checked = check_line(line, ctx.log.origin)
        elif isinstance(line, Unterminated):
            self.truncated = True
            self.bytes += len(line.line)
            checked = check_line(line.line, ctx.log.origin)
            self.fail(
                Finding(
                    1,
                    "truncated",
                    "events.jsonl ends in the middle of a line (no final newline): the file is truncated",
                    index=index,
                    event_id=checked.event_id,
                    event_type=checked.event_type,
                    expected="a line ending in \\n",
                    found=f"{len(line.line)} bytes without \\n",
                )
            )
        else:
            assert isinstance(line, Oversize)
            self.bytes += line.length
            ctx.current = None
            self.fail(
                Finding(
                    1,
                    "too_large",
                    "line exceeds 65,535 bytes",
                    index=index,
                    expected="<= 65535 bytes",
                    found=f"{line.length} bytes",
                    details={"starts with": line.head[:80].decode("utf-8", "replace")},
                )
            )
            return
        ctx.current = checked
        event = checked.event
        if event is None:
            problems = checked.problems
        elif not checked.problems:
            more = self.sequence.check_valid(index, event["stream"], event["version"], event["time"])
            if more is None:
                return
            problems = more
        else:
            problems = checked.problems + self.sequence.check(index, event)
        for p in problems:
            self.fail(_problem_finding(1, index, checked, p))

    def on_checked(self, ctx: AuditContext, index: int, result: _LineResult) -> None:
        """Like :meth:`on_line`, for a line already checked by a worker process (parallel audit)."""
        ctx.current = None
        if result[1] is None:
            stream, version, etime, event_id, event_type = result[2:7]
            more = self.sequence.check_valid(index, stream, version, etime)
            if more is None:
                return
            problems = more
        else:
            _, problems, seq, event_id, event_type = result[:5]
            if seq is not None:
                problems = problems + self.sequence.check(index, seq)
        for p in problems:
            self.fail(Finding(1, p.code, p.message, index, event_id, event_type, expected=p.expected, found=p.found))

    def finish(self, ctx: AuditContext) -> None:
        spilled = self.sequence.versions.spilled
        self.sequence.close()
        n = ctx.events_seen
        self.result.stats.update({"events": n, "bytes": self.bytes, "streams_spilled_to_disk": spilled})
        beyond = ctx.lines is not None and ctx.lines.exceeded
        if beyond:
            self.fail(
                Finding(
                    1,
                    "beyond_signed_size",
                    f"events.jsonl holds more than {n:,} lines, the largest tree size signed by the trusted key: "
                    "no line beyond it is read (no checkpoint could authenticate it)",
                    index=n,
                    expected=f"<= {n} lines",
                    found=f"more than {n} lines",
                )
            )
        if n != ctx.log.tree_size or beyond:
            self.fail(
                Finding(
                    1,
                    "event_count",
                    "events.jsonl does not hold exactly tree_size events (log.json)"
                    + (
                        ": events were deleted or the file is truncated"
                        if n < ctx.log.tree_size
                        else ": events were inserted or appended"
                    ),
                    expected=ctx.log.tree_size,
                    found=f"more than {n}" if beyond else n,
                )
            )


@dataclass
class _Note:
    label: str
    checkpoint: Checkpoint


class CheckpointStep(Step):
    number = 2
    name = "checkpoints: signatures, roots, forks"

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[_Note] = []

    def start(self, ctx: AuditContext) -> None:
        log = ctx.log
        bundle_key: VerifierKey | None = None
        try:
            bundle_key = parse_verifier_key(log.verifier_key)
        except VerificationError as exc:
            self.fail(
                Finding(
                    2,
                    "bundle_key_malformed",
                    "log.json verifier_key is malformed: " + exc.message,
                    found=log.verifier_key,
                )
            )
        if ctx.auditor_key is not None:
            ctx.trusted_key = ctx.auditor_key
            self.result.stats["key_source"] = "auditor (--key)"
            if bundle_key is not None and bundle_key != ctx.auditor_key:
                self.fail(
                    Finding(
                        2,
                        "bundle_key_mismatch",
                        "log.json names a different verifier key than the one you trust",
                        expected=str(ctx.auditor_key),
                        found=log.verifier_key,
                    )
                )
        else:
            ctx.trusted_key = bundle_key
            self.result.stats["key_source"] = "bundle (log.json) - NOT independently trusted"
            ctx.warnings.append(
                "TRUSTING THE BUNDLE'S OWN KEY: no --key was given, so checkpoint signatures were checked with the "
                "key in log.json. Whoever made the bundle could have made that key too. Pass the log's published "
                "verifier key with --key for an independent audit."
            )
        key = ctx.trusted_key
        ctx.lines = LineBound(0)  # raised below to the largest size a note signed by the key covers
        if key is None:
            return
        self.result.stats["key"] = str(key)
        if key.name != log.origin:
            self.fail(
                Finding(
                    2,
                    "key_name_mismatch",
                    "the trusted key's name is not this log's origin (formats.md §3: the log's key name is the origin)",
                    expected=log.origin,
                    found=key.name,
                )
            )

        sources: list[tuple[str, int | None, bytes]] = []
        for cf in ctx.bundle.checkpoint_files():
            if cf.size_from_name is None:
                self.fail(
                    Finding(
                        2, "checkpoint_file_name", "checkpoint file name is not <tree size>[.<suffix>]", found=cf.name
                    )
                )
            sources.append((cf.name, cf.size_from_name, cf.content))
        for label, content in ctx.extra_checkpoints:
            sources.append((label, None, content))
        for label, size_from_name, content in sources:
            try:
                cp = open_checkpoint(content, key)
            except VerificationError as exc:
                self.fail(
                    Finding(
                        2,
                        exc.code,
                        f"{label}: {exc.message}",
                        expected=exc.evidence.expected,
                        found=exc.evidence.found,
                        details={"note": label},
                    )
                )
                continue
            ctx.lines.max_lines = max(ctx.lines.max_lines, cp.size)  # signed by the trusted key, for whatever origin
            if cp.origin != log.origin:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_origin_mismatch",
                        f"{label}: checkpoint is for another log",
                        expected=log.origin,
                        found=cp.origin,
                        details={"note": label},
                    )
                )
                continue
            if size_from_name is not None and size_from_name != cp.size:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_size_name_mismatch",
                        f"{label}: file name and checkpoint body disagree on the tree size",
                        expected=size_from_name,
                        found=cp.size,
                        details={"note": label},
                    )
                )
            self.notes.append(_Note(label, cp))
            ctx.wanted_sizes.add(cp.size)

        by_size: dict[int, list[_Note]] = {}
        for n in self.notes:
            by_size.setdefault(n.checkpoint.size, []).append(n)
        for size, group in sorted(by_size.items()):
            distinct: dict[bytes, _Note] = {}
            for n in group:
                distinct.setdefault(n.checkpoint.root, n)
            if len(distinct) > 1:
                a, b = list(distinct.values())[:2]
                self.fail(
                    Finding(
                        2,
                        "fork",
                        f"PROOF OF A FORK: two validly signed checkpoints for tree size {size} with different roots "
                        "(the log operator signed two different histories; keep both notes as evidence)",
                        expected=a.checkpoint.root.hex(),
                        found=b.checkpoint.root.hex(),
                        details={
                            "size": size,
                            f"note 1 ({a.label})": a.checkpoint.note,
                            f"note 2 ({b.label})": b.checkpoint.note,
                        },
                    )
                )
        if not any(n.checkpoint.size == log.tree_size for n in self.notes):
            self.fail(
                Finding(
                    2,
                    "no_checkpoint_at_tree_size",
                    "no valid signed checkpoint covers the bundle's tree_size: the last events are not authenticated",
                    expected=f"a checkpoint for size {log.tree_size}",
                    found=sorted(by_size) or "no valid checkpoints",
                )
            )

    def finish(self, ctx: AuditContext) -> None:
        self.result.stats["checkpoints_verified"] = len(self.notes)
        tiles = ctx.bundle.served_tiles()
        if tiles is not None:  # a ledger URL: the hash tiles it serves against the tree recomputed from its entries
            checked, problems = tiles
            self.result.stats["hash_tiles_checked"] = checked
            for p in problems:
                self.fail(
                    Finding(
                        2,
                        "tile_mismatch",
                        f"the ledger serves a hash tile that its entries do not make: {p.path}, hash {p.index}"
                        if p.index >= 0
                        else f"the ledger does not serve the hash tile {p.path}",
                        expected=p.expected,
                        found=p.found,
                        details={"tile": p.path},
                    )
                )
        agreeing: list[int] = []
        for n in sorted(self.notes, key=lambda x: x.checkpoint.size):
            cp = n.checkpoint
            if cp.size > ctx.events_seen:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_beyond_events",
                        f"{n.label}: checkpoint covers more events than events.jsonl holds",
                        expected=f">= {cp.size} events",
                        found=ctx.events_seen,
                        details={"note": n.label},
                    )
                )
                continue
            recomputed = ctx.roots[cp.size]
            if recomputed != cp.root:
                prior = max((s for s in agreeing if s < cp.size), default=0)
                self.fail(
                    Finding(
                        2,
                        "root_mismatch",
                        f"{n.label}: the root recomputed from events.jsonl differs from the signed checkpoint; "
                        f"some event in [{prior}, {cp.size}) was changed, inserted, deleted or moved",
                        expected=cp.root.hex(),
                        found=recomputed.hex(),
                        details={"note": n.label, "size": cp.size, "changed range": f"[{prior}, {cp.size})"},
                    )
                )
            else:
                agreeing.append(cp.size)
        self.result.stats["checkpoint_sizes_matching"] = sorted(set(agreeing))


def default_steps(
    max_streams_in_memory: int = MAX_STREAMS_IN_MEMORY, *, rules: bool = True, rule_cache_items: int | None = None
) -> list[Step]:
    """Steps 1-5. ``rules=False`` (``--no-rules``) reports steps 4 and 5 as NOT RUN instead of running them.
    ``rule_cache_items``: rule-state values kept in memory per map (default
    :data:`verifier.rules.store.DEFAULT_CACHE_ITEMS`; the rest spills to a temporary file)."""
    return [
        EnvelopeStep(max_streams_in_memory),
        CheckpointStep(),
        _anchor_step(),
        *_rule_steps(rules, rule_cache_items),
    ]


def _anchor_step() -> Step:
    """Step 3 (anchors): :mod:`verifier.anchor_step` (imported here: it builds on this module)."""
    from verifier.anchor_step import AnchorStep

    return AnchorStep()


def _rule_steps(rules: bool = True, cache_items: int | None = None) -> list[Step]:
    """Steps 4 (rule replay) and 5 (actor authorisation): :mod:`verifier.rules` (imported here: it builds on
    this module)."""
    from verifier.rules.steps import AuthorisationStep, RuleReplayStep, skipped_rule_steps

    return [RuleReplayStep(cache_items), AuthorisationStep(cache_items)] if rules else skipped_rule_steps()


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


def run_audit(
    source: str | Path | Bundle,
    key: VerifierKey | None = None,
    *,
    offline: bool = False,
    extra_checkpoints: Sequence[tuple[str, bytes]] = (),
    steps: Sequence[Step] | None = None,
    progress: ProgressCallback | None = None,
    workers: int = 1,
    chain: ChainAccess | None = None,
    rule_worker: bool | None = None,
) -> AuditReport:
    """Audit a bundle. Raises :class:`~verifier.errors.CannotVerify` when it cannot be read at all.

    ``workers``: 1 checks every line in this process; N > 1 spreads the stateless line checks over N worker
    processes (the Merkle tree, the order checks and the findings stay here, in log order, so the result is
    identical); 0 picks N = CPU count when the log has at least ``PARALLEL_MIN_EVENTS`` events and no step but
    step 1 wants the lines. With an explicit N > 1 the parallel path is used whenever step 1 runs (it is the
    first line step); later line steps (rule replay, authorisation) still run here, in log order, on the same
    ``ctx.current`` they would see in the serial path (see :func:`_stream_events_parallel`). Worker processes
    are forked when this process runs one thread (:func:`_worker_context`), else started with "spawn", so a
    calling script needs the usual ``if __name__ == "__main__":`` guard.

    ``rule_worker``: share step 4 with one worker process, which replays the aggregates of
    ``RULE_WORKER_PREFIXES`` while this process runs steps 1-3, the other aggregates' replay and step 5; it gets
    the lines of its aggregates that step 1 accepted (a rejected line is not replayed, as in the serial path) from
    this process's read of the source, and sends its findings, counters and state parts back, merged in log
    order: the report is identical (tested). None
    (default) chooses it when ``workers`` is 0, the log has at least ``PARALLEL_MIN_EVENTS`` events and there are
    2 or more CPUs.
    """
    started = time.perf_counter()
    bundle = source if isinstance(source, Bundle) else open_bundle(source)
    try:
        log = bundle.log_info()
        if not bundle.has("events.jsonl"):
            raise UnreadableInput(f"{bundle.source}: no events.jsonl")
        ctx = AuditContext(
            bundle=bundle, log=log, auditor_key=key, offline=offline, extra_checkpoints=extra_checkpoints, chain=chain
        )
        all_steps = list(steps) if steps is not None else default_steps()
        active: list[Step] = []
        for step in all_steps:
            reason = step.skip_reason(ctx)
            if reason is None:
                active.append(step)
            else:
                step.result.status = Status.NOT_RUN
                step.result.reason = reason
        for step in active:
            step.start(ctx)
        line_steps = [s for s in active if s.wants_lines]
        rule_steps = [s for s in line_steps if _is_rule_step(s)]
        cpus = os.cpu_count() or 1
        if rule_worker is None:  # automatic: only for large logs with the rule steps on, on 2+ CPUs, --workers 0
            rule_worker = workers == 0 and log.tree_size >= PARALLEL_MIN_EVENTS and cpus > 1
        feed: _RuleFeed | None = None
        replay_steps = [s for s in rule_steps if s.number == 4]
        if rule_worker and replay_steps and isinstance(line_steps[0], EnvelopeStep):
            replay_step = replay_steps[0]
            replay_step.exclude = RULE_WORKER_PREFIXES  # type: ignore[attr-defined]
            feed = _RuleFeed(bundle.worker_source, log.origin, replay_step, ctx.lines)
            line_steps = [*line_steps, feed]
            n_workers = workers if workers > 1 else 1
        else:
            n_workers = workers or (cpus if log.tree_size >= PARALLEL_MIN_EVENTS else 1)
        # Automatic mode (workers=0) parallelises step 1 only for the audit without later line steps: with the
        # rule steps on, they go to one rule worker process instead (above), and step 1 stays here.
        parallel_ok = workers > 1 or len(line_steps) == 1
        try:
            if n_workers > 1 and line_steps and isinstance(line_steps[0], EnvelopeStep) and parallel_ok:
                _stream_events_parallel(ctx, line_steps[0], line_steps[1:], progress, n_workers)
            else:
                _stream_events(ctx, line_steps, progress)
            if feed is not None:
                feed.collect(ctx)
        finally:
            if feed is not None:
                feed.stop()
        for step in active:
            step.finish(ctx)
    finally:
        if not isinstance(source, Bundle):
            bundle.close()
    results = [s.result for s in all_steps]
    rewrite = ctx.rewrite or _not_anchored(results)
    if not rewrite.checked:
        ran = ", ".join(str(s.number) for s in results if s.status is not Status.NOT_RUN)
        ctx.warnings.append(
            rewrite.warning("audit", f"steps {ran} show only that the bundle is consistent with its own signatures")
        )
    return AuditReport(
        source=bundle.source,
        origin=log.origin,
        tree_size=log.tree_size,
        steps=results,
        warnings=ctx.warnings,
        seconds=time.perf_counter() - started,
        events=ctx.events_seen,
        rewrite=rewrite,
    )


def _not_anchored(results: list[StepResult]) -> RewriteCheck:
    """The rewrite verdict when step 3 did not run: why it did not."""
    step3 = next((s for s in results if s.number == 3), None)
    if step3 is None or step3.status is not Status.NOT_RUN:
        return RewriteCheck(False, "step 3 (anchors) was not run")
    return RewriteCheck(False, f"step 3 (anchors) was NOT RUN ({step3.reason})")


def _stream_events(ctx: AuditContext, line_steps: list[Step], progress: ProgressCallback | None) -> None:
    tree = TreeBuilder()
    append = tree.append
    wanted = ctx.wanted_sizes
    roots = ctx.roots
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    total = ctx.log.tree_size
    sha256 = hashlib.sha256
    with ctx.bundle.open_events() as f:
        for index, line in enumerate(iter_event_lines(f, bound=ctx.lines)):
            if type(line) is bytes:
                append(sha256(b"\x00" + line).digest())
            elif isinstance(line, Unterminated):
                append(sha256(b"\x00" + line.line).digest())
            else:
                assert isinstance(line, Oversize)
                append(line.leaf_hash)
            for step in line_steps:
                step.on_line(ctx, index, line)
            size = index + 1
            if size in wanted:
                roots[size] = tree.root()
            if progress is not None and size % PROGRESS_EVERY == 0:
                progress(size, total)
    ctx.events_seen = tree.size
    if progress is not None:
        progress(tree.size, total)


# A worker's verdict on one line: (leaf, None, stream, version, time, id, type, event-or-None) when every
# stateless check passed (the parsed envelope is included only when later steps want it), else
# (leaf, problems, {stream, version, time} subset or None, id, type).
_LineResult = tuple[Any, ...]


def _check_chunk(lines: list[bytes], origin: str, want_events: bool = False) -> list[_LineResult]:
    """Worker process: leaf hash and stateless checks of a batch of lines.

    With ``want_events`` the parsed envelope of every line that passed is sent back too (pickling it is cheaper
    for the main process than parsing the line again), so the rule steps see the very value :func:`check_line`
    returned.
    """
    out: list[_LineResult] = []
    sha256 = hashlib.sha256
    for line in lines:
        leaf = sha256(b"\x00" + line).digest()
        checked = check_line(line, origin)
        ev = checked.event
        if ev is not None and not checked.problems:
            out.append(
                (leaf, None, ev["stream"], ev["version"], ev["time"], ev["id"], ev["type"], ev if want_events else None)
            )
        else:
            seq = {k: ev[k] for k in ("stream", "version", "time") if k in ev} if ev is not None else None
            out.append((leaf, checked.problems, seq, checked.event_id, checked.event_type))
    return out


def _stream_events_parallel(
    ctx: AuditContext,
    step1: EnvelopeStep,
    later: list[Step],
    progress: ProgressCallback | None,
    workers: int,
) -> None:
    """:func:`_stream_events` with step 1's stateless line checks spread over worker processes.

    Equivalent to the serial loop: lines are checked in batches but merged strictly in log order, and for each
    line the main process does what the serial loop does, in the same order - append the leaf, step 1 (the
    stateful order checks, from the worker's verdict), then every later line step with the same line bytes and
    the same ``ctx.current``, then record the root. ``ctx.current`` is ``CheckedLine(event, [])`` for a line
    that passed (the worker's parsed ``event``, equal to what :func:`check_line` returns here, since it is that
    function's own result, pickled), and for a line with problems it is recomputed here with
    :func:`check_line` itself (rare, so it costs nothing). Truncated and oversized lines are handled here in
    order, exactly as in the serial loop.
    """
    tree = TreeBuilder()
    wanted = ctx.wanted_sizes
    roots = ctx.roots
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    total = ctx.log.tree_size
    origin = ctx.log.origin
    pending: deque[tuple[int, list[bytes], Future[list[_LineResult]]]] = deque()
    max_pending = 2 * workers
    want_events = bool(later)

    def record(size: int) -> None:
        if size in wanted:
            roots[size] = tree.root()
        if progress is not None and size % PROGRESS_EVERY == 0:
            progress(size, total)

    def drain_one() -> None:
        start, lines, future = pending.popleft()
        index = start
        for result, line in zip(future.result(), lines, strict=True):
            tree.append(result[0])
            step1.on_checked(ctx, index, result)
            if later:
                if result[1] is None:
                    ctx.current = CheckedLine(result[7], [])
                else:
                    ctx.current = check_line(line, origin)
                for step in later:
                    step.on_line(ctx, index, line)
            index += 1
            record(index)

    # Workers are forked (no fresh interpreter importing the verifier again, ~0.3 s of CPU each) only while this
    # process runs one thread (_worker_context). With "fork" the pool starts every worker at its first task: one is
    # submitted at once, before the source is opened (a ledger source reads with threads).
    context = _worker_context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, contextlib.ExitStack() as stack:
        if context.get_start_method() == "fork":
            pool.submit(int).result()
        f = stack.enter_context(ctx.bundle.open_events())
        batch: list[bytes] = []
        batch_bytes = 0
        next_index = 0  # index of batch[0]

        def submit() -> None:
            nonlocal batch, batch_bytes, next_index
            if batch:
                pending.append((next_index, batch, pool.submit(_check_chunk, batch, origin, want_events)))
                next_index += len(batch)
                batch, batch_bytes = [], 0
                while len(pending) > max_pending:
                    drain_one()

        for line in iter_event_lines(f, bound=ctx.lines):
            if type(line) is bytes:
                batch.append(line)
                batch_bytes += len(line)
                step1.bytes += len(line) + 1
                if len(batch) >= CHUNK_LINES or batch_bytes >= CHUNK_BYTES:
                    submit()
                continue
            # A truncated or oversized line: rare; check it here, in order.
            submit()
            while pending:
                drain_one()
            if isinstance(line, Unterminated):
                tree.append(hashlib.sha256(b"\x00" + line.line).digest())
            else:
                assert isinstance(line, Oversize)
                tree.append(line.leaf_hash)
            step1.on_line(ctx, next_index, line)
            for step in later:
                step.on_line(ctx, next_index, line)
            next_index += 1
            record(next_index)
        submit()
        while pending:
            drain_one()
    ctx.events_seen = tree.size
    if progress is not None:
        progress(tree.size, total)


# -- the rule steps in a worker process ------------------------------------------------------------------------
RULE_FEED_EVERY = 4096  # lines per message to the rule worker
STATE_BATCH = 4096  # rows (verifier.rules.statecmp) of the replayed public state per message from the worker
#: The event type prefixes whose rule replay (step 4) the rule worker process does; the main process replays the
#: others and runs step 5, beside steps 1-3. Chosen so both processes have about as much to do (each event's
#: aggregate kind is replayed in one process only; kinds that share rule state - the document citations of
#: "queue" and "housing", verifier.rules.documents.PREFIXES - must all be on one side).
RULE_WORKER_PREFIXES = frozenset({"queue", "housing", "ballot"})


def _is_rule_step(step: Step) -> bool:
    from verifier.rules.steps import AuthorisationStep, RuleReplayStep

    return type(step) in (RuleReplayStep, AuthorisationStep)


def _worker_context() -> Any:
    """How to start the rule worker: ``fork`` when this process runs one thread only and the platform has it
    (the child then starts with the verifier already imported: ~0.25 s less CPU than a fresh interpreter, which
    ``spawn`` pays for every import again); else ``spawn``. Never fork while another thread runs: a lock it
    holds at that moment would stay held in the child forever. The CLI's progress bar refreshes without a
    thread for that reason."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _RuleFeed(Step):
    """Main-process side of the rule worker. The worker replays the events of ``RULE_WORKER_PREFIXES`` for
    ``step`` (which replays the rest here) and at the end sends back its share of the report. Lines that step 1
    rejected (``ctx.current`` None or with problems) are not replayed, as in the serial path. Every
    ``RULE_FEED_EVERY`` lines the worker gets

    - for a bundle on this machine (``source`` a path): how far step 1 got and which lines it rejected; the worker
      reads ``events.jsonl`` itself, which costs this process nothing (the two processes stay equally loaded);
    - for a ledger read over the network (``source`` None): the accepted lines of its aggregates, with their
      indexes, from this process's download (a second reader would download everything again).
    """

    wants_lines = True

    def __init__(self, source: str | None, origin: str, step: Any, lines: LineBound | None = None) -> None:
        super().__init__()
        self.step = step
        self.sends_lines = source is None
        context = _worker_context()
        self.conn, child = context.Pipe()
        max_lines = lines.max_lines if lines is not None else None
        self.process = context.Process(
            target=_rule_worker,
            args=(source, origin, step.cache_items, RULE_WORKER_PREFIXES, child, max_lines),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.rejected: list[int] = []
        self.lines: list[tuple[int, bytes]] = []

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        current = ctx.current
        if not self.sends_lines:
            if current is None or current.problems:
                self.rejected.append(index)
            if (index + 1) % RULE_FEED_EVERY == 0:
                self._send((index + 1, self.rejected))
                self.rejected = []
            return
        if current is None or current.problems:
            return
        event = current.event
        assert event is not None  # no problems: an envelope
        if event["type"].partition(".")[0] in RULE_WORKER_PREFIXES:
            self.lines.append((index, line if type(line) is bytes else line.line))  # type: ignore[union-attr]
            if len(self.lines) >= RULE_FEED_EVERY:
                self._send(self.lines)
                self.lines = []

    def _send(self, message: Any) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError):  # the worker is gone: say why, if it said
            self._receive()
            raise

    def collect(self, ctx: AuditContext) -> None:
        """After the stream: the last lines, then the worker's share, merged into step 4 before it finishes; then,
        only if step 4 will compare a published state, the worker's parts of the replayed state, a batch of
        aggregates per message, written to step 4's table as they come (never held whole)."""
        self._send(self.lines if self.sends_lines else (ctx.events_seen, self.rejected))
        with_state = self.step.compares_state(ctx)
        self._send(("end",))
        self._send(with_state)
        _, part = self._receive()
        self.step.merge(part)
        if with_state:
            table = self.step.replayed_state()
            while (message := self._receive())[0] != "state_end":
                table.add(message[1])

    def _receive(self) -> Any:
        try:
            message = self.conn.recv()
        except EOFError as exc:
            raise RuntimeError("the rule worker process ended without a result") from exc
        if message[0] == "error":
            raise RuntimeError(f"the rule worker process failed:\n{message[1]}")
        return message

    def stop(self) -> None:
        self.conn.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _own_lines(
    source: str, prefixes: frozenset[str], conn: Any, max_lines: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Rule worker, bundle on this machine: ``(index, line)`` of the lines of ``prefixes`` that step 1 accepted,
    from this process's own read of ``events.jsonl``, never ahead of step 1 in the main process. A line step 1
    accepted is canonical JCS, so its last ``,"type":"`` is its type field, read here without parsing. No line
    beyond ``max_lines`` is read, as in the main process."""
    bundle = open_bundle(source)
    try:
        wanted = {p.encode() for p in prefixes}
        upto = 0
        rejected: set[int] = set()
        index = -1
        bound = LineBound(max_lines) if max_lines is not None else None
        with bundle.open_events() as f:
            for index, line in enumerate(iter_event_lines(f, bound=bound)):
                while index >= upto:
                    message = conn.recv()
                    if message[0] == "end":
                        raise RuntimeError(f"step 1 saw {upto} lines, the rule worker more")
                    upto = message[0]
                    rejected.update(message[1])
                if rejected and index in rejected:
                    rejected.discard(index)
                    continue
                raw = line if type(line) is bytes else line.line  # type: ignore[union-attr]
                at = raw.rfind(b',"type":"') + 9
                if raw[at : raw.find(b".", at)] in wanted:
                    yield index, raw
        while (message := conn.recv())[0] != "end":
            if message[0] != index + 1:
                raise RuntimeError(f"step 1 saw {message[0]} lines, the rule worker {index + 1}")
    finally:
        bundle.close()


def _sent_lines(conn: Any) -> Iterator[tuple[int, bytes]]:
    """Rule worker, ledger read over the network: the ``(index, line)`` batches the main process sends."""
    while type(message := conn.recv()) is list:
        yield from message
    if message[0] != "end":
        raise RuntimeError(f"the rule worker got {message!r} instead of its lines")


def _rule_worker(
    source: str | None,
    origin: str,
    cache_items: int,
    prefixes: frozenset[str],
    conn: Any,
    max_lines: int | None = None,
) -> None:
    """Worker process: step 4's replay of the events whose type prefix is in ``prefixes`` (see :class:`_RuleFeed`),
    in log order, until ``("end",)``; then its share of the report, and, if the next message is true (the main
    process compares a published state), its parts of the replayed public state as rows.

    Each line is one step 1 accepted, parsed again here with :func:`verifier.envelope.parse_accepted`, which for
    such a line gives the same value as step 1's parser (parsing only its ``data`` when the line has the
    envelope's plain shape).
    """
    import traceback

    from verifier.rules.model import Event
    from verifier.rules.steps import STATE_PART, RuleReplayStep

    try:
        step = RuleReplayStep(cache_items, exclude=frozenset({"service", *STATE_PART}) - prefixes)
        try:
            apply = step.replay.apply
            lines = _sent_lines(conn) if source is None else _own_lines(source, prefixes, conn, max_lines)
            for index, raw in lines:
                e = parse_accepted(raw, origin)
                apply(Event(index, e["id"], e["type"], e["stream"], e["version"], e["time"], e["actor"], e["data"]))
            conn.send(("ok", step.part()))
            if conn.recv():  # the main process compares a published state: this share's parts, rows in batches
                rows = step.own_state_rows()
                while batch := list(itertools.islice(rows, STATE_BATCH)):
                    conn.send(("rows", batch))
                conn.send(("state_end",))
        finally:
            step.replay.close()
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
