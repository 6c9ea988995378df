"""verifier/monitor/rules.py: the rule state of steps 1, 4 and 5 replayed in rounds, each a fresh RuleState over
DIR/rules.db (a restart every round), ends in the state one replay of the whole log reaches; a rolled-back round
leaves it as it was."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.lawful import build
from tests.verifier_rules.builder import History
from tests.verifier_rules.test_clock_rules import CLOCK, closed_petition, later_event
from verifier.envelope import check_line
from verifier.monitor.rules import RuleState
from verifier.rules.replay import Replay
from verifier.rules.steps import event_of


def test_rounds_with_restarts_reach_the_state_of_one_replay(tmp_path: Path) -> None:
    build(tmp_path / "b", 3000, seed=3)
    lines = (tmp_path / "b" / "events.jsonl").read_bytes().split(b"\n")[:-1]
    origin = json.loads((tmp_path / "b" / "log.json").read_text())["origin"]
    whole = Replay(lambda v: None)
    for i, line in enumerate(lines):
        ev = event_of(i, check_line(line, origin))
        assert ev is not None
        whole.apply(ev)
    cuts = sorted(random.Random(4).sample(range(1, len(lines)), 8))
    state = tmp_path / "m"
    for begin, end in zip([0, *cuts], [*cuts, len(lines)], strict=True):
        rules = RuleState(state, cache_items=16)  # small caches: values spill within a round too
        for i in range(begin, end):
            rules.feed(i, check_line(lines[i], origin))
        assert rules.findings == [], rules.findings
        rules.commit({"size": end})
    # a round fed with the whole log again, rolled back: every event is now a duplicate, and nothing is kept
    again = RuleState(state)
    for i, line in enumerate(lines[:50]):
        again.feed(i, check_line(line, origin))
    assert {f.code for f in again.findings} >= {"version_order"}
    again.rollback()
    resumed = RuleState(state)
    try:
        assert resumed.replay.events == len(lines)
        assert resumed.replay.counts() == whole.counts()
        assert resumed.replay.public_state() == whole.public_state()
        assert resumed.sequence.last_time == json.loads(lines[-1])["time"]
    finally:
        resumed.rollback()
        whole.close()


def test_a_late_clock_event_is_named_in_the_round_that_brings_it(tmp_path: Path) -> None:
    """The deadline is set in one round (and the state restarted); the log's time goes past it; the close comes in a
    later round: clock_late, from the clock's state carried over in rules.db."""
    h = History()
    pid, _ = closed_petition(h, clock=False)
    later_event(h)
    late = h.emit(pid, "petition.closed", CLOCK, {"reason": "deadline", "signatures": 1})
    bundle = h.write(tmp_path / "b")
    lines = (bundle / "events.jsonl").read_bytes().split(b"\n")[:-1]
    origin = json.loads((bundle / "log.json").read_text())["origin"]
    state = tmp_path / "m"
    first = RuleState(state)
    for i in range(len(lines) - 1):
        first.feed(i, check_line(lines[i], origin))
    assert first.findings == [] and first.clock.deadlines >= 1
    first.commit({"size": len(lines) - 1})
    second = RuleState(state)
    second.feed(len(lines) - 1, check_line(lines[-1], origin))
    assert [(f.code, f.event_id) for f in second.findings] == [("clock_late", late["id"])]
    second.rollback()
