"""Crash safety: SIGKILL the integrator process at random points while events are written; no leaf is lost
and none is integrated twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ledger.app import events_table_name, open_application
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.integrator import Integrator
from ledger.leafmap import leaf_index_of
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tree import TreeReader
from tests.ledger.sample import NotesApp
from tests.merkle.reference import mth

ORIGIN = "test.local/crash"
ROOT = Path(__file__).resolve().parents[2]


def start_integrator(url: str, table: str, batch: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.integrator_proc", url, ORIGIN, table, str(batch)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(database_url: str) -> None:
    rng = random.Random(int(os.environ.get("HROMADA_CRASH_SEED", "20261123")))
    engine = make_engine(database_url)
    upgrade(engine)
    app = open_application(NotesApp, database_url=database_url, origin=ORIGIN)
    app.write("first")  # creates the events table before the integrator reflects it
    table = events_table_name(app)
    done = threading.Event()
    kills = 0

    def writer() -> None:
        for i in range(1500):
            app.write(f"event {i}")
            if i % 10 == 0:  # ~3 s in all, whatever the speed of a save: the integrator is killed several times
                time.sleep(0.02)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not done.is_set():
            proc = start_integrator(database_url, table, batch=rng.choice([1, 3, 17, 64, 256]))
            time.sleep(rng.uniform(0.02, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    finally:
        thread.join()
    assert kills >= 3, "the writer finished before the integrator was killed a few times; slow it down"

    Integrator(engine, origin=ORIGIN, events_table=table).integrate_all()
    entries = [r.state for r in app.recorder.select_notifications(start=1, limit=10_000)]
    with engine.connect() as conn:
        size = Integrator(engine, origin=ORIGIN, events_table=table).state().tree_size
        root = TreeReader(SqlTileStore(conn), size).root()
        ids = [r.id for r in app.recorder.select_notifications(start=1, limit=10_000)]
        mapped = [leaf_index_of(conn, nid) for nid in ids]
    assert size == len(entries) == 1501
    assert mapped == list(range(1501))
    assert root == mth(entries)
    app.close()
    engine.dispose()
