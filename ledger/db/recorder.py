"""The event store's persistence module: eventsourcing-sqlalchemy with the two hot calls on the DB-API cursor.

`ledger.app.persistence_env` names :class:`LedgerFactory` as the applications' ``PERSISTENCE_MODULE``. It is the
library's factory, tables, engine and transactions, with two methods of its recorders replaced on SQLite files:

- ``insert_events`` (every command's save): the library builds one ORM object per event, opens a Session and
  flushes a unit of work, about 0.5 ms of CPU per save before SQLite even commits. Here the same rows go into the
  same table through a DB-API connection in one transaction (``INSERT`` per row, so each row's
  notification id is ``lastrowid``), under the datastore's write lock as the library's own path. The commit is the
  driver's ``commit()`` on the library's engine: the same ``synchronous`` setting (SQLite's default, FULL in WAL
  mode: one fsync per commit), nothing is returned before the rows are durable.
- ``select_events`` (loading an aggregate, fast-forwarding a cached one): one positional ``SELECT`` instead of an
  ORM query.

Both keep their DB-API connections instead of taking one from SQLAlchemy's pool per call (a checkout and its
return, with the reset, cost ~20 µs of CPU, on most commands twice): saves run on one connection of their own,
used only under the datastore's write lock, reads on a few kept idle (ledger/db/engine.py ``IdleConnections``).
They are the pool's connections, detached from it, so opened with the engine's arguments and ``connect`` hooks:
the same WAL and ``synchronous`` setting, so the same durability; none is kept inside a transaction (every save
commits or rolls back, every read is fetched in full), and :meth:`LedgerFactory.close` closes them.

Both fall back to the library when called inside a library transaction (``session=`` or an open
``recorder.transaction()``), with tracking arguments, or on a database other than a SQLite file (PostgreSQL keeps
the library's path, and the group committer's batch insert, unchanged). Errors are the library's types
(``IntegrityError`` on a uniqueness conflict, which the domain decides again on).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing_sqlalchemy.datastore import transactions
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder, SQLAlchemyApplicationRecorder

from ledger.db.engine import IdleConnections


def _translated(e: sqlite3.Error) -> PersistenceError:
    """The eventsourcing exception the library raises for this driver error."""
    if isinstance(e, sqlite3.IntegrityError):
        return IntegrityError(e)
    if isinstance(e, sqlite3.OperationalError):
        return OperationalError(e)
    if isinstance(e, sqlite3.ProgrammingError):
        return ProgrammingError(e)
    if isinstance(e, sqlite3.InterfaceError):
        return InterfaceError(e)
    if isinstance(e, sqlite3.DatabaseError):
        return DatabaseError(e)
    return PersistenceError(e)


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class _FastSqlite(SQLAlchemyAggregateRecorder):
    """The DB-API paths shared by the events and the snapshots recorder (before the library's class in their MRO)."""

    datastore: Any  # the library's SQLAlchemyDatastore; its engine is an Engine once the recorder is built

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._readers = IdleConnections(self.datastore.engine)
        self._writer: Any = None  # the saves' DB-API connection, used only under the datastore's write lock
        self._writer_lock = threading.Lock()  # `_writer` and `_closed`
        self._closed = False

    def close_connections(self) -> None:
        """Close the connections this recorder keeps (idempotent; later saves use the pool's)."""
        with self._writer_lock:
            self._closed = True
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self._readers.close()

    def _fast(self) -> bool:
        """True when the DB-API path applies: a SQLite file, and no library transaction open in this context."""
        ds = self.datastore
        return bool(ds.is_sqlite_filedb and ds.scoped_session is None and transactions.get(None) is None)

    def _select_sql(self, gt: int | None, lte: int | None, desc: bool, limit: int | None) -> str:
        sql = f"SELECT originator_version, topic, state FROM {self.events_table_name} WHERE originator_id = ?"
        if gt is not None:
            sql += " AND originator_version > ?"
        if lte is not None:
            sql += " AND originator_version <= ?"
        sql += " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        if limit is not None:
            sql += " LIMIT ?"
        return sql

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        if not self._fast():
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return self._fast_select(originator_id, gt, lte, desc, limit)

    def _fast_select(
        self, originator_id: UUID | str, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> list[StoredEvent]:
        stream = _as_uuid(originator_id)
        params: list[Any] = [stream.bytes]
        params += [v for v in (gt, lte, limit) if v is not None]
        sql = self._select_sql(gt, lte, desc, limit)
        if not self.datastore._tried_init_sqlite_wal_mode:
            self.datastore.init_sqlite_wal_mode()
        readers = self._readers
        conn = readers.take()
        try:
            cursor = conn.cursor()
            try:
                rows = cursor.execute(sql, params).fetchall()  # fetched in full: no statement, no read transaction left
            except sqlite3.Error as e:
                raise _translated(e) from e
            finally:
                cursor.close()
        finally:
            readers.give(conn)
        return [StoredEvent(stream, version, topic, state) for version, topic, state in rows]

    def _fast_insert(self, stored_events: Sequence[StoredEvent], ids: bool = True) -> list[int]:
        """Insert in one transaction, committed before returning; the rows' notification ids (``ids``: else one
        ``executemany`` and an empty list)."""
        sql = (
            f"INSERT INTO {self.events_table_name} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)"
        )
        ds = self.datastore
        if not ds._tried_init_sqlite_wal_mode:
            ds.init_sqlite_wal_mode()
        lock = ds.write_lock
        if lock is not None:
            lock.acquire()
        try:
            raw = self._writer
            if raw is None:
                with self._writer_lock:
                    if self._closed:  # after close_connections(): the pool's, as the library's path
                        pooled = ds.engine.raw_connection()
                        try:
                            return self._insert_on(pooled.driver_connection, sql, stored_events, ids)
                        finally:
                            pooled.close()
                    raw = self._writer = self._readers.open()
            return self._insert_on(raw, sql, stored_events, ids)
        finally:
            if lock is not None:
                lock.release()

    @staticmethod
    def _insert_on(raw: Any, sql: str, stored_events: Sequence[StoredEvent], ids: bool) -> list[int]:
        """Insert and commit on the DB-API connection `raw`; rolled back on any error (an interrupt too), so never
        left in a transaction. Precondition: the datastore's write lock is held."""
        if raw.in_transaction:  # never expected: the previous save committed or rolled back
            raw.rollback()
        cursor = raw.cursor()
        try:
            rows = [(_as_uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state) for e in stored_events]
            notification_ids = []
            if ids:
                execute = cursor.execute
                for row in rows:
                    execute(sql, row)
                    notification_ids.append(int(cursor.lastrowid or 0))
            else:
                cursor.executemany(sql, rows)
            raw.commit()
        except sqlite3.Error as e:
            raw.rollback()
            raise _translated(e) from e
        except BaseException:
            raw.rollback()
            raise
        finally:
            cursor.close()
        return notification_ids


class LedgerAggregateRecorder(_FastSqlite):
    """The snapshots' recorder: reads through the DB-API cursor on SQLite (writes are rare: the library's)."""


class LedgerApplicationRecorder(_FastSqlite, SQLAlchemyApplicationRecorder):
    """The events' recorder (see the module docstring)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Any = None, **kwargs: Any
    ) -> Sequence[int] | None:
        if session is not None or any(v is not None for v in kwargs.values()) or not self._fast():
            return super().insert_events(stored_events, session=session, **kwargs)
        return self._fast_insert(stored_events)

    def insert_batch(self, stored_events: Sequence[StoredEvent]) -> None:
        """The group committer's batch (ledger/groupcommit.py) in one transaction, nothing returned. Precondition:
        a SQLite file, called outside any library transaction (the committer's own thread)."""
        self._fast_insert(stored_events, ids=False)


class LedgerFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the ledger's recorders (the module docstring)."""

    aggregate_recorder_class = LedgerAggregateRecorder
    application_recorder_class = LedgerApplicationRecorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorders: list[_FastSqlite] = []
        ds = self.datastore
        if isinstance(ds.write_lock, threading.Semaphore):
            # the library's write lock on a SQLite file is a Semaphore(1): a mutex written in Python (a Condition
            # and its lock, ~4 us per save); a threading.Lock is the same mutex in C (acquired and released by the
            # library's transactions and by our saves, as before; like a Semaphore it may be released by another
            # thread). Set before any recorder or transaction can have taken the old one.
            ds.write_lock = threading.Lock()  # type: ignore[assignment] # same acquire/release as the Semaphore

    def aggregate_recorder(self, purpose: str = "events") -> Any:
        recorder = super().aggregate_recorder(purpose)
        if isinstance(recorder, _FastSqlite):
            self._recorders.append(recorder)
        return recorder

    def application_recorder(self) -> Any:
        recorder = super().application_recorder()
        if isinstance(recorder, _FastSqlite):
            self._recorders.append(recorder)
        return recorder

    def close(self) -> None:
        """Close the connections the recorders keep (the library's factory closes nothing)."""
        for recorder in self._recorders:
            recorder.close_connections()
        super().close()
