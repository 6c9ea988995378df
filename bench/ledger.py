"""Append throughput: raw eventsourcing vs the ledger (envelope mapper + Merkle integration), same backend.

Rows: {"system", "operation", "n", "value", "unit", "note"}. Each backend gets two fresh databases (raw and
ledger) on the same engine: SQLite files in a temp dir, and a throwaway PostgreSQL server (tests/pg.py).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from ledger.app import events_table_name, open_application, persistence_env
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.integrator import Integrator
from tests.ledger.sample import Note, NotesApp
from tests.pg import PostgresServer, create_database

ORIGIN = "bench.hromada.local/ledger"
Row = dict[str, Any]


def _append(app: Application[Any], n: int, batch: int) -> float:
    """Append n events, `batch` new aggregates per save (one transaction each); return seconds."""
    start = time.perf_counter()
    for i in range(0, n, batch):
        app.save(*[Note(actor={"kind": "system", "id": "bench"}, text=f"note {i + j}") for j in range(batch)])
    return time.perf_counter() - start


@contextmanager
def _databases(backend: str) -> Iterator[tuple[str, str]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'raw.db'}", f"sqlite:///{Path(tmp) / 'ledger.db'}"
        return
    server = PostgresServer()
    server.start()
    try:
        yield (
            create_database(server.url).replace("postgresql://", "postgresql+psycopg://"),
            create_database(server.url).replace("postgresql://", "postgresql+psycopg://"),
        )
    finally:
        server.stop()


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run_backend(backend: str, n: int, batch: int, rounds: int) -> list[Row]:
    """Alternate raw and ledger runs `rounds` times (fresh databases each) and report medians, so that load
    from other processes hits both sides alike."""
    raw_rates: list[float] = []
    app_rates: list[float] = []
    both_rates: list[float] = []
    int_rates: list[float] = []
    for _ in range(rounds):
        with _databases(backend) as (raw_url, url):
            env = persistence_env(raw_url)
            env.pop("MAPPER_TOPIC")
            raw = NotesApp(env=env)
            raw_rates.append(n / _append(raw, n, batch))
            raw.close()

            engine = make_engine(url)
            upgrade(engine)
            app = open_application(NotesApp, database_url=url, origin=ORIGIN)
            app_s = _append(app, n, batch)
            integrator = Integrator(engine, origin=ORIGIN, events_table=events_table_name(app), batch=10_000)
            t = time.perf_counter()
            integrator.integrate_all()
            int_s = time.perf_counter() - t
            app.close()
            engine.dispose()
        app_rates.append(n / app_s)
        both_rates.append(n / (app_s + int_s))
        int_rates.append(n / int_s)
    raw_rate, both = _median(raw_rates), _median(both_rates)
    note = f"{backend}, {batch} events/transaction, median of {rounds}"
    return [
        {
            "system": "eventsourcing",
            "operation": f"append events ({backend})",
            "n": n,
            "value": raw_rate,
            "unit": "events/s",
            "note": note,
        },
        {
            "system": "ours",
            "operation": f"append events, JCS envelope ({backend})",
            "n": n,
            "value": _median(app_rates),
            "unit": "events/s",
            "note": note,
        },
        {
            "system": "ours",
            "operation": f"append + integrate ({backend})",
            "n": n,
            "value": both,
            "unit": "events/s",
            "note": f"{both / raw_rate:.2f}x raw eventsourcing (target >= 0.8x)",
        },
        {
            "system": "ours",
            "operation": f"integrate leaves ({backend})",
            "n": n,
            "value": _median(int_rates),
            "unit": "leaves/s",
            "note": "target >= 100k leaves/s",
        },
    ]


def run(
    n: int = 20_000, batch: int = 100, backends: tuple[str, ...] = ("sqlite", "postgres"), rounds: int = 3
) -> list[Row]:
    rows: list[Row] = []
    for backend in backends:
        rows.extend(run_backend(backend, n, batch, rounds))
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
