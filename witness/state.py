"""The witness's state: per log (origin and log key), the latest checkpoint it cosigned.

SQLite (``<state dir>/witness.db``). A cosignature is made inside the transaction that checks the old size against
the stored one and stores the new checkpoint (``BEGIN IMMEDIATE``: one writer at a time, across threads and
processes), and the answer leaves only after that transaction committed. So two concurrent requests cannot both
pass the check against the same stored size (c2sp.org/tlog-witness, the race of requests A and B), and a restart
resumes from what was committed. What is only looked at before that (the log key a request is checked against)
is read without the write lock (:meth:`WitnessState.read`), and checked again inside the transaction.

Refused submissions that are evidence of a misbehaving log (a second root for a cosigned size, a consistency
proof that does not verify), with a valid log signature, are kept in ``evidence``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "witness.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cosigned (
    origin TEXT NOT NULL,
    log_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL,
    PRIMARY KEY (origin, log_key)
);
CREATE TABLE IF NOT EXISTS log_keys (
    origin TEXT PRIMARY KEY,
    configured TEXT NOT NULL,
    current TEXT NOT NULL,
    since INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    log_key TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint cosigned for one log (size 0 and no root: never cosigned one)."""

    size: int
    root: bytes | None
    checkpoint: str | None = None


class Reader:
    """Reads of the state: in a read-only snapshot (:meth:`WitnessState.read`) or in a transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def latest(self, origin: str, log_key: str) -> Cosigned:
        row = self._conn.execute(
            "SELECT size, root, checkpoint FROM cosigned WHERE origin = ? AND log_key = ?", (origin, log_key)
        ).fetchone()
        return Cosigned(0, None) if row is None else Cosigned(int(row[0]), bytes(row[1]), str(row[2]))

    def current_key(self, origin: str, configured: str) -> str:
        """The log's key this witness follows: the last one a hand-over named, when the chain began at the key
        it is configured with (an operator who configures another key starts a new chain), else ``configured``."""
        row = self._conn.execute("SELECT configured, current FROM log_keys WHERE origin = ?", (origin,)).fetchone()
        return str(row[1]) if row is not None and row[0] == configured else configured


class Transaction(Reader):
    """One exclusive transaction over the state (see :meth:`WitnessState.transaction`)."""

    def adopt(self, origin: str, configured: str, key: str, since: int) -> None:
        self._conn.execute(
            "INSERT INTO log_keys (origin, configured, current, since) VALUES (?, ?, ?, ?) ON CONFLICT (origin) "
            "DO UPDATE SET configured = excluded.configured, current = excluded.current, since = excluded.since",
            (origin, configured, key, since),
        )

    def store(self, origin: str, log_key: str, size: int, root: bytes, checkpoint: str, at: int) -> None:
        self._conn.execute(
            "INSERT INTO cosigned (origin, log_key, size, root, checkpoint, cosigned_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (origin, log_key) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "checkpoint = excluded.checkpoint, cosigned_at = excluded.cosigned_at",
            (origin, log_key, size, root, checkpoint, at),
        )


class WitnessState:
    """The state database of one witness."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DB_FILE
        self._lock = threading.Lock()  # one transaction at a time in this process; SQLite's lock across processes
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    def _connect(self, *, query_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        if query_only:  # the database is in WAL mode already (set by __init__'s connection, kept in the file)
            conn.execute("PRAGMA query_only=ON")  # any write through it is an error, never a lock taken
            return conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a cosignature is answered only once its state is on disk
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """An exclusive transaction: committed when the block ends normally, rolled back on an exception."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Transaction(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    @contextmanager
    def read(self) -> Iterator[Reader]:
        """A read-only snapshot of the state: no write lock (WAL readers never wait for the writer, nor it for
        them) and not this process's transaction lock, so a look before the checks never queues behind a
        cosignature; what it read may be stale by the time a transaction starts, which must check it again."""
        conn = self._connect(query_only=True)
        try:
            conn.execute("BEGIN DEFERRED")  # one snapshot for every read of the block; a read never upgrades it
            try:
                yield Reader(conn)
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.close()

    def latest(self, origin: str, log_key: str) -> Cosigned:
        with self.read() as reader:
            return reader.latest(origin, log_key)

    def keep_evidence(self, origin: str, log_key: str, reason: str, request: str) -> None:
        with self._lock:
            conn = self._connect()
            try:
                conn.execute(
                    "INSERT INTO evidence (origin, log_key, received_at, reason, request) VALUES (?, ?, ?, ?, ?)",
                    (origin, log_key, int(time.time()), reason, request),
                )
            finally:
                conn.close()

    def evidence(self) -> list[tuple[str, str, str]]:
        """(origin, reason, request) of every refused submission kept as evidence, oldest first."""
        with self._lock:
            conn = self._connect()
            try:
                rows = conn.execute("SELECT origin, reason, request FROM evidence ORDER BY id").fetchall()
            finally:
                conn.close()
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
