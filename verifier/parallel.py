"""Step 1's stateless line checks spread over worker processes (``--workers``), merged in log order, so the
report is the one the serial loop (:mod:`verifier.runner`) gives; and how worker processes are started."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from verifier.envelope import CheckedLine, check_line
from verifier.merkle import EMPTY_ROOT, TreeBuilder
from verifier.source import Oversize, Unterminated, iter_event_lines
from verifier.steps.base import AuditContext, ProgressCallback, Step
from verifier.steps.envelopes import EnvelopeStep, LineResult

__all__ = ["CHUNK_BYTES", "CHUNK_LINES", "check_chunk", "stream_events_parallel", "worker_context"]

CHUNK_LINES = 2000
CHUNK_BYTES = 1 << 20
PROGRESS_EVERY = 4096


def check_chunk(lines: list[bytes], origin: str, want_events: bool = False) -> list[LineResult]:
    """Worker process: leaf hash and stateless checks of a batch of lines.

    With ``want_events`` the parsed envelope of every line that passed is sent back too (pickling it is cheaper
    for the main process than parsing the line again), so the rule steps see the very value :func:`check_line`
    returned.
    """
    out: list[LineResult] = []
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


def stream_events_parallel(
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
    pending: deque[tuple[int, list[bytes], Future[list[LineResult]]]] = deque()
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
    # process runs one thread (worker_context). With "fork" the pool starts every worker at its first task: one is
    # submitted at once, before the source is opened (a ledger source reads with threads).
    context = worker_context()
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
                pending.append((next_index, batch, pool.submit(check_chunk, batch, origin, want_events)))
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


def worker_context() -> Any:
    """How to start the rule worker: ``fork`` when this process runs one thread only and the platform has it
    (the child then starts with the verifier already imported: ~0.25 s less CPU than a fresh interpreter, which
    ``spawn`` pays for every import again); else ``spawn``. Never fork while another thread runs: a lock it
    holds at that moment would stay held in the child forever. The CLI's progress bar refreshes without a
    thread for that reason."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
