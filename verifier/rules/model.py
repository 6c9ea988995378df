"""Shared model of the rule replay: events, violations, stream ids, instants and typed field access.

Written from docs/domain.md, independently of ``domain/`` (the verifier must not share the ledger's bugs).

- *instant*: RFC 3339 UTC with six fractional digits (``2026-11-23T12:00:00.000000Z``); such strings compare
  in time order, so every time rule is a string comparison.
- *stream id* ``S(p1, ..., pn)`` = ``uuid5(6f1c3a52-2d7e-5b8c-9a41-0e5b7c9d2f13, "p1/.../pn")``.
"""

from __future__ import annotations

import calendar as _stdcal
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "COMMITMENT_RE",
    "NAMESPACE",
    "Event",
    "Malformed",
    "Permission",
    "Report",
    "Violation",
    "add_days",
    "add_months",
    "add_period",
    "as_bool",
    "as_int",
    "as_list",
    "as_map",
    "as_str",
    "first_difference",
    "format_instant",
    "json_path",
    "parse_instant",
    "pseudonym_problem",
    "stream_id",
]

NAMESPACE = uuid.UUID("6f1c3a52-2d7e-5b8c-9a41-0e5b7c9d2f13")
COMMITMENT_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


_NS_BYTES = NAMESPACE.bytes


_VARIANT = "89ab89ab89ab89ab"  # hex digit n of byte 8 -> the digit of (n & 0x3) | 0x8 (variant bits 10)


_sha1_ns = hashlib.sha1(_NS_BYTES).copy  # noqa: S324 - a hash object fed the namespace; copied per id
_hexdigit_variant = {c: _VARIANT[int(c, 16)] for c in "0123456789abcdef"}


def stream_id(*parts: str | int) -> str:
    """``S(p1, ..., pn)``: lowercase hyphenated uuid5 of the parts joined with ``/`` (RFC 4122 §4.3, computed
    directly: SHA-1 of namespace ‖ name, version 5, variant 10; equal to ``uuid.uuid5``, tested).

    On the hex digest: byte 6's high nibble (hex digit 12) becomes ``5``, byte 8's high nibble (hex digit 16)
    ``n`` becomes ``(n & 3) | 8``, i.e. ``_VARIANT[n]``; the other digits are the first 16 bytes unchanged.
    """
    h = _sha1_ns()
    h.update("/".join(map(str, parts)).encode())
    x = h.hexdigest()
    return x[:8] + "-" + x[8:12] + "-5" + x[13:16] + "-" + _hexdigit_variant[x[16]] + x[17:20] + "-" + x[20:32]


_PSEUDONYM = re.compile(r"(cit|vot|chd):v([1-9][0-9]{0,8}):[0-9a-f]{64}\Z")
_pseudonym_patterns: dict[tuple[str, int], re.Pattern[str] | None] = {}


def pseudonym_problem(value: str, kind: str, key: int) -> str | None:
    """None if ``value`` is a ``<kind>:v<key>:<64 hex>`` pseudonym (docs/domain.md: every aggregate keeps using
    the key version frozen at its opening), else the expected form."""
    try:
        pattern = _pseudonym_patterns[kind, key]
    except KeyError:
        pattern = _pseudonym_pattern(kind, key)
    if pattern is None or pattern.match(value) is None:
        return f"{kind}:v{key}:<64 hex>"
    return None


def _pseudonym_pattern(kind: str, key: int) -> re.Pattern[str] | None:
    """The pattern of exactly the values :data:`_PSEUDONYM` matches with this kind and key (None: none can)."""
    ok = kind in ("cit", "vot", "chd") and type(key) is int and 1 <= key < 10**9
    pattern = re.compile(rf"{kind}:v{key}:[0-9a-f]{{64}}\Z") if ok else None
    if len(_pseudonym_patterns) < 1024:
        _pseudonym_patterns[kind, key] = pattern
    return pattern


_INSTANT_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")


def parse_instant(text: str) -> datetime:
    if _INSTANT_RE.match(text) is not None:  # the only form strptime accepts that fromisoformat parses alike
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, _INSTANT_FORMAT).replace(tzinfo=UTC)


def format_instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_INSTANT_FORMAT)


def add_days(instant: str, days: int) -> str:
    """``instant`` + ``days`` x 24 h."""
    return format_instant(parse_instant(instant) + timedelta(days=days))


def add_months(instant: str, months: int) -> str:
    """Same UTC wall-clock time ``months`` calendar months later, the day clamped to the target month."""
    t = parse_instant(instant)
    y, m0 = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m0 + 1
    day = min(t.day, _stdcal.monthrange(year, month)[1])
    return format_instant(t.replace(year=year, month=month, day=day))


def add_period(instant: str, period: Mapping[str, Any]) -> str:
    """``{"days": N}`` or ``{"months": N}`` after ``instant`` (docs/domain.md, petition rule 2)."""
    if set(period) == {"days"}:
        return add_days(instant, as_int(period, "days"))
    if set(period) == {"months"}:
        return add_months(instant, as_int(period, "months"))
    raise Malformed("rules.period", "{'days': N} or {'months': N}", dict(period))


def local_date(instant: str, tz: Any) -> date:
    return parse_instant(instant).astimezone(tz).date()


@dataclass(slots=True)
class Event:
    """One envelope that passed step 1, with its position in the log. Treat as read-only: no rule changes it
    (not ``frozen``, because a frozen dataclass's ``__init__`` costs a slow ``object.__setattr__`` per field,
    and one Event is made per line of the log)."""

    index: int
    id: str
    #: The canonical type (:func:`verifier.kinds.canonical_type`): what the rules dispatch on.
    type: str
    stream: str
    version: int
    time: str
    actor: Mapping[str, Any]
    data: Mapping[str, Any]
    #: The type as the log holds it, when that is a legacy name of ``type`` (``queue.offer_issued``), else None.
    logged: str | None = None

    @classmethod
    def of(cls, index: int, env: Mapping[str, Any]) -> Event:
        return cls(index, env["id"], env["type"], env["stream"], env["version"], env["time"], env["actor"], env["data"])

    @property
    def logged_type(self) -> str:
        """The type as the log holds it (findings name this one)."""
        return self.type if self.logged is None else self.logged


@dataclass(frozen=True)
class Permission:
    """Who may cause an event type (docs/domain.md "Actors and authorisation"): a service holding ``scope``;
    the citizen named by the data field ``citizen`` (``"entry:"``: the entry's applicant); the system, if
    ``system`` (and then only as ``{"kind": "system", "id": system_id}`` when ``system_id`` is set)."""

    scope: str | None
    citizen: str | None
    system: bool = False
    system_id: str | None = None


@dataclass
class Violation:
    """A broken rule at one event: what the rules expected and what the log holds."""

    event: Event | None
    code: str
    message: str
    expected: Any = None
    found: Any = None
    details: dict[str, Any] = field(default_factory=dict)


Report = Callable[[Violation], None]


class Malformed(Exception):
    """An event's data lacks a field or has one of the wrong type (reported as ``malformed_data``)."""

    def __init__(self, path: str, expected: str, found: Any) -> None:
        super().__init__(path)
        self.path = path
        self.expected = expected
        self.found = found


_MISSING = object()


def _get(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key, _MISSING) if type(data) is dict or isinstance(data, Mapping) else _MISSING
    if value is _MISSING:
        raise Malformed(key, "present", "missing")
    return value


def as_str(data: Mapping[str, Any], key: str) -> str:
    if type(data) is dict:  # the common case, without a second call
        value = data.get(key, _MISSING)
        if type(value) is str:
            return value
        if value is _MISSING:
            raise Malformed(key, "present", "missing")
    else:
        value = _get(data, key)
    if not isinstance(value, str):
        raise Malformed(key, "a string", value)
    return value


def as_int(data: Mapping[str, Any], key: str) -> int:
    value = _get(data, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(key, "an integer", value)
    return value


def as_bool(data: Mapping[str, Any], key: str) -> bool:
    value = _get(data, key)
    if not isinstance(value, bool):
        raise Malformed(key, "a boolean", value)
    return value


def as_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = _get(data, key)
    if not isinstance(value, list):
        raise Malformed(key, "a list", value)
    return value


def as_str_list(data: Mapping[str, Any], key: str) -> list[str]:
    value = as_list(data, key)
    for v in value:
        if type(v) is not str and not isinstance(v, str):
            break
    else:
        return value
    if not all(isinstance(v, str) for v in value):
        raise Malformed(key, "a list of strings", value)
    return value


def as_map(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _get(data, key)
    if not isinstance(value, Mapping):
        raise Malformed(key, "an object", value)
    return value


def code_table(data: Mapping[str, Any], key: str) -> dict[str, str]:
    """A table of ``{code, title, statute}`` rows as ``code -> statute`` (insertion order = table order)."""
    out: dict[str, str] = {}
    for i, row in enumerate(as_list(data, key)):
        if not isinstance(row, Mapping):
            raise Malformed(f"{key}[{i}]", "an object {code, title, statute}", row)
        out[as_str(row, "code")] = as_str(row, "statute")
    return out


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(path: str, key: Any) -> str:
    """``path`` extended by an object key: ``$.name``, or ``$["key"]`` for a key that is not an identifier."""
    return f"{path}.{key}" if _IDENTIFIER.fullmatch(str(key)) else f'{path}["{key}"]'


def first_difference(expected: Any, found: Any, path: str = "$") -> tuple[str, Any, Any] | None:
    """The first JSON path (in sorted key order) where two JSON values differ, with both values there."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        for key in sorted(set(expected) | set(found)):
            sub = json_path(path, key)
            if key not in found:
                return sub, expected[key], "<missing>"
            if key not in expected:
                return sub, "<missing>", found[key]
            diff = first_difference(expected[key], found[key], sub)
            if diff is not None:
                return diff
        return None
    if isinstance(expected, list) and isinstance(found, list):
        for i, (a, b) in enumerate(zip(expected, found, strict=False)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff is not None:
                return diff
        if len(expected) != len(found):
            n = min(len(expected), len(found))
            return (
                f"{path}[{n}]",
                expected[n] if n < len(expected) else "<end of list>",
                found[n] if n < len(found) else "<end of list>",
            )
        return None
    if type(expected) is not type(found) or expected != found:
        return path, expected, found
    return None
