"""Step 1: envelopes and leaf hashes (docs/audit.md): every line of ``events.jsonl`` is a well-formed envelope
(docs/formats.md §1, :mod:`verifier.envelope`), in order per stream, and the file holds exactly ``tree_size``
complete lines. The leaf hashes themselves are computed by the runner, which feeds every step."""

from __future__ import annotations

from typing import Any

from verifier.envelope import MAX_STREAMS_IN_MEMORY, CheckedLine, Problem, SequenceChecker, check_line
from verifier.report import Finding
from verifier.source import Oversize, Unterminated
from verifier.steps.base import AuditContext, Step

__all__ = ["EnvelopeStep", "LineResult"]

# A worker's verdict on one line (:func:`verifier.parallel.check_chunk`): (leaf, None, stream, version, time, id,
# type, event-or-None) when every stateless check passed (the parsed envelope is included only when later steps
# want it), else (leaf, problems, {stream, version, time} subset or None, id, type).
LineResult = tuple[Any, ...]


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

    def on_checked(self, ctx: AuditContext, index: int, result: LineResult) -> None:
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
                    f"the number of events in {ctx.bundle.terms.events} is not {ctx.bundle.terms.size}"
                    + (
                        ": events were deleted or the file is truncated"
                        if n < ctx.log.tree_size
                        else ": events were inserted or appended"
                    ),
                    expected=ctx.log.tree_size,
                    found=f"more than {n}" if beyond else n,
                )
            )
