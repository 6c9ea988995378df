"""Base aggregate, event registry and the conventions every event follows.

* Every concrete event class declares ``TYPE`` (dotted, past tense, unique) and is registered in
  :data:`EVENT_TYPES`.
* Every event has ``actor: dict[str, str]`` (``{"kind": ..., "id": ...}``).
* All other event attributes are the public ``data`` and must be JSON-native (checked when triggered).
* Commands take the instant explicitly and pass it as the event timestamp.
* Aggregate state is a JSON-native dict (``aggregate.state``) produced by a pure ``fold`` function over
  ``(type, time, actor, data)``; the projections and the verifier replay the very same fold.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import sha1
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, SafeUUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput

#: Namespace for deterministic aggregate ids (uuid5). Never change it: ids in existing logs depend on it.
NAMESPACE = UUID("6f1c3a52-2d7e-5b8c-9a41-0e5b7c9d2f13")

#: Public event type -> event class. Filled by ``LedgerAggregate.Event.__init_subclass__``.
EVENT_TYPES: dict[str, type[LedgerAggregate.Event]] = {}

#: Attributes of an event that are not part of the public ``data``.
ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "actor"})

Fold = Callable[[dict[str, Any], str, str, Mapping[str, str], Mapping[str, Any]], None]


def stream_id(*parts: str) -> UUID:
    """Deterministic aggregate id: uuid5(NAMESPACE, "/".join(parts)) (the same UUID, built from its integer without
    ``UUID.__init__``'s argument checks: one per signature, vote and entry)."""
    digest = sha1(_NAMESPACE_BYTES + "/".join(parts).encode(), usedforsecurity=False).digest()
    u = object.__new__(UUID)
    object.__setattr__(u, "int", (int.from_bytes(digest[:16]) & _UUID5_KEEP) | _UUID5_SET)
    object.__setattr__(u, "is_safe", SafeUUID.unknown)
    return u


_NAMESPACE_BYTES = NAMESPACE.bytes
_UUID5_KEEP = ~((0xF0 << 72) | (0xC0 << 56)) & ((1 << 128) - 1)  # clears the version nibble and the variant bits
_UUID5_SET = (0x50 << 72) | (0x80 << 56)  # version 5, variant 10 (RFC 4122)


# --- time ----------------------------------------------------------------------------------------------
def require_utc(at: datetime, name: str = "at") -> datetime:
    """Return ``at`` converted to UTC; naive datetimes are refused."""
    if type(at) is datetime and at.tzinfo is UTC:  # already UTC (every time the writer hands on): itself
        return at
    if not isinstance(at, datetime):
        raise InvalidInput(f"{name} must be a datetime", field=name)
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{name} must be timezone-aware", field=name)
    return at.astimezone(UTC)


@lru_cache(maxsize=4096)
def _format_utc(at: datetime) -> str:
    """``at`` (UTC) as ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")``: by ``isoformat`` (C, ~5x faster than ``strftime``), which
    writes the same characters for years 1000 and up (``+00:00`` for UTC, replaced by ``Z``)."""
    if at.year < 1000:  # strftime does not pad the year to four digits
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return at.isoformat(timespec="microseconds")[:-6] + "Z"


def rfc3339(at: datetime) -> str:
    """RFC 3339 UTC with exactly six fractional digits: ``2026-11-23T12:00:00.000000Z``.

    Strings in this format sort lexicographically in time order."""
    return _format_utc(require_utc(at))


def parse_rfc3339(text: str) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise InvalidInput("instant must be an RFC 3339 UTC string ending in Z", value=str(text))
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as e:
        raise InvalidInput("instant must look like 2026-11-23T12:00:00.000000Z", value=text) from e


def add_days(time: str, days: int) -> str:
    return rfc3339(parse_rfc3339(time) + timedelta(days=days))


# --- JSON-native check -----------------------------------------------------------------------------------
#: Budget for an event's ``data`` as compact UTF-8 JSON: the whole envelope must stay within 65,535 bytes.
MAX_DATA_BYTES = 60_000


def _native_bound(value: Any) -> int:
    """One pass over an event's data for both checks: -1 unless ``value`` is built only from exact str, int (safe
    range), bool, None, list and str-keyed dict (then :func:`check_json_native`'s own pass decides, with its
    messages); else an upper bound of its compact UTF-8 JSON size, over the limit when not known. Bound: an ASCII
    character takes at most 6 bytes (``\\u00XX``), a safe int at most 17, ``false`` 5; non-ASCII text is not
    bounded (it is measured exactly: it may not even encode)."""
    t = type(value)
    if t is str:
        return 6 * len(value) + 2 if value.isascii() else _UNKNOWN
    if t is bool or value is None:
        return 5
    if t is int:
        return 17 if -(2**53 - 1) <= value <= 2**53 - 1 else -1
    if t is dict:
        total = 2
        for k, v in value.items():
            if type(k) is not str:
                return -1
            item = _native_bound(v)
            if item < 0:
                return -1
            total += (6 * len(k) + 2 if k.isascii() else _UNKNOWN) + 2 + item  # "k":v,
        return total
    if t is list:
        total = 2
        for v in value:
            item = _native_bound(v)
            if item < 0:
                return -1
            total += item + 1
        return total
    return -1


_UNKNOWN = MAX_DATA_BYTES + 1


def check_data(data: Mapping[str, Any]) -> None:
    """:func:`check_json_native` then :func:`check_event_size` of an event's ``data``, in one pass when it is plain
    JSON well within the limit (the usual event); otherwise each check as written."""
    bound = _native_bound(dict(data))
    if bound < 0:
        check_json_native(data)
    if bound < 0 or bound > MAX_DATA_BYTES:
        check_event_size(data)


def check_event_size(data: Mapping[str, Any]) -> None:
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_DATA_BYTES:
        raise InvalidInput("the event would be too large for one log entry", max_bytes=MAX_DATA_BYTES, found=size)


def _plainly_native(value: Any) -> bool:
    """True when ``value`` is built only from exact str, int (safe range), bool, None, list and str-keyed dict: the
    common case, checked without building the path strings of :func:`check_json_native`'s messages."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return bool(-(2**53 - 1) <= value <= 2**53 - 1)
    if t is dict:
        return all(type(k) is str and _plainly_native(v) for k, v in value.items())
    if t is list:
        return all(_plainly_native(v) for v in value)
    return False


def check_json_native(value: Any, path: str = "data") -> None:
    """Raise TypeError unless ``value`` is built only from str, int, bool, None, list and str-keyed dict."""
    if _plainly_native(value):
        return
    _check_json_native(value, path)


def _check_json_native(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
            raise TypeError(f"{path}: integer outside the JSON-safe range")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_native(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: non-string key {k!r}")
            _check_json_native(item, f"{path}.{k}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not JSON-native")


# --- aggregate ----------------------------------------------------------------------------------------------
_DATA_FIELDS: dict[type, tuple[str, ...]] = {}


def data_fields(cls: type) -> tuple[str, ...]:
    try:
        return _DATA_FIELDS[cls]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)
        _DATA_FIELDS[cls] = names
        return names


def public_data(event: Any) -> dict[str, Any]:
    """The event's public ``data``: every attribute except the envelope ones (an ``OPTIONAL`` field of its class only
    when the event has it: older logs lack it, or the event's variant omits it)."""
    cls = type(event)
    optional: frozenset[str] = getattr(cls, "OPTIONAL", frozenset())
    if not optional:
        return {name: getattr(event, name) for name in data_fields(cls)}
    present = vars(event)
    return {name: present[name] for name in data_fields(cls) if name not in optional or name in present}


def event_time(event: Any) -> str:
    return rfc3339(event.timestamp)


class LedgerAggregate(Aggregate):
    """Base of every aggregate in the domain."""

    if TYPE_CHECKING:
        state: dict[str, Any]

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        """Pure fold ``(state, type, time, actor, data) -> None`` shared with projections and the verifier."""
        raise NotImplementedError

    class Event(Aggregate.Event):
        TYPE: ClassVar[str] = ""
        #: Data fields an event of this type may lack (older logs, or a variant of the type): the verifier's
        #: ``EventRow.alternatives`` name the other field sets accepted.
        OPTIONAL: ClassVar[frozenset[str]] = frozenset()
        actor: dict[str, str]

        def __init_subclass__(cls) -> None:
            super().__init_subclass__()
            type_ = cls.__dict__.get("TYPE")
            if not type_:
                return
            existing = EVENT_TYPES.get(type_)
            if existing is not None and (existing.__module__, existing.__qualname__) != (
                cls.__module__,
                cls.__qualname__,
            ):
                raise TypeError(f"event type {type_!r} declared twice: {existing.__qualname__} and {cls.__qualname__}")
            EVENT_TYPES[type_] = cls

        def apply(self, aggregate: Any) -> None:
            type(aggregate).fold(aggregate.state, self.TYPE, event_time(self), self.actor, public_data(self))

    class Created(Event, Aggregate.Created):
        def apply(self, aggregate: Any) -> None:
            aggregate.state = {}
            super().apply(aggregate)

    # -- helpers for subclasses ---------------------------------------------------------------------
    @classmethod
    def _start(
        cls,
        event_class: type[LedgerAggregate.Created],
        *,
        id: UUID,
        at: datetime,
        actor: Mapping[str, str],
        **data: Any,
    ) -> Any:
        check_data(data)
        return cls._create(event_class, id=id, timestamp=require_utc(at), actor=dict(actor), **data)

    def _emit(
        self, event_class: type[LedgerAggregate.Event], *, at: datetime, actor: Mapping[str, str], **data: Any
    ) -> None:
        check_data(data)
        self.trigger_event(event_class, timestamp=require_utc(at), actor=dict(actor), **data)

    @property
    def pending(self) -> list[Any]:
        return list(self.pending_events)
