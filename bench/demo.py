"""The demo city written through the ledger (issue 14: `hromada demo --events N`, >= 3,000 events/s on SQLite).

`Demo(ledger, events=N).run()` as `hromada demo --no-chain` runs it (the writer lock's cached aggregates on), in a
fresh data directory: events/s of the scenario itself (integration and checkpoints along the way included; the
ledger's opening and closing not), wall clock and process CPU (all threads), with the citizens acting at once
(concurrency 16: hromada/pipeline.py through ledger/groupcommit.py, the API's committer) and one after the other
(concurrency 1), with and without the encrypted budget (its ballots' proofs are made and checked in the run).

`scale(sizes)`: the whole command a user runs, ``hromada demo --events N --no-chain`` (the encrypted budget
included, its default), each size in a fresh process and data directory: events written (what the log holds),
wall time, events/s and the process's peak RSS (``wait4``), so linearity in N and flat memory can be read off the
rows (issue 14: N = 1e4, 1e5, 1e6; >= 3,000 events/s; 1e6 under 6 minutes).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
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


def run(events: int = 10_000, rounds: int = 3, sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> list[Row]:
    rows: list[Row] = scale(sizes)
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


def _command(events: int) -> tuple[int, float, float]:
    """One ``hromada demo --events N --no-chain`` in its own process: (events in the log, wall s, peak RSS MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HROMADA_DATA_DIR": tmp, "HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}
        argv = [sys.executable, "-m", "hromada", "demo", "--events", str(events), "--no-chain"]
        wall = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - wall
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"hromada demo --events {events} failed: {err.decode(errors='replace')[-2000:]}")
        with sqlite3.connect(f"file:{Path(tmp) / 'ledger.db'}?mode=ro", uri=True) as db:
            (written,) = db.execute("SELECT max(tree_size) FROM checkpoints").fetchone()
    return int(written), wall, usage.ru_maxrss / 1024


def scale(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> list[Row]:
    rows: list[Row] = []
    for events in sizes:
        n, wall, rss = _command(events)
        rows.append({
            "system": "ours", "operation": "hromada demo --events N --no-chain (whole command, encrypted budget)",
            "n": n, "value": n / wall, "unit": "events/s",
            "note": f"--events {events:,}: {wall:,.1f} s wall, peak RSS {rss:,.0f} MiB; target >= 3,000/s, 1e6 < 6 min",
        })  # fmt: skip
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
