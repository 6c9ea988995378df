"""Comparing a published ``state.json`` with the replayed public state in memory that does not grow with either.

``state.json`` (docs/formats.md §5) holds the city's current state: petition counts, tallies, and the queue orders
and housing lists, which can run to hundreds of thousands of entry ids in one list. Neither side is held whole:
both are flattened to rows of a :class:`StateTable` in a scratch SQLite file, one row per JSON value (every
object, array and scalar at any depth), keyed by its encoded path, and :func:`first_state_difference` walks the two
tables in path order, one row of each at a time.

- Paths are encoded so that byte order is :func:`verifier.rules.model.first_difference`'s order: an object key is
  ``01`` + its UTF-8 (NUL escaped as ``00 FF``) + ``00 01``, an array index is ``02`` + 8 bytes big-endian; a
  value's row comes before its children's.
- ``state.json`` is read with :mod:`ijson` (a streaming parser), one event at a time. The replayed side is made
  by the rule classes one aggregate at a time, and the long lists lazily (:class:`LazyObject`, :class:`LazyArray`).

The difference found is the one ``first_difference`` finds on the two whole values: the same first path, the same
values there, except that a container of more than :data:`SHOW_ROWS` values is described (``"an array of 12,000
values"``) instead of being reproduced.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from verifier.limits import MAX_STATE_DEPTH
from verifier.rules.model import json_path
from verifier.spill import ScratchFile

__all__ = [
    "ARRAY",
    "OBJECT",
    "SCALAR",
    "LazyArray",
    "LazyObject",
    "StateBeyondLimit",
    "StateTable",
    "StateUnreadable",
    "first_state_difference",
    "flatten",
    "key_path",
    "materialize",
    "read_published",
]

OBJECT, ARRAY, SCALAR = 0, 1, 2  # row kinds
SHOW_ROWS = 1000  # a differing container of at most this many values is reported whole
Row = tuple[bytes, int, str | None]  # (encoded path, kind, JSON text of a scalar)


class StateUnreadable(ValueError):
    """``state.json`` is not one JSON value in UTF-8."""

    code = "state_unreadable"

    def describe(self) -> str:
        return f"state.json is not valid UTF-8 JSON: {self}"


class StateBeyondLimit(StateUnreadable):
    """``state.json`` passes a bound of :mod:`verifier.limits` (too deep, too large): it is not compared."""

    code = "state_beyond_limit"

    def describe(self) -> str:
        return f"state.json was not compared with the replay: {self}"


@dataclass(frozen=True)
class LazyObject:
    """An object whose ``(key, value)`` pairs are made as they are read, in key order."""

    items: Iterable[tuple[str, Any]]


@dataclass(frozen=True)
class LazyArray:
    """An array whose values are made as they are read."""

    values: Iterable[Any]


def materialize(value: Any) -> Any:
    """The plain JSON value of a value that may hold :class:`LazyObject` / :class:`LazyArray` parts."""
    if isinstance(value, LazyObject):
        return {k: materialize(v) for k, v in value.items}
    if isinstance(value, LazyArray):
        return [materialize(v) for v in value.values]
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v) for v in value]
    return value


# -- paths ---------------------------------------------------------------------------------------------------------
def key_path(key: str) -> bytes:
    return b"\x01" + key.encode("utf-8").replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def _index_path(i: int) -> bytes:
    return b"\x02" + i.to_bytes(8, "big")


def _components(path: bytes) -> list[tuple[bool, bytes]]:
    """The components of an encoded path, in order: (is an array index, the component's bytes)."""
    out: list[tuple[bool, bytes]] = []
    at = 0
    while at < len(path):
        if path[at] == 2:
            out.append((True, path[at : at + 9]))
            at += 9
            continue
        end = at + 1
        while not (path[end] == 0 and path[end + 1] == 1):
            end += 2 if path[end] == 0 else 1
        out.append((False, path[at : end + 2]))
        at = end + 2
    return out


def _after_subtree(path: bytes) -> bytes:
    """The least path above every path under ``path`` (a child's path is ``path`` + ``01``/``02`` + ...): the
    value at ``path`` and its descendants are exactly the paths in ``[path, _after_subtree(path))``."""
    return path + b"\x03"


def _json_path(path: bytes) -> str:
    """``$``-rooted JSON path text of an encoded path (as ``first_difference`` writes it)."""
    out = "$"
    for is_index, c in _components(path):
        out = f"{out}[{int.from_bytes(c[1:], 'big')}]" if is_index else json_path(out, _key_of(c))
    return out


def _key_of(component: bytes) -> str:
    return component[1:-2].replace(b"\x00\xff", b"\x00").decode("utf-8")


# -- flattening ----------------------------------------------------------------------------------------------------
def flatten(path: bytes, value: Any) -> Iterator[Row]:
    """The rows of ``value`` at ``path``: its own, then its children's, in path order when object keys come
    sorted (plain dicts are sorted here; a :class:`LazyObject` must yield its keys in order)."""
    if isinstance(value, dict):
        yield path, OBJECT, None
        for k in sorted(value):
            yield from _children(path + key_path(k), value[k])
    elif isinstance(value, LazyObject):
        yield path, OBJECT, None
        for k, v in value.items:
            yield from _children(path + key_path(k), v)
    elif isinstance(value, list | LazyArray):
        yield path, ARRAY, None
        for i, v in enumerate(value.values if isinstance(value, LazyArray) else value):
            yield from _children(path + _index_path(i), v)
    else:
        yield path, SCALAR, _dumps(value)


def _children(path: bytes, value: Any) -> Iterator[Row]:
    """:func:`flatten`, with a scalar's row made here (no nested generator per value: the long lists are of
    strings)."""
    if type(value) is str:
        yield path, SCALAR, _encode_string(value)
    else:
        yield from flatten(path, value)


_encode_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes for a str (C)


def _dumps(value: Any) -> str:
    if type(value) is str:
        return _encode_string(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class StateTable:
    """One side's rows, written in batches, read back in path order."""

    def __init__(self, file: ScratchFile, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"table name {name!r}")
        self._db = file.db
        self._name = name
        self._db.execute(
            f"CREATE TABLE {name} (path BLOB PRIMARY KEY, kind INTEGER NOT NULL, value TEXT) WITHOUT ROWID"
        )
        self._insert = f"INSERT OR REPLACE INTO {name} VALUES (?, ?, ?)"
        self._pending: list[Row] = []

    def add(self, rows: Iterable[Row]) -> None:
        pending = self._pending
        for row in rows:
            pending.append(row)
            if len(pending) >= 1024:
                self.flush()
                pending = self._pending

    def drop_subtree(self, path: bytes) -> None:
        """Remove the value at ``path`` and everything under it (a duplicate key replaces the earlier value)."""
        self.flush()
        self._db.execute(f"DELETE FROM {self._name} WHERE path >= ? AND path < ?", (path, _after_subtree(path)))

    def flush(self) -> None:
        """Write the buffered rows in one transaction (at most 1,024, mostly in path order: few pages each)."""
        if self._pending:
            self._db.execute("BEGIN")
            self._db.executemany(self._insert, self._pending)
            self._db.execute("COMMIT")
            self._pending = []

    def rows(self) -> Iterator[Row]:
        """Every row, in path order."""
        self.flush()
        return iter(self._db.execute(f"SELECT path, kind, value FROM {self._name} ORDER BY path"))

    def root(self) -> tuple[int, Any] | None:
        """The top-level value's kind and (for a scalar) value; None for an empty table."""
        self.flush()
        row = self._db.execute(f"SELECT kind, value FROM {self._name} WHERE path = x''").fetchone()
        return None if row is None else (row[0], None if row[1] is None else json.loads(row[1]))

    def is_empty_container(self, path: bytes = b"") -> bool:
        self.flush()
        query = f"SELECT 1 FROM {self._name} WHERE path > ? AND path < ? LIMIT 1"
        return self._db.execute(query, (path, _after_subtree(path))).fetchone() is None

    def value(self, path: bytes, kind: int, text: str | None) -> Any:
        """The value at ``path`` for a report: a scalar, or a container rebuilt if it holds at most
        :data:`SHOW_ROWS` values, else described."""
        if kind == SCALAR:
            return None if text is None else json.loads(text)
        query = f"SELECT path, kind, value FROM {self._name} WHERE path > ? AND path < ? ORDER BY path LIMIT ?"
        end = _after_subtree(path)
        rows = self._db.execute(query, (path, end, SHOW_ROWS + 1)).fetchall()
        if len(rows) > SHOW_ROWS:
            count = f"SELECT count(*) FROM {self._name} WHERE path > ? AND path < ?"
            n = self._db.execute(count, (path, end)).fetchone()[0]
            return f"{'an object' if kind == OBJECT else 'an array'} of {n:,} values"
        return _rebuild(path, kind, rows)


def _rebuild(path: bytes, kind: int, rows: list[Row]) -> Any:
    """The container at ``path`` from its descendants' rows (in path order: each after its parent)."""
    root: Any = {} if kind == OBJECT else []
    stack: list[tuple[bytes, Any]] = [(path, root)]
    for p, k, text in rows:
        while not p.startswith(stack[-1][0]) or p == stack[-1][0]:
            stack.pop()
        parent_path, parent = stack[-1]
        value: Any = {} if k == OBJECT else [] if k == ARRAY else json.loads(text or "null")
        if isinstance(parent, dict):
            parent[_key_of(p[len(parent_path) :])] = value
        else:
            parent.append(value)
        if k != SCALAR:
            stack.append((p, value))
    return root


# -- reading state.json --------------------------------------------------------------------------------------------
def read_published(f: IO[bytes], table: StateTable) -> None:
    """Reads ``state.json`` into ``table``, one parser event at a time. Raises :class:`StateUnreadable` when it is
    not one JSON value in UTF-8, :class:`StateBeyondLimit` as soon as it nests deeper than
    :data:`~verifier.limits.MAX_STATE_DEPTH` (each row holds its whole path: the rows of a value nested ``d`` deep
    take ``d²`` bytes)."""
    try:
        _read(ijson.basic_parse(f, use_float=True), table)
        table.flush()
    except (ijson.JSONError, UnicodeError, sqlite3.Error) as exc:
        raise StateUnreadable(str(exc).strip() or type(exc).__name__) from exc


class _Frame:
    __slots__ = ("is_object", "key", "last_key", "n", "path")

    def __init__(self, path: bytes, is_object: bool) -> None:
        self.path = path
        self.is_object = is_object
        self.key = ""
        self.last_key: str | None = None
        self.n = 0


def _read(events: Iterator[tuple[str, Any]], table: StateTable) -> None:
    stack: list[_Frame] = []
    pending: list[Row] = []
    for event, value in events:
        if event == "map_key":
            stack[-1].key = value
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            continue
        if not stack:
            path = b""
        else:
            frame = stack[-1]
            if frame.is_object:
                path = frame.path + key_path(frame.key)
                if frame.last_key is not None and frame.key <= frame.last_key:  # unsorted or a duplicate key
                    table.add(pending)
                    pending = []
                    table.drop_subtree(path)  # a duplicate replaces (as json.loads keeps the last)
                frame.last_key = frame.key
            else:
                path = frame.path + _index_path(frame.n)
                frame.n += 1
        if (event == "start_map" or event == "start_array") and len(stack) >= MAX_STATE_DEPTH:
            raise StateBeyondLimit(
                f"it nests deeper than {MAX_STATE_DEPTH} levels (the verifier's limit; the published state nests "
                "about 5)"
            )
        if event == "start_map":
            pending.append((path, OBJECT, None))
            stack.append(_Frame(path, True))
        elif event == "start_array":
            pending.append((path, ARRAY, None))
            stack.append(_Frame(path, False))
        else:
            pending.append((path, SCALAR, _dumps(value)))
        if len(pending) >= 1024:
            table.add(pending)
            pending = []
    table.add(pending)


# -- comparing -----------------------------------------------------------------------------------------------------
def first_state_difference(replayed: StateTable, published: StateTable) -> tuple[str, Any, Any] | None:
    """The first path where the two states differ, with the replayed (expected) and the published (found) value
    there (``"<missing>"`` / ``"<end of list>"`` when one side has none); None when they are equal."""
    mine, theirs = replayed.rows(), published.rows()
    a, b = next(mine, None), next(theirs, None)
    while a is not None or b is not None:
        if a is not None and b is not None and a[0] == b[0]:
            if a[1] != b[1] or (a[1] == SCALAR and not _same_scalar(a[2], b[2])):
                return _json_path(a[0]), replayed.value(*a), published.value(*b)
            a, b = next(mine, None), next(theirs, None)
            continue
        # A path on one side only: its parent is on both (parents come first), so a key is missing, or a list
        # is longer on that side.
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            return _one_sided(a, replayed, expected_side=True)
        return _one_sided(b, published, expected_side=False)
    return None


def _same_scalar(x: str | None, y: str | None) -> bool:
    """Same JSON scalar, as ``first_difference`` judges (type and value: ``1`` is not ``1.0`` nor ``true``)."""
    if x == y:
        return True
    vx, vy = json.loads(x or "null"), json.loads(y or "null")
    return type(vx) is type(vy) and vx == vy


def _one_sided(row: Row, table: StateTable, expected_side: bool) -> tuple[str, Any, Any]:
    path = row[0]
    value = table.value(*row)
    components = _components(path)
    absent = "<end of list>" if components and components[-1][0] else "<missing>"
    return (_json_path(path), value, absent) if expected_side else (_json_path(path), absent, value)
