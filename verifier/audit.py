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
3. anchors, 4. rule replay, 5. actor authorisation - registered, not implemented in this version: they are
   reported as NOT RUN with the reason, never as passed.

Later work plugs a step in by subclassing :class:`Step` and adding it to :func:`default_steps`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from verifier.bundle import Bundle, LogInfo, Oversize, Unterminated, iter_event_lines, open_bundle
from verifier.envelope import CheckedLine, Problem, SequenceChecker, check_line
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
    # Set by step 1 for the line being processed, for later steps that look at events.
    current: CheckedLine | None = None


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


class AnchorStep(NotImplementedStep):
    def __init__(self) -> None:
        super().__init__(3, "anchors (checkpoint roots match on-chain Anchored events)", offline_skips=True)

    def skip_reason(self, ctx: AuditContext) -> str | None:
        if ctx.offline:
            return "skipped: --offline (no chain queries were made)"
        if ctx.log.chain is None:
            return "log.json has no 'chain': this bundle claims no anchors, so none can be checked"
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

    def __init__(self, max_streams_in_memory: int = 200_000) -> None:
        super().__init__()
        self.sequence = SequenceChecker(max_streams_in_memory)
        self.bytes = 0
        self.truncated = False

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
            _, _, stream, version, etime, event_id, event_type = result
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
        if n != ctx.log.tree_size:
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
                    found=n,
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


def default_steps(max_streams_in_memory: int = 200_000) -> list[Step]:
    return [
        EnvelopeStep(max_streams_in_memory),
        CheckpointStep(),
        AnchorStep(),
        NotImplementedStep(4, "rule replay (petitions, ballots, queues)"),
        NotImplementedStep(5, "actor authorisation (scopes)"),
    ]


@dataclass
class AuditReport:
    source: str
    origin: str
    tree_size: int
    steps: list[StepResult]
    warnings: list[str]
    seconds: float
    events: int

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
) -> AuditReport:
    """Audit a bundle. Raises :class:`~verifier.errors.CannotVerify` when it cannot be read at all.

    ``workers``: 1 checks every line in this process; N > 1 spreads the stateless line checks over N worker
    processes (the Merkle tree, the order checks and the findings stay here, in log order, so the result is
    identical); 0 picks N = CPU count when the log has at least ``PARALLEL_MIN_EVENTS`` events. The parallel
    path is used only when no step other than step 1 wants to see the lines. Worker processes are started
    with "spawn", so a calling script needs the usual ``if __name__ == "__main__":`` guard.
    """
    started = time.perf_counter()
    bundle = source if isinstance(source, Bundle) else open_bundle(source)
    try:
        log = bundle.log_info()
        if not bundle.has("events.jsonl"):
            raise UnreadableInput(f"{bundle.source}: no events.jsonl")
        ctx = AuditContext(
            bundle=bundle, log=log, auditor_key=key, offline=offline, extra_checkpoints=extra_checkpoints
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
        n_workers = workers or ((os.cpu_count() or 1) if log.tree_size >= PARALLEL_MIN_EVENTS else 1)
        if n_workers > 1 and len(line_steps) == 1 and isinstance(line_steps[0], EnvelopeStep):
            _stream_events_parallel(ctx, line_steps[0], progress, n_workers)
        else:
            _stream_events(ctx, line_steps, progress)
        for step in active:
            step.finish(ctx)
    finally:
        if not isinstance(source, Bundle):
            bundle.close()
    return AuditReport(
        source=bundle.source,
        origin=log.origin,
        tree_size=log.tree_size,
        steps=[s.result for s in all_steps],
        warnings=ctx.warnings,
        seconds=time.perf_counter() - started,
        events=ctx.events_seen,
    )


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
        for index, line in enumerate(iter_event_lines(f)):
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


# A worker's verdict on one line: (leaf, None, stream, version, time, id, type) when every stateless check
# passed, else (leaf, problems, {stream, version, time} subset or None, id, type).
_LineResult = tuple[Any, ...]


def _check_chunk(lines: list[bytes], origin: str) -> list[_LineResult]:
    """Worker process: leaf hash and stateless checks of a batch of lines."""
    out: list[_LineResult] = []
    sha256 = hashlib.sha256
    for line in lines:
        leaf = sha256(b"\x00" + line).digest()
        checked = check_line(line, origin)
        ev = checked.event
        if ev is not None and not checked.problems:
            out.append((leaf, None, ev["stream"], ev["version"], ev["time"], ev["id"], ev["type"]))
        else:
            seq = {k: ev[k] for k in ("stream", "version", "time") if k in ev} if ev is not None else None
            out.append((leaf, checked.problems, seq, checked.event_id, checked.event_type))
    return out


def _stream_events_parallel(
    ctx: AuditContext, step1: EnvelopeStep, progress: ProgressCallback | None, workers: int
) -> None:
    tree = TreeBuilder()
    wanted = ctx.wanted_sizes
    roots = ctx.roots
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    total = ctx.log.tree_size
    origin = ctx.log.origin
    pending: deque[tuple[int, Future[list[_LineResult]]]] = deque()
    max_pending = 2 * workers

    def record(size: int) -> None:
        if size in wanted:
            roots[size] = tree.root()
        if progress is not None and size % PROGRESS_EVERY == 0:
            progress(size, total)

    def drain_one() -> None:
        start, future = pending.popleft()
        for offset, result in enumerate(future.result()):
            tree.append(result[0])
            step1.on_checked(ctx, start + offset, result)
            record(start + offset + 1)

    context = multiprocessing.get_context("spawn")  # never fork a process that may run threads (rich)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, ctx.bundle.open_events() as f:
        batch: list[bytes] = []
        batch_bytes = 0
        next_index = 0  # index of batch[0]

        def submit() -> None:
            nonlocal batch, batch_bytes, next_index
            if batch:
                pending.append((next_index, pool.submit(_check_chunk, batch, origin)))
                next_index += len(batch)
                batch, batch_bytes = [], 0
                while len(pending) > max_pending:
                    drain_one()

        for line in iter_event_lines(f):
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
            next_index += 1
            record(next_index)
        submit()
        while pending:
            drain_one()
    ctx.events_seen = tree.size
    if progress is not None:
        progress(tree.size, total)
