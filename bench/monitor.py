"""The monitor's rule state (verifier/monitor/rules.py): the cost of one round of ``new`` events - a fresh
RuleState over DIR/rules.db (as after a restart), steps 1 (order), 4 and 5 on the new events, the commit - after
logs of each size were committed in earlier rounds. Flat in the log size: O(new events), not O(log)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.lawful import build
from verifier.envelope import check_line
from verifier.monitor.rules import RuleState

Row = dict[str, Any]


def run(sizes: tuple[int, ...] = (10_000, 100_000), new: int = 1_000, rounds: int = 3) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b"
        build(out, max(sizes) + new * rounds)
        lines = (out / "events.jsonl").read_bytes().split(b"\n")[:-1]
        origin = json.loads((out / "log.json").read_text())["origin"]
        checked = [check_line(x, origin) for x in lines]
        for size in sizes:
            state = Path(tmp) / f"m{size}"
            prefill = RuleState(state)
            for i in range(size):
                prefill.feed(i, checked[i])
            prefill.commit({"size": size})
            times = []
            at = size
            for _ in range(rounds):
                t = time.perf_counter()
                rules = RuleState(state)
                for i in range(at, at + new):
                    rules.feed(i, checked[i])
                assert not rules.findings, rules.findings[:3]
                rules.commit({"size": at + new})
                times.append(time.perf_counter() - t)
                at += new
            median = sorted(times)[len(times) // 2]
            rows.append(
                {"system": "hromada-verify monitor", "operation": "rule round (steps 1, 4, 5; restart + commit)",
                 "n": new, "value": median / new * 1e6, "unit": "µs/event", "note": f"after a log of {size:,}"}
            )  # fmt: skip
    return rows
