"""Append throughput: raw eventsourcing vs the ledger (envelope mapper + Merkle integration), same backend.

"raw" is eventsourcing-sqlalchemy with its own recorders and mapper; "ours" is the ledger's application: its
recorders (ledger/db/recorder.py: the DB-API path on SQLite files) and the JCS envelope mapper.

Rows: {"system", "operation", "n", "value", "unit", "note"}. Each backend gets two fresh databases (raw and
ledger) on the same engine: SQLite files in a temp dir, and a throwaway PostgreSQL server (tests/pg.py).

`integrate_sizes` adds the integrator alone at larger logs (1e5, 1e6 leaves on SQLite): the event table is
filled first by a bulk INSERT of envelope-shaped rows (one envelope written by the ledger's mapper, copied with a
new stream id and text per row, `version` 1), then `Integrator.integrate_all()` is timed: events read, leaf
hashes, tiles, leaf map and event index written, 10,000 leaves per transaction, commits included. Peer in the
same run: merkletools 1.0.3 building its tree in memory from the same entries (`add_leaf(do_hash=True)` +
`make_tree`; not RFC 6962, nothing stored).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import text

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
            env["PERSISTENCE_MODULE"] = "eventsourcing_sqlalchemy"  # the library's own recorders, not the ledger's
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


def _fill_events(url: str, n: int) -> tuple[str, list[bytes]]:
    """A ledger store at `url` whose event table holds `n` envelope-shaped events; returns the table name and
    the envelopes (for the peer). See the module docstring."""
    engine = make_engine(url)
    upgrade(engine)
    app = open_application(NotesApp, database_url=url, origin=ORIGIN)
    app.save(Note(actor={"kind": "system", "id": "bench"}, text="note 0"))
    table = events_table_name(app)
    app.close()
    with engine.begin() as conn:
        stream, topic, template = conn.execute(text(f"SELECT originator_id, topic, state FROM {table}")).one()
        conn.execute(text(f"DELETE FROM {table}"))
        old = str(uuid.UUID(bytes=bytes(stream))).encode()
        states: list[bytes] = []
        rows: list[tuple[bytes, int, str, bytes]] = []
        for i in range(n):
            sid = uuid.uuid4()
            state = bytes(template).replace(old, str(sid).encode()).replace(b'"note 0"', b'"note %d"' % i)
            states.append(state)
            rows.append((sid.bytes, 1, topic, state))
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)", rows
        )
        cursor.close()
    engine.dispose()
    return table, states


def _merkletools_build(states: list[bytes]) -> float:
    """Seconds for merkletools to hash and build its in-memory tree of the same entries."""
    shim = str(Path(__file__).resolve().parent / "_shims")
    sys.path.insert(0, shim)
    try:
        merkletools = importlib.import_module("merkletools")
    finally:
        sys.path.remove(shim)
    mt = merkletools.MerkleTools(hash_type="sha256")
    values = [s.hex() for s in states]
    t = time.perf_counter()
    mt.add_leaf(values, do_hash=True)
    mt.make_tree()
    return time.perf_counter() - t


def run_integrate(n: int, rounds: int) -> list[Row]:
    """Integrator alone on a prefilled SQLite store of `n` events (median of `rounds`), beside merkletools."""
    ours: list[float] = []
    peer: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
            table, states = _fill_events(url, n)
            engine = make_engine(url)
            integrator = Integrator(engine, origin=ORIGIN, events_table=table, batch=10_000)
            t = time.perf_counter()
            done = integrator.integrate_all()
            ours.append(n / (time.perf_counter() - t))
            engine.dispose()
            if done != n:
                raise RuntimeError(f"integrated {done} of {n} events")
            peer.append(n / _merkletools_build(states))
            del states
    note = f"sqlite file, prefilled event table, 10,000 leaves/transaction, median of {rounds}"
    return [
        {
            "system": "ours",
            "operation": "integrate leaves, prefilled log (sqlite)",
            "n": n,
            "value": _median(ours),
            "unit": "leaves/s",
            "note": note + "; target >= 100k leaves/s",
        },
        {
            "system": "merkletools",
            "operation": "add_leaf+make_tree, same entries",
            "n": n,
            "value": _median(peer),
            "unit": "leaves/s",
            "note": "in memory, nothing stored, not RFC 6962",
        },
    ]


def run(
    n: int = 20_000,
    batch: int = 100,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    rounds: int = 3,
    integrate_sizes: tuple[int, ...] = (100_000, 1_000_000),
) -> list[Row]:
    rows: list[Row] = []
    for backend in backends:
        rows.extend(run_backend(backend, n, batch, rounds))
    for size in integrate_sizes:
        rows.extend(run_integrate(size, rounds))
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
