"""Engines for the ledger's own tables, on the same database as the event store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite files get WAL and a busy timeout, so the event writer and the
    integrator (possibly another process) can share the file; PostgreSQL gets a small pool.

    SQLite commits are as durable as the event store's (``synchronous=FULL``: the WAL is synced at every commit).
    In WAL mode ``NORMAL`` syncs only at checkpoints, so a committed transaction may roll back after a power loss
    or an OS crash. What is written here cannot all be rebuilt from the events: the vault's sealed records and
    erasures (a registration whose child's data is lost, or personal data back after its erasure was logged), the
    log-key hand-overs (a restart signing with a retired key), the published checkpoints, the witnesses'
    cosignatures. The tiles and indexes could be, but their commits are per batch of leaves, so FULL costs them
    nothing that shows. PostgreSQL commits are durable by its own default (``synchronous_commit=on``)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class IdleConnections:
    """DB-API connections of `engine`'s pool, detached from it and kept between uses: taking one is a list pop,
    where a checkout from SQLAlchemy's pool and its return (with the reset) cost ~20 µs of CPU each.

    A connection is the pool's own, detached (``PoolProxiedConnection.detach``), so opened with the engine's
    arguments and ``connect`` hooks: the same pragmas (WAL, ``synchronous``) as any other. Callers give a
    connection back outside any transaction (committed, rolled back, or reads fetched in full). At most `keep` are
    kept idle; more in use at once are opened and, given back, closed. Thread-safe (list pop and append are atomic);
    after :meth:`close` every connection given back is closed.

    Only for SQLite files (a queue-pooled SQLite engine): there a read leaves no transaction open. Elsewhere (an
    in-memory SQLite database is one connection's; a PostgreSQL read opens a transaction) :meth:`take` checks a
    connection out of the pool and :meth:`give` returns it, with the pool's reset."""

    def __init__(self, engine: Engine, keep: int = 4) -> None:
        self.engine = engine
        self.keep = keep
        self._idle: list[Any] = []
        self._closed = False
        self._pooled = not (engine.dialect.name == "sqlite" and isinstance(engine.pool, QueuePool))

    def open(self) -> Any:
        """A new DB-API connection of the engine's pool, no longer the pool's (the caller closes it)."""
        fairy = self.engine.raw_connection()
        conn = fairy.driver_connection
        fairy.detach()
        return conn

    def take(self) -> Any:
        if self._pooled:
            return self.engine.raw_connection()
        try:
            return self._idle.pop()
        except IndexError:
            return self.open()

    def give(self, conn: Any) -> None:
        """Keep `conn` for the next caller. Precondition: no transaction is open on it."""
        if self._pooled or self._closed or len(self._idle) >= self.keep:
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        """Close the idle connections; those given back from now on are closed too. Idempotent."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
