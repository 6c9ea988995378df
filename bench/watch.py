"""The ledger's self-audit (ledger/watch.py) beside the full check it replaces on a live ledger (`hromada log
verify`, ledger/selfaudit.py), on one SQLite log: a round costs O(new events + sweep), the full check O(log)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.runtime import Ledger
from ledger.selfaudit import self_audit
from ledger.watch import SWEEP_PER_ROUND, Watch
from tests.ledger.sample import SYSTEM, Note, NotesApp

ORIGIN = "bench.hromada.local/watch"
Row = dict[str, Any]


def _write(ledger: Ledger, n: int, start: int) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    for i in range(start, start + n, 500):
        app.save(*[Note(actor=SYSTEM, text=f"note {i + j}") for j in range(min(500, start + n - i))])
    ledger.integrate_and_checkpoint()


def run(size: int = 100_000, new: int = 1_000, rounds: int = 5) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), origin=ORIGIN, checkpoint_every_events=10_000)
        with Ledger(settings, NotesApp) as ledger:
            _write(ledger, size, 0)
            t = time.perf_counter()
            self_audit(ledger.engine, events_table=ledger.integrator.events.name, origin=ORIGIN)
            full = time.perf_counter() - t
            rows.append(
                {"system": "hromada log verify", "operation": "full self-audit (O(log))", "n": size,
                 "value": full * 1000, "unit": "ms", "note": f"{size / full:,.0f} events/s"}
            )  # fmt: skip
            for sweep, label in ((0, "new events only"), (SWEEP_PER_ROUND, f"new + sweep of {SWEEP_PER_ROUND:,}")):
                watch = Watch(ledger.engine, events=ledger.integrator.events, origin=ORIGIN, sweep_per_round=sweep)
                watch.round()  # the start's pass over the whole log, as a ledger does when it starts
                times = []
                written = size
                for _ in range(rounds):
                    _write(ledger, new, written)
                    written += new
                    t = time.perf_counter()
                    assert watch.round().ok
                    times.append(time.perf_counter() - t)
                size = written
                median = sorted(times)[len(times) // 2]
                note = (
                    f"{median / new * 1e6:,.1f} µs per new event"
                    if not sweep
                    else f"re-reads a log of {written:,} every {-(-written // sweep)} rounds"
                )
                rows.append(
                    {"system": "hromada self-audit round", "operation": label, "n": new, "value": median * 1000,
                     "unit": "ms", "note": f"{note}; log of {written:,}"}
                )  # fmt: skip
    return rows
