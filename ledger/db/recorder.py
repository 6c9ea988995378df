"""The event store's persistence module: eventsourcing-sqlalchemy with the two hot calls on the DB-API cursor.

`ledger.app.persistence_env` names :class:`LedgerFactory` as the applications' ``PERSISTENCE_MODULE``. It is the
library's factory, tables, engine and transactions, with two methods of its recorders replaced on SQLite files:

- ``insert_events`` (every command's save): the library builds one ORM object per event, opens a Session and
  flushes a unit of work, about 0.5 ms of CPU per save before SQLite even commits. Here the same rows go into the
  same table through a DB-API connection of its own in one ``BEGIN IMMEDIATE`` transaction (``INSERT`` per row, so
  each row's notification id is ``lastrowid``), under the datastore's write lock as the library's own path. The
  commit is the driver's ``commit()`` on the library's engine: the same ``synchronous`` setting (SQLite's default,
  FULL in WAL mode: one fsync per commit), nothing is returned before the rows are durable.
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
the library's transaction and ``LOCK TABLE``; the insert is one Core ``INSERT ... RETURNING``). Errors are the
library's types (``IntegrityError`` on a uniqueness conflict, which the domain decides again on).

Every write of events, on every path and backend, holds the write lock before it reads the newest notification id
and inserts: the order check of ledger/db/order.py, which refuses (``DecideAgain``) a write decided before an
event another process committed meanwhile. The group committer's batch (:meth:`LedgerApplicationRecorder.insert_batch`)
is checked per write, in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
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
from sqlalchemy import func, insert, select

from domain.sequencing import DecideAgain
from ledger.db.engine import IdleConnections
from ledger.db.order import WriteOrder


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

    @contextmanager
    def _sqlite_transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction on the saves' own DB-API connection (the pool's after :meth:`close_connections`),
        under the datastore's write lock, committed on the way out (rolled back on an error, translated to the
        library's type). It begins ``IMMEDIATE``: SQLite's write lock is taken before the first statement, so what
        the transaction reads, no other process changes before it commits (a deferred one that reads first could not
        even upgrade once another process wrote)."""
        ds = self.datastore
        if not ds._tried_init_sqlite_wal_mode:
            ds.init_sqlite_wal_mode()
        lock = ds.write_lock
        if lock is not None:
            lock.acquire()
        try:
            raw = self._writer
            pooled: Any = None
            if raw is None:
                with self._writer_lock:
                    if self._closed:  # after close_connections(): the pool's, as the library's path
                        pooled = ds.engine.raw_connection()
                        raw = pooled.driver_connection
                    else:
                        raw = self._writer = self._readers.open()
            try:
                if raw.in_transaction:  # never expected: the previous write committed or rolled back
                    raw.rollback()
                cursor = raw.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    yield cursor
                    raw.commit()
                except sqlite3.Error as e:
                    raw.rollback()
                    raise _translated(e) from e
                except BaseException:
                    raw.rollback()
                    raise
                finally:
                    cursor.close()
            finally:
                if pooled is not None:
                    pooled.close()
        finally:
            if lock is not None:
                lock.release()

    def _insert_sql(self) -> str:
        return (
            f"INSERT INTO {self.events_table_name} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)"
        )


class LedgerAggregateRecorder(_FastSqlite):
    """The snapshots' recorder: reads through the DB-API cursor on SQLite (writes are rare: the library's)."""


class LedgerApplicationRecorder(_FastSqlite, SQLAlchemyApplicationRecorder):
    """The events' recorder (see the module docstring). Every write of events is checked against the events other
    processes committed meanwhile (``order``, ledger/db/order.py) in its own transaction, before it inserts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = WriteOrder()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Any = None, **kwargs: Any
    ) -> Sequence[int] | None:
        if session is not None or any(v is not None for v in kwargs.values()) or not self._fast():
            return super().insert_events(stored_events, session=session, **kwargs)  # via _insert_stored_events
        ids, (refused,) = self._sqlite_write([stored_events], [self.order.decided()], ids=True)
        if refused is not None:
            raise refused
        return ids

    def insert_batch(
        self, writes: Sequence[Sequence[StoredEvent]], times: Sequence[datetime | None]
    ) -> list[DecideAgain | None]:
        """The group committer's batch (ledger/groupcommit.py): the writes (each one caller's events, decided at
        ``times``) in one transaction, in order, but for those the order check refuses (returned, per write;
        None: inserted). An ``IntegrityError`` fails the whole batch. Called outside any library transaction."""
        if self._fast():
            return self._sqlite_write(writes, times, ids=False)[1]
        with self.transaction(commit=True) as session:
            return self._session_write(session, writes, times)[1]

    def _insert_stored_events(self, session: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """The library's path (PostgreSQL, or a caller's open transaction): its lock, the order check, the insert."""
        ids, (refused,) = self._session_write(session, [stored_events], [self.order.decided()])
        if refused is not None:
            raise refused
        self._notify_channel(session)
        return ids

    def _sqlite_write(
        self, writes: Sequence[Sequence[StoredEvent]], times: Sequence[datetime | None], *, ids: bool
    ) -> tuple[list[int], list[DecideAgain | None]]:
        """On a SQLite file: check and insert in one IMMEDIATE transaction; the new rows' ids (``ids``: else only the
        last row's is taken, for the check) and the refusals."""
        table = self.events_table_name
        with self._sqlite_transaction() as cursor:
            newest = cursor.execute(f"SELECT max(id) FROM {table}").fetchone()[0]

            def state_of(row: int) -> Any:
                return cursor.execute(f"SELECT state FROM {table} WHERE id = ?", (row,)).fetchone()[0]

            refusals = self.order.refusals(newest, state_of, writes, times)
            rows = [
                (_as_uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state)
                for events, refused in zip(writes, refusals, strict=True)
                if refused is None
                for e in events
            ]
            sql = self._insert_sql()
            notification_ids: list[int] = []
            if ids:
                for row in rows:
                    cursor.execute(sql, row)
                    notification_ids.append(int(cursor.lastrowid or 0))
            elif rows:
                cursor.executemany(sql, rows[:-1])
                cursor.execute(sql, rows[-1])  # executemany leaves lastrowid unset
                notification_ids.append(int(cursor.lastrowid or 0))
            self.order.committed(notification_ids[-1] if notification_ids else None)
        return (notification_ids if ids else []), refusals

    def _session_write(
        self, session: Any, writes: Sequence[Sequence[StoredEvent]], times: Sequence[datetime | None]
    ) -> tuple[list[int], list[DecideAgain | None]]:
        """In the library's transaction: its table lock (PostgreSQL: ``LOCK TABLE ... IN EXCLUSIVE MODE``, which also
        makes commit order the notification-id order), the check, one Core ``INSERT ... RETURNING id`` for the rows
        admitted; their ids in order, and the refusals."""
        table = self.events_record_cls.__table__
        self._lock_table(session)
        newest = session.execute(select(func.max(table.c.id))).scalar()

        def state_of(row: int) -> Any:
            return session.execute(select(table.c.state).where(table.c.id == row)).scalar()

        refusals = self.order.refusals(newest, state_of, writes, times)
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for events, refused in zip(writes, refusals, strict=True)
            if refused is None
            for e in events
        ]
        if not rows:  # an empty parameter list would run `INSERT ... DEFAULT VALUES`
            return [], refusals
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        notification_ids = [int(i) for i in session.execute(statement, rows).scalars()]
        self.order.committed(max(notification_ids))
        return notification_ids, refusals


class LedgerFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the ledger's recorders (the module docstring)."""

    aggregate_recorder_class = LedgerAggregateRecorder
    application_recorder_class = LedgerApplicationRecorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorders: list[_FastSqlite] = []
        #: the datastore's engine is this factory's (made from the URL) unless the caller gave a session
        self._owns_engine = not self.env.get(self.SQLALCHEMY_SCOPED_SESSION_TOPIC)
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
        """Close the connections the recorders keep and the pool of the engine this factory made (the library's
        factory closes nothing: its pooled connections stayed open until the garbage collector found them, and on
        SQLite the WAL stayed beside the database until then, checkpointed at a moment nobody chose)."""
        for recorder in self._recorders:
            recorder.close_connections()
        super().close()
        engine = getattr(self.datastore, "engine", None)
        if self._owns_engine and engine is not None:
            engine.dispose()
