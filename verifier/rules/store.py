"""Spill store of the rule replay: bounded in-memory LRU caches in front of one temporary SQLite file.

The rule steps keep state per citizen-made item (petitions, votes, queue and register entries, offers, held
places, children, applicants). That state grows with the log, so it lives in :class:`SpillMap` s (a key -> value
map whose most recently used ``cache_items`` values stay in a dict; older ones are written to the scratch file
in batches and read back on demand) and :class:`OrderedIndex` es (sorted sets of rows, e.g. a queue group's
waiting entries in queue order, kept in the scratch file, with the pending changes buffered in memory).

Object identity: a value returned by :meth:`SpillMap.get` stays the live, cached object until
:meth:`Scratch.maintain` runs; the replay calls it between events only, so a handler may read a value, change
it in place and rely on the change being kept. Eviction writes every evicted value (values are mutable).

The scratch file is private to one audit (a temporary directory, removed by :meth:`Scratch.close`); it is
scratch, so it runs without a journal and without fsync.
"""

from __future__ import annotations

import contextlib
import marshal
import pickle
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from operator import attrgetter
from typing import Any, Generic, TypeVar

from verifier.spill import ABSENT, DiskTable, DurableFile, ScratchFile, write_in_transactions

__all__ = [
    "DEFAULT_CACHE_ITEMS",
    "Codec",
    "OrderedIndex",
    "Scratch",
    "Slice",
    "SpillMap",
    "pickle_codec",
    "slots_codec",
]

#: Values kept in memory per map (the least recently used beyond this are written to the scratch file).
DEFAULT_CACHE_ITEMS = 16_384
#: Buffered index changes before they are written (they are also written before every query).
INDEX_BUFFER = 8_192

V = TypeVar("V")
Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]
_MISSING: Any = object()


def _identity(value: Any) -> Any:
    return value


IDENTITY: Codec = (_identity, _identity)  # str, int: stored as SQLite values


def pickle_codec() -> Codec:
    return (lambda v: pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads)


def slots_codec(cls: type[Any]) -> Codec:
    """A ``slots`` dataclass whose fields hold only str, int, bool, None, list, set, dict and tuple values:
    its field tuple through :mod:`marshal` (several times faster than pickle). Only values this audit wrote
    are ever read back."""
    names = [name for name in cls.__slots__ if not name.startswith("__")]
    fields = attrgetter(*names)
    dumps, loads = marshal.dumps, marshal.loads
    return (lambda v: dumps(fields(v)), lambda b: cls(*loads(b)))


class Scratch:
    """One temporary SQLite file shared by the maps and indexes of one rule step (created on first need); or, given
    ``file`` (a :class:`~verifier.spill.DurableFile`: the monitor's), that file, whose tables an earlier run may have
    written (:meth:`persist` writes everything held in memory to it)."""

    def __init__(self, cache_items: int | None = None, file: ScratchFile | None = None) -> None:
        self.cache_items = max(1, DEFAULT_CACHE_ITEMS if cache_items is None else cache_items)
        self.file = ScratchFile("hromada-verify-rules-", "rules.db") if file is None else file
        self.overfull: list[SpillMap[Any]] = []
        self._names: set[str] = set()
        self.maps: list[SpillMap[Any]] = []
        self.indexes: list[OrderedIndex] = []
        self.evicted = 0  # values written to the scratch file (stats)

    @property
    def db(self) -> sqlite3.Connection:
        return self.file.db

    @property
    def used(self) -> bool:
        """Whether anything was written to the scratch file."""
        return self.file.used

    def _table(self, name: str) -> str:
        if not name.isidentifier() or name in self._names:
            raise ValueError(f"scratch table name {name!r} is not a fresh identifier")
        self._names.add(name)
        return name

    def map(self, name: str, codec: Codec = IDENTITY) -> SpillMap[Any]:
        m: SpillMap[Any] = SpillMap(self, self._table(name), codec)
        self.maps.append(m)
        return m

    def index(self, name: str, group: Sequence[str], key: Sequence[str]) -> OrderedIndex:
        ix = OrderedIndex(self, self._table(name), group, key)
        self.indexes.append(ix)
        return ix

    def persist(self) -> None:
        """Write every value and index change held in memory to the file and empty the caches (the monitor, at
        the end of a round: what a round leaves in memory is then only what the next round touches)."""
        for m in self.maps:
            m.write_back()
        for ix in self.indexes:
            ix.flush()

    def maintain(self) -> None:
        """Evict from every map over its bound (between events only: see the module docstring)."""
        while self.overfull:
            self.overfull.pop().evict()

    def close(self) -> None:
        self.file.close()


class SpillMap(Generic[V]):
    """A str -> value map: the ``scratch.cache_items`` most recently used values in a dict, the rest in a
    :class:`~verifier.spill.DiskTable` of the scratch file (encoded with ``codec``)."""

    def __init__(self, scratch: Scratch, table: str, codec: Codec = IDENTITY) -> None:
        self._scratch = scratch
        self._disk = DiskTable(scratch.file, table)
        self._encode, self._decode = codec
        self._mem: dict[str, V] = {}
        self._cap = scratch.cache_items
        self._flagged = False

    # -- reads ----------------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        mem = self._mem
        value = mem.pop(key, _MISSING)
        if value is not _MISSING:
            mem[key] = value  # most recently used last
            return value
        raw = self._disk.get(key)
        if raw is ABSENT:
            return default
        value = self._decode(raw)
        self._cache(key, value)
        return value

    def __getitem__(self, key: str) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    # -- writes ---------------------------------------------------------------------------------------------
    def __setitem__(self, key: str, value: V) -> None:
        mem = self._mem
        mem.pop(key, None)
        self._cache(key, value)

    def _cache(self, key: str, value: V) -> None:
        mem = self._mem
        mem[key] = value
        if len(mem) > self._cap and not self._flagged:
            self._flagged = True
            self._scratch.overfull.append(self)

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        del self._mem[key]
        self._disk.delete(key)
        return value

    def evict(self) -> None:
        """Write the least recently used values beyond 3/4 of the bound to disk, in one batch."""
        self._flagged = False
        mem = self._mem
        n = len(mem) - (self._cap * 3) // 4
        if n <= 0:
            return
        victims = list(islice(mem, n))
        self._write((k, mem[k]) for k in victims)
        for k in victims:
            del mem[k]
        self._scratch.evicted += n

    def write_back(self) -> None:
        """Write every cached value to disk and drop the cache (:meth:`Scratch.persist`)."""
        if self._mem:
            self._write(list(self._mem.items()))
            self._mem.clear()
        self._flagged = False

    def _write(self, items: Iterable[tuple[str, V]]) -> None:
        encode = self._encode
        self._disk.write([(k, encode(v)) for k, v in items])

    # -- whole map (finish, public state, tests) ------------------------------------------------------------
    def items(self, prefix: str = "") -> Iterator[tuple[str, V]]:
        """Every (key, value) whose key starts with ``prefix``, in key order; cached values are the live objects."""
        mem = self._mem
        if not self._disk.exists:
            for k in sorted(k for k in mem if k.startswith(prefix)):
                yield k, mem[k]
            return
        self._write(list(mem.items()))  # the disk copy is now complete
        for k, v in self._disk.scan(prefix):
            value = mem.get(k, _MISSING)
            yield k, (self._decode(v) if value is _MISSING else value)

    def __len__(self) -> int:
        if not self._disk.exists:
            return len(self._mem)
        self._write(list(self._mem.items()))
        return self._disk.count()

    @property
    def cached(self) -> int:
        return len(self._mem)


class Slice(Generic[V]):
    """The part of a :class:`SpillMap` whose keys start with a fixed-length ``prefix`` (e.g. one queue's
    entries: prefix = the queue's stream id, a 36-character UUID), seen as a map of the rest of the key."""

    def __init__(self, base: SpillMap[V], prefix: str) -> None:
        self.base = base
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:
        return self.base.get(self.prefix + key, default)

    def __getitem__(self, key: str) -> V:
        return self.base[self.prefix + key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self.prefix + key) in self.base

    def __setitem__(self, key: str, value: V) -> None:
        self.base[self.prefix + key] = value

    def pop(self, key: str, default: Any = None) -> Any:
        return self.base.pop(self.prefix + key, default)

    def items(self) -> Iterator[tuple[str, V]]:
        n = len(self.prefix)
        for k, v in self.base.items(self.prefix):
            yield k[n:], v

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __bool__(self) -> bool:
        return any(True for _ in self.items())


class OrderedIndex:
    """A sorted set of rows ``group + key`` in the scratch file: :meth:`first`/:meth:`iter_group` read one
    group in key order, :meth:`groups` lists the groups in order. Column values must keep one type per column
    (SQLite orders str by UTF-8 bytes, which is Python's code point order, and int numerically)."""

    def __init__(self, scratch: Scratch, table: str, group: Sequence[str], key: Sequence[str]) -> None:
        self._scratch = scratch
        self._name = table
        self._group = list(group)
        self._key = list(key)
        self._pending: dict[tuple[Any, ...], bool] = {}  # row -> present (the last change wins)
        file = scratch.file
        self._created = isinstance(file, DurableFile) and file.has_table(table)  # an earlier run made it
        cols = self._group + self._key
        self._insert = f"INSERT OR IGNORE INTO {table} VALUES ({', '.join('?' * len(cols))})"
        self._delete = f"DELETE FROM {table} WHERE " + " AND ".join(f"{c} = ?" for c in cols)
        where = " AND ".join(f"{c} = ?" for c in self._group)
        self._select = f"SELECT {', '.join(self._key)} FROM {table} WHERE {where} ORDER BY {', '.join(self._key)}"

    def add(self, row: tuple[Any, ...]) -> None:
        self._pending[row] = True
        if len(self._pending) >= INDEX_BUFFER:
            self.flush()

    def discard(self, row: tuple[Any, ...]) -> None:
        self._pending[row] = False
        if len(self._pending) >= INDEX_BUFFER:
            self.flush()

    def replace(self, before: frozenset[tuple[Any, ...]], after: frozenset[tuple[Any, ...]]) -> None:
        """An entry's rows changed from ``before`` to ``after``: drop the ones gone, add the new ones."""
        if not before:  # e.g. a new entry: every row is new
            for row in after:
                self.add(row)
        elif after != before:
            for row in before - after:
                self.discard(row)
            for row in after - before:
                self.add(row)

    def flush(self) -> None:
        pending = self._pending
        if not pending and self._created:
            return
        db = self._scratch.db
        if not self._created:
            cols = self._group + self._key
            db.execute(f"CREATE TABLE {self._name} ({', '.join(cols)}, PRIMARY KEY ({', '.join(cols)})) WITHOUT ROWID")
            self._created = True
        gone = [row for row, present in pending.items() if not present]
        new = [row for row, present in pending.items() if present]
        with contextlib.suppress(TypeError):  # each column keeps one type; unsorted would merely be slower
            new.sort()  # in key order: neighbouring rows land on the same B-tree pages
        if gone:
            write_in_transactions(db, self._delete, gone)
        write_in_transactions(db, self._insert, new)
        pending.clear()

    def iter_group(self, group: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        """The key columns of the group's rows, in order (fetched in pages: callers may read other tables)."""
        self.flush()
        cursor = self._scratch.db.execute(self._select, group)
        size = 8  # usually the first rows are all a caller reads
        while True:
            page = cursor.fetchmany(size)
            size = 256
            if not page:
                return
            yield from page

    def first(self, group: tuple[Any, ...]) -> tuple[Any, ...] | None:
        self.flush()
        row: tuple[Any, ...] | None = self._scratch.db.execute(self._select + " LIMIT 1", group).fetchone()
        return row

    def groups(self, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The distinct groups (whose first columns equal ``prefix``), in order."""
        self.flush()
        cols = ", ".join(self._group)
        where = " AND ".join(f"{c} = ?" for c in self._group[: len(prefix)]) or "1"
        query = f"SELECT DISTINCT {cols} FROM {self._name} WHERE {where} ORDER BY {cols}"
        return [tuple(r) for r in self._scratch.db.execute(query, prefix)]
