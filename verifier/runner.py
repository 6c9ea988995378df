"""The audit of a bundle: :func:`run_audit` runs the numbered steps over one streaming pass.

The runner opens the bundle, reads ``log.json``, lets every step prepare, then streams ``events.jsonl`` once:
for each line it computes the leaf hash, appends it to a streaming Merkle tree (O(log n) memory), records the
root at every size some checkpoint claims, and hands the line to the steps that look at events. Then each step
finishes and reports. Memory does not grow with the log (findings are capped per step; per-stream version state
spills to disk, see :class:`verifier.envelope.StreamVersions`).

Steps (docs/audit.md; :mod:`verifier.steps.defaults`):

1. envelopes and leaf hashes (:mod:`verifier.steps.envelopes`);
2. checkpoints (:mod:`verifier.steps.checkpoints`);
3. anchors (:mod:`verifier.anchor_step`);
4. rule replay, 5. actor authorisation (:mod:`verifier.rules.steps`) - a step this version cannot run is reported
   as NOT RUN with the reason, never as passed.

Large logs are spread over processes: step 1's stateless checks over a pool (:mod:`verifier.parallel`), and part of
step 4 in one rule worker process (:mod:`verifier.ruleworker`); the report is the same either way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

from verifier import parallel
from verifier.anchor_policy import RewriteCheck
from verifier.anchors import ChainAccess
from verifier.bundle import open_bundle
from verifier.errors import UnreadableInput
from verifier.kinds import RULE_WORKER_PREFIXES
from verifier.merkle import EMPTY_ROOT, TreeBuilder
from verifier.note import VerifierKey
from verifier.report import AuditReport, Status, StepResult
from verifier.ruleworker import RuleFeed, is_rule_step
from verifier.source import Bundle, Oversize, Unterminated, iter_event_lines
from verifier.steps.base import AuditContext, ProgressCallback, Step
from verifier.steps.defaults import default_steps
from verifier.steps.envelopes import EnvelopeStep

__all__ = ["PARALLEL_MIN_EVENTS", "PROGRESS_EVERY", "run_audit"]

PROGRESS_EVERY = 4096
PARALLEL_MIN_EVENTS = 100_000  # below this, starting worker processes costs more than it saves


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
        rule_steps = [s for s in line_steps if is_rule_step(s)]
        cpus = os.cpu_count() or 1
        if rule_worker is None:  # automatic: only for large logs with the rule steps on, on 2+ CPUs, --workers 0
            rule_worker = workers == 0 and log.tree_size >= PARALLEL_MIN_EVENTS and cpus > 1
        feed: RuleFeed | None = None
        replay_steps = [s for s in rule_steps if s.number == 4]
        if rule_worker and replay_steps and isinstance(line_steps[0], EnvelopeStep):
            replay_step = replay_steps[0]
            replay_step.exclude = RULE_WORKER_PREFIXES  # type: ignore[attr-defined]
            feed = RuleFeed(bundle.worker_source, log.origin, replay_step, ctx.lines)
            line_steps = [*line_steps, feed]
            n_workers = workers if workers > 1 else 1
        else:
            n_workers = workers or (cpus if log.tree_size >= PARALLEL_MIN_EVENTS else 1)
        # Automatic mode (workers=0) parallelises step 1 only for the audit without later line steps: with the
        # rule steps on, they go to one rule worker process instead (above), and step 1 stays here.
        parallel_ok = workers > 1 or len(line_steps) == 1
        try:
            if n_workers > 1 and line_steps and isinstance(line_steps[0], EnvelopeStep) and parallel_ok:
                parallel.stream_events_parallel(ctx, line_steps[0], line_steps[1:], progress, n_workers)
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
            rewrite.warning(
                "audit", f"steps {ran} show only that {bundle.terms.source} is consistent with its own signatures"
            )
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
