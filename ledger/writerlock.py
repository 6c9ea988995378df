"""One serving process per database.

`hromada serve` decides signatures and votes on petitions and ballots it caches (domain.guards), and orders them
against closes with in-process guards: both are correct only while it is the one process that writes those
aggregates. The lock makes a second `serve` on the same database fail at start instead of silently breaking that.

SQLite: an exclusive `flock` on `<database file>.serve.lock` (released by the kernel when the process dies).
PostgreSQL: a session advisory lock (advisory locks are per database) held on a dedicated connection.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from ledger.errors import WriterBusyError


class WriterLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fd: int | None = None
        self._conn: Any = None
        self._key = 0

    def acquire(self) -> WriterLock:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            db = url.database or ""
            if not db or db == ":memory:":
                return self  # a private in-memory database has no other writer
            path = Path(db + ".serve.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise WriterBusyError(
                    f"another process serves {db} (lock {path} is held); stop it first", database=db
                ) from None
            self._fd = fd
            return self
        key = self._key = int.from_bytes(hashlib.sha256(b"hromada-serve").digest()[:8], "big", signed=True)
        conn = self.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            conn.close()
            name = url.render_as_string(hide_password=True)
            raise WriterBusyError(f"another process serves {name} (advisory lock held); stop it first", database=name)
        self._conn = conn
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            # the pool keeps sessions open: unlock explicitly (a crash ends the session, and the lock with it)
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
