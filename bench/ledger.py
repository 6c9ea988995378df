"""Append throughput: raw eventsourcing vs the ledger (envelope mapper + Merkle integration), same backend."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from ledger.app import events_table_name, open_application, persistence_env
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.integrator import Integrator
from tests.ledger.sample import Note, NotesApp

ORIGIN = "bench.hromada.local/ledger"


def _append(app: Application[Any], n: int, batch: int) -> float:
    """Append n events, `batch` new aggregates per save (one transaction each); return seconds."""
    start = time.perf_counter()
    for i in range(0, n, batch):
        app.save(*[Note(actor={"kind": "system", "id": "bench"}, text=f"note {i + j}") for j in range(batch)])
    return time.perf_counter() - start


def run(n: int = 20_000, batch: int = 100, database_url: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        raw_url = database_url or f"sqlite:///{Path(tmp) / 'raw.db'}"
        env = persistence_env(raw_url)
        env.pop("MAPPER_TOPIC")
        raw = NotesApp(env=env)
        raw_s = _append(raw, n, batch)
        raw.close()
        rows.append({"what": "append, raw eventsourcing", "n": n, "per_s": n / raw_s, "peer": "eventsourcing"})

        url = database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        if database_url:
            raise SystemExit("give distinct databases for raw and ledger runs")
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
        rows.append({"what": "append, ledger (envelope, JCS)", "n": n, "per_s": n / app_s, "peer": "ours"})
        rows.append(
            {
                "what": "append + integrate, ledger",
                "n": n,
                "per_s": n / (app_s + int_s),
                "peer": "ours",
                "ratio_vs_raw": (n / (app_s + int_s)) / (n / raw_s),
            }
        )
        rows.append({"what": "integrate leaves", "n": n, "per_s": n / int_s, "peer": "ours"})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
