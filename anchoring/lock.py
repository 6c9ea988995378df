"""One anchorer per log: a PostgreSQL session advisory lock, or on SQLite a file lock next to the database.

Both are released by the operating system / server when the holder dies, so a crashed anchorer never
blocks its successor.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

from anchoring.errors import AnchoringError, AnchorLockedError


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key derived from `name`."""
    return int.from_bytes(hashlib.sha256(b"hromada-anchor:" + name.encode()).digest()[:8], "big", signed=True)


class AnchorLock:
    """Non-blocking exclusive lock `name` (e.g. the hex log id) for the database behind `engine`."""

    def __init__(self, engine: Engine, name: str, *, lock_dir: Path | None = None) -> None:
        self.engine = engine
        self.name = name
        self.dialect = engine.dialect.name
        self._conn: Connection | None = None
        self._fh: IO[bytes] | None = None
        self.path: Path | None = None
        if self.dialect == "sqlite":
            db = engine.url.database
            if lock_dir is not None:
                base = lock_dir
            elif db and db != ":memory:" and not db.startswith("file::memory:"):
                base = Path(db).resolve().parent
            else:
                base = Path(tempfile.gettempdir())
            stem = Path(db).name if db and db != ":memory:" else "memory"
            self.path = base / f"{stem}.anchor-{name[:16]}.lock"
        elif self.dialect != "postgresql":
            raise AnchoringError(f"no anchor lock for database dialect {self.dialect!r}")

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fh is not None

    def acquire(self) -> None:
        if self.held:
            return
        if self.dialect == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(self.name)}).scalar()
            conn.commit()
            if not got:
                conn.close()
                raise AnchorLockedError(
                    f"another anchorer holds the advisory lock of log {self.name}",
                    log_id=self.name,
                    lock=f"pg_advisory_lock({lock_key(self.name)})",
                )
            self._conn = conn
            return
        import fcntl

        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+b")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise AnchorLockedError(
                f"another anchorer holds the file lock of log {self.name}", log_id=self.name, lock=str(self.path)
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n".encode())
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(self.name)})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fh is not None:
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
