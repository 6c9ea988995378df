"""Step 4 shared with one rule worker process: the worker replays the aggregates of
:data:`verifier.kinds.RULE_WORKER_PREFIXES` while the main process runs steps 1-3, the other aggregates' replay and
step 5; its findings, counters and state parts are merged back in log order (the report is identical, tested).

The kinds both processes need (:data:`verifier.kinds.RULE_WORKER_SHARED`: the rule sets, which petitions in the main
process and queues and ballots in the worker name) are replayed by both, from the same accepted lines in the same
order, so both know the same published rule sets at every event; the worker's copy is quiet (its findings and counts
are the main process's, reported once)."""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Iterator
from typing import Any

from verifier import parallel
from verifier.bundle import open_bundle
from verifier.envelope import parse_accepted
from verifier.kinds import KINDS, PREFIXES, RULE_WORKER_PREFIXES, RULE_WORKER_SHARED, canonical_type
from verifier.rules.model import Event
from verifier.rules.steps import AuthorisationStep, RuleReplayStep
from verifier.source import LineBound, Oversize, Unterminated, iter_event_lines
from verifier.steps.base import AuditContext, Step
from verifier.voting import precheck

__all__ = ["RULE_FEED_EVERY", "STATE_BATCH", "RuleFeed", "is_rule_step"]

RULE_FEED_EVERY = 4096  # lines per message to the rule worker
#: The prefixes of the lines the rule worker replays: its own kinds' and those both processes replay.
WORKER_FEED = RULE_WORKER_PREFIXES | RULE_WORKER_SHARED
#: The kinds the worker replays quietly (the main process reports them).
WORKER_QUIET = frozenset(k.name for k in KINDS if k.process == "both")
#: or sooner, once this process has checked this many cast ballots for it (~0.1 s of its work): it waits for them
OUTCOMES_EVERY = 48
STATE_BATCH = 4096  # rows (verifier.rules.statecmp) of the replayed public state per message from the worker


def is_rule_step(step: Step) -> bool:
    return type(step) in (RuleReplayStep, AuthorisationStep)


class RuleFeed(Step):
    """Main-process side of the rule worker. The worker replays the events of ``RULE_WORKER_PREFIXES`` for
    ``step`` (which replays the rest here), and quietly those of ``RULE_WORKER_SHARED`` (which ``step`` replays
    too), and at the end sends back its share of the report. Lines that step 1 rejected (``ctx.current`` None or
    with problems) are not replayed, as in the serial path. Every ``RULE_FEED_EVERY`` lines the worker gets

    - for a bundle on this machine (``source`` a path): how far step 1 got and which lines it rejected; the worker
      reads ``events.jsonl`` itself, which costs this process nothing (the two processes stay equally loaded);
    - for a ledger read over the network (``source`` None): the accepted lines of its aggregates, with their
      indexes, from this process's download (a second reader would download everything again).

    With either, the outcomes of the cast ballots' proofs this process checked for the worker
    (:mod:`verifier.voting.precheck`), sent sooner than every ``RULE_FEED_EVERY`` lines once there are
    ``OUTCOMES_EVERY`` of them, so the worker never waits long for the lines it may replay.
    """

    wants_lines = True

    def __init__(self, source: str | None, origin: str, step: Any, lines: LineBound | None = None) -> None:
        super().__init__()
        self.step = step
        self.sends_lines = source is None
        context = parallel.worker_context()
        self.conn, child = context.Pipe()
        max_lines = lines.max_lines if lines is not None else None
        self.process = context.Process(
            target=_rule_worker,
            args=(source, origin, step.cache_items, WORKER_FEED, child, max_lines),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.rejected: list[int] = []
        self.lines: list[tuple[int, bytes]] = []
        # this process checks a share of the cast ballots' proofs for the worker (verifier/voting/precheck.py)
        self.prechecker = precheck.Prechecker() if "ballot" in RULE_WORKER_PREFIXES else None
        self.outcomes: dict[int, precheck.Outcome] = {}

    def on_line(self, ctx: AuditContext, index: int, line: bytes | Unterminated | Oversize) -> None:
        current = ctx.current
        accepted = current is not None and not current.problems
        if accepted and self.prechecker is not None:
            assert current is not None and current.event is not None
            outcome = self.prechecker.see(current.event)
            if outcome is not None:
                self.outcomes[index] = outcome
        if not self.sends_lines:
            if not accepted:
                self.rejected.append(index)
            if (index + 1) % RULE_FEED_EVERY == 0 or len(self.outcomes) >= OUTCOMES_EVERY:
                self._send((index + 1, self.rejected, self._take_outcomes()))
                self.rejected = []
            return
        if not accepted:
            return
        assert current is not None
        event = current.event
        assert event is not None  # no problems: an envelope
        if event["type"].partition(".")[0] in WORKER_FEED:
            self.lines.append((index, line if type(line) is bytes else line.line))  # type: ignore[union-attr]
            if len(self.lines) >= RULE_FEED_EVERY or len(self.outcomes) >= OUTCOMES_EVERY:
                self._send_lines()

    def _take_outcomes(self) -> dict[int, precheck.Outcome]:
        outcomes, self.outcomes = self.outcomes, {}
        return outcomes

    def _send_lines(self) -> None:
        self._send(("lines", self.lines, self._take_outcomes()))
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
        if self.sends_lines:
            self._send_lines()
        else:
            self._send((ctx.events_seen, self.rejected, self._take_outcomes()))
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
                    precheck.offer(message[2])
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
    while (message := conn.recv())[0] == "lines":
        precheck.offer(message[2])
        yield from message[1]
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
    """Worker process: step 4's replay of the events whose type prefix is in ``prefixes`` (see :class:`RuleFeed`),
    in log order, until ``("end",)``; then its share of the report, and, if the next message is true (the main
    process compares a published state), its parts of the replayed public state as rows.

    Each line is one step 1 accepted, parsed again here with :func:`verifier.envelope.parse_accepted`, which for
    such a line gives the same value as step 1's parser (parsing only its ``data`` when the line has the
    envelope's plain shape).
    """
    try:
        step = RuleReplayStep(cache_items, exclude=PREFIXES - prefixes, quiet=WORKER_QUIET)
        try:
            apply = step.replay.apply
            lines = _sent_lines(conn) if source is None else _own_lines(source, prefixes, conn, max_lines)
            for index, raw in lines:
                e = parse_accepted(raw, origin)
                logged = e["type"]
                etype = canonical_type(logged)  # as step 4 in the main process (verifier.rules.steps._event)
                apply(
                    Event(
                        index,
                        e["id"],
                        etype,
                        e["stream"],
                        e["version"],
                        e["time"],
                        e["actor"],
                        e["data"],
                        None if etype is logged else logged,
                    )
                )
                precheck.discard(index)
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
