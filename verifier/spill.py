"""Spill tables: the on-disk half of the verifier's bounded maps (step 1's stream versions, the rule steps'
state), one implementation for both.

A :class:`DiskTable` is one ``k TEXT PRIMARY KEY, v`` table in a scratch SQLite file (private to one audit, in a
temporary directory removed at the end; no journal, no fsync) plus a :class:`KeyFilter` (a Bloom filter) of the
keys written to it, so looking up a key that was never spilled - most look-ups - needs no query. Rows are
written in batches, in key order, in short transactions. What stays in memory, and when it is spilled, is the
owner's policy (:class:`verifier.envelope.StreamVersions`, :class:`verifier.rules.store.SpillMap`).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "ABSENT",
    "DURABLE_PRAGMAS",
    "ROWS_PER_TRANSACTION",
    "SCRATCH_PRAGMAS",
    "DiskTable",
    "DurableFile",
    "KeyFilter",
    "ScratchFile",
    "write_in_transactions",
]

#: A scratch file is private to one audit and thrown away after it: no journal, no fsync.
SCRATCH_PRAGMAS = ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE", "temp_store=MEMORY")
#: A durable file (the monitor's state) keeps a rollback journal and syncs on commit: a round's changes are one
#: transaction, committed whole or not at all. Its page cache (at most 32 MiB, used as pages are touched) holds a
#: round's dirty pages: with SQLite's default of 2 MiB a round of 1,000 events on a log of 1e5 or more dirties more
#: pages than that (its rows land on random B-tree pages), and every spill of the cache in mid-transaction costs a
#: journal sync and a re-read of the spilled pages (16 syncs and 5,100 reads instead of 6 and 2,900 at 3e5).
DURABLE_PRAGMAS = (
    "journal_mode=DELETE",
    "synchronous=FULL",
    "locking_mode=EXCLUSIVE",
    "temp_store=MEMORY",
    "cache_size=-32768",
)
ABSENT: Any = object()  # what DiskTable.get returns for a key it does not hold


#: Rows per write transaction: enough to save most of the per-statement commit, few enough that the pages one
#: transaction dirties (at most one per row, kept in memory until it commits) stay within about 1 MiB.
ROWS_PER_TRANSACTION = 256


def write_in_transactions(db: sqlite3.Connection, statement: str, rows: list[Any]) -> None:
    """``executemany(statement, rows)`` on an autocommit connection, :data:`ROWS_PER_TRANSACTION` rows a time; inside
    a transaction already open (a :class:`DurableFile`'s round) the rows join it."""
    if db.in_transaction:
        db.executemany(statement, rows)
        return
    for at in range(0, len(rows), ROWS_PER_TRANSACTION):
        db.execute("BEGIN")
        db.executemany(statement, rows[at : at + ROWS_PER_TRANSACTION])
        db.execute("COMMIT")


class ScratchFile:
    """One temporary SQLite file, created on first use (:attr:`db`), removed by :meth:`close`. Autocommit: the
    tables write in explicit transactions."""

    durable = False

    def __init__(self, prefix: str, name: str) -> None:
        self._prefix = prefix
        self._name = name
        self._db: sqlite3.Connection | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=self._prefix)
            db = sqlite3.connect(Path(self._tmp.name) / self._name, isolation_level=None)
            for pragma in SCRATCH_PRAGMAS:
                db.execute(f"PRAGMA {pragma}")
            self._db = db
        return self._db

    @property
    def used(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class DurableFile(ScratchFile):
    """A SQLite file at a fixed path that outlives the process (the monitor's rule state, verifier/monitor/rules.py):
    its tables are read back by the next run, so a :class:`DiskTable` that finds its table already there looks keys
    up in it (no Bloom filter of keys written by an earlier run is kept). The owner writes in one explicit
    transaction (``BEGIN`` ... ``COMMIT`` or ``ROLLBACK``); :meth:`close` keeps the file."""

    durable = True

    def __init__(self, path: Path) -> None:
        super().__init__("", path.name)
        self.path = path

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            for pragma in DURABLE_PRAGMAS:
                db.execute(f"PRAGMA {pragma}")
            self._db = db
        return self._db

    def has_table(self, name: str) -> bool:
        row = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    def close(self) -> None:
        if self._db is not None:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._db.close()
            self._db = None


class _EveryKey:
    """The key filter of a table an earlier run wrote: any key may be there (ask the table)."""

    count = 0

    def __contains__(self, key: str) -> bool:
        return True

    def add_all(self, keys: Iterable[str]) -> None:
        for _ in keys:
            pass


class KeyFilter:
    """A Bloom filter of the keys a spill table holds: "not there" is certain, so looking up a key that was never
    written (most look-ups, in logs where most events open a new stream) costs no disk read. About one byte
    per key (8 bits, 4 probes: ~2% false positives); it doubles, re-reading the keys, when it gets fuller."""

    def __init__(self, keys: Callable[[], Iterable[str]], bits: int = 1 << 20) -> None:
        self._keys = keys  # every key written so far (for a rebuild)
        self._size(bits)

    def _size(self, bits: int) -> None:
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self._room = bits >> 3  # keys before it doubles
        self.count = 0

    def add_all(self, keys: Iterable[str]) -> None:
        bits, mask = self._bits, self._mask
        n = 0
        for key in keys:  # the 4 probes (a + i * b) & mask, i = 0..3, unrolled
            h = hash(key)
            a, b = h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1
            p = a & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (a + b) & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (a + 2 * b) & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (a + 3 * b) & mask
            bits[p >> 3] |= 1 << (p & 7)
            n += 1
        self.count += n
        if self.count > self._room:
            self._size((mask + 1) * 2)
            while True:
                self.add_all_no_grow(self._keys())
                if self.count <= self._room:
                    return
                self._size((self._mask + 1) * 2)

    def add_all_no_grow(self, keys: Iterable[str]) -> None:
        room, self._room = self._room, 1 << 62
        try:
            self.add_all(keys)
        finally:
            self._room = room

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        a, b = h & 0xFFFFFFFF, ((h >> 32) & 0xFFFFFFFF) | 1
        bits, mask = self._bits, self._mask
        p = a & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (a + b) & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (a + 2 * b) & mask
        if not bits[p >> 3] & (1 << (p & 7)):
            return False
        p = (a + 3 * b) & mask
        return bool(bits[p >> 3] & (1 << (p & 7)))


class DiskTable:
    """A str -> value table in a :class:`ScratchFile` (created on the first :meth:`write`), with a Bloom filter
    of its keys. Values are SQLite values (int, str, bytes, ...): encoding objects is the owner's business.
    ``filter_bits`` (a power of two) sizes the filter when the table is created; it doubles when it fills."""

    def __init__(self, scratch: ScratchFile, name: str, value_type: str = "") -> None:
        if not name.isidentifier():
            raise ValueError(f"table name {name!r} is not an identifier")
        self._scratch = scratch
        self._name = name
        self._value_type = value_type
        self.filter_bits = 1 << 20
        self._filter: KeyFilter | _EveryKey | None = None
        if isinstance(scratch, DurableFile) and scratch.has_table(name):
            self._filter = _EveryKey()  # written by an earlier run: every look-up asks the table
        self._get = f"SELECT v FROM {name} WHERE k = ?"
        self._put = f"INSERT OR REPLACE INTO {name} (k, v) VALUES (?, ?)"

    @property
    def exists(self) -> bool:
        """Whether anything was ever written (the table exists)."""
        return self._filter is not None

    def get(self, key: str) -> Any:
        """The stored value, or :data:`ABSENT`."""
        f = self._filter
        if f is None or key not in f:
            return ABSENT
        row = self._scratch.db.execute(self._get, (key,)).fetchone()
        return ABSENT if row is None else row[0]

    def write(self, rows: list[tuple[str, Any]]) -> None:
        """Insert or replace ``rows`` (sorted here: neighbouring keys share B-tree pages), in transactions of at
        most :data:`ROWS_PER_TRANSACTION` rows (the pages a transaction dirties stay in memory until it ends)."""
        db = self._scratch.db
        if self._filter is None:
            db.execute(f"CREATE TABLE {self._name} (k TEXT PRIMARY KEY, v {self._value_type}) WITHOUT ROWID")
            query = f"SELECT k FROM {self._name}"
            self._filter = KeyFilter(lambda: (k for (k,) in db.execute(query)), self.filter_bits)
        rows.sort()
        write_in_transactions(db, self._put, rows)
        self._filter.add_all(k for k, _ in rows)

    def delete(self, key: str) -> None:
        if self._filter is not None:
            self._scratch.db.execute(f"DELETE FROM {self._name} WHERE k = ?", (key,))

    def scan(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """Every (key, value) whose key starts with ``prefix``, in key order."""
        if self._filter is None:
            return
        query = f"SELECT k, v FROM {self._name} WHERE k >= ? ORDER BY k"
        for k, v in self._scratch.db.execute(query, (prefix,)):
            if not k.startswith(prefix):
                return
            yield k, v

    def count(self) -> int:
        if self._filter is None:
            return 0
        return int(self._scratch.db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0])
