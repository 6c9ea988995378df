"""The demo city written through the ledger (issue 14: `hromada demo --events N`, >= 3,000 events/s on SQLite).

`Demo(ledger, events=N).run()` as `hromada demo --no-chain` runs it (the writer lock's cached aggregates on), in a
fresh data directory: events/s of the scenario itself (integration and checkpoints along the way included; the
ledger's opening and closing not), wall clock and process CPU (all threads), with the citizens acting at once
(concurrency 16: hromada/pipeline.py through ledger/groupcommit.py, the API's committer) and one after the other
(concurrency 1), with and without the encrypted budget (its ballots' proofs are made and checked in the run).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from hromada.demo import Demo
from ledger.config import Settings
from ledger.runtime import Ledger

Row = dict[str, Any]


def _one(events: int, concurrency: int, secret_ballot: bool) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp, Ledger(Settings(data_dir=Path(tmp))) as ledger:
        ledger.app.hot.enabled = True  # type: ignore[attr-defined]
        wall, cpu = time.perf_counter(), time.process_time()
        Demo(ledger, events=events, secret_ballot=secret_ballot, concurrency=concurrency).run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        written = ledger.status().tree_size  # what the log holds (the demo's own count is its budget's)
    return written, wall, cpu


def run(events: int = 10_000, rounds: int = 3) -> list[Row]:
    rows: list[Row] = []
    for secret in (False, True):
        for concurrency in (16, 1):
            runs = sorted((_one(events, concurrency, secret) for _ in range(rounds)), key=lambda r: r[1])
            n, wall, cpu = runs[len(runs) // 2]
            what = "with" if secret else "without"
            rows.append({
                "system": "ours",
                "operation": f"demo city {what} the encrypted budget, concurrency {concurrency} (sqlite)",
                "n": n,
                "value": n / wall,
                "unit": "events/s",
                "note": f"median of {rounds} by wall time; {n / cpu:,.0f} events per CPU-second; target >= 3,000/s",
            })  # fmt: skip
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
