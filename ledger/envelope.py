"""The public event envelope (docs/formats.md §1) and the eventsourcing mapper that stores it.

The stored state of every public event *is* the envelope's RFC 8785 (JCS) bytes, so the leaf hash
SHA-256(0x00 ‖ stored state) covers exactly what sits in the database row. Events without a public
`TYPE` (snapshots) keep the library's own encoding: they are caches, never leaves.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import rfc8785
from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from domain.kinds import KINDS
from ledger.errors import EnvelopeError

#: The envelope format written now (docs/formats.md §1). Format 1 wrote the kindergarten queue's events as
#: ``queue.*``; format 2 writes ``kindergarten.*``. Logs may hold both: old rows keep their format-1 bytes.
FORMAT_VERSION = 2
#: The formats this ledger reads (and can build, for golden files and format-1 fixtures).
FORMAT_VERSIONS = frozenset({1, 2})
#: The envelope format whose types use the kinds' legacy prefixes.
LEGACY_FORMAT = 1
#: A prefix bound to formats: a legacy prefix to format 1 only, the current prefix of a kind that has legacy
#: prefixes to the later formats only (as the verifier's ``PREFIX_FORMAT``: its step 1 reports ``type_prefix_format``).
PREFIX_FORMATS: dict[str, frozenset[int]] = {
    **{p: frozenset({LEGACY_FORMAT}) for k in KINDS for p in k.legacy_prefixes},
    **{k.prefix: FORMAT_VERSIONS - {LEGACY_FORMAT} for k in KINDS if k.legacy_prefixes},
}
MAX_ENVELOPE_BYTES = 65_535  # tlog-tiles entry bundles prefix each entry with a uint16 length
MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON: integers beyond this do not survive JCS's number model
ACTOR_KINDS = frozenset({"service", "citizen", "system"})
_ENVELOPE_ATTRS = ("originator_id", "originator_version", "timestamp", "actor", "originator_topic")


def event_id(stream: UUID, version: int) -> UUID:
    """The public event id: uuid5(stream, str(version)); unique per (stream, version), recomputable."""
    return uuid5(stream, str(version))


_UUID5_KEEP = ~((0xF0 << 72) | (0xC0 << 56)) & ((1 << 128) - 1)  # clears the version nibble and variant bits
_UUID5_SET = (0x50 << 72) | (0x80 << 56)  # version 5, variant 10


def event_id_bytes(stream: bytes, version: int) -> bytes:
    """The 16 bytes of `event_id` from the stream's 16 bytes, without building UUID objects (hot path of the
    integrator). RFC 4122 §4.3: SHA-1(namespace ‖ name), version 5, variant 10."""
    return event_ids_bytes([(stream, version)])[0]


def event_ids_bytes(pairs: Iterable[tuple[bytes, int]]) -> list[bytes]:
    """`event_id_bytes` of each (stream bytes, version), in order: one pass with no per-id Python objects
    beyond the digest (the integrator computes one per leaf)."""
    sha1, frombytes, keep, set_ = hashlib.sha1, int.from_bytes, _UUID5_KEEP, _UUID5_SET
    return [
        (
            (frombytes(sha1(b"%s%d" % (stream, version), usedforsecurity=False).digest()[:16], "big") & keep) | set_
        ).to_bytes(16, "big")
        for stream, version in pairs
    ]


def event_id_str(stream: UUID, version: int) -> str:
    """``str(event_id(stream, version))`` without the UUID object: the SHA-1 hex with the version nibble and the
    variant bits set (RFC 4122 §4.3), dashed as ``str(UUID)`` does."""
    h = hashlib.sha1(stream.bytes + str(version).encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


#: hex digit -> the same digit with its two high bits set to the RFC 4122 variant (10)
_VARIANT = {f"{d:x}": f"{(d & 0x3) | 0x8:x}" for d in range(16)}


def format_time(instant: datetime) -> str:
    """RFC 3339 UTC with microseconds. Precondition: `instant` is timezone-aware."""
    if instant.tzinfo is None:
        raise EnvelopeError(f"naive datetime {instant!r}: event times must be timezone-aware")
    utc = instant.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad the year to four digits
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # the same characters as strftime, ~5x faster


def parse_time(text: str) -> datetime:
    """Inverse of `format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _plainly_native(value: Any) -> bool:
    """True when `value` holds only exact str, int (safe range), bool, None, list and str-keyed dict: the common case,
    checked without building the path strings of `check_json_native`'s messages."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if t is dict:
        return all(type(k) is str and _plainly_native(v) for k, v in value.items())
    if t is list:
        return all(_plainly_native(v) for v in value)
    return False


def check_json_native(value: Any, path: str = "data") -> None:
    """Raise EnvelopeError unless `value` holds only str, int (safe range), bool, None, list, dict[str, ...]."""
    if _plainly_native(value):
        return
    _check_json_native(value, path)


def _check_json_native(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise EnvelopeError(f"{path}: integer {value} outside ±(2^53-1)")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_native(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EnvelopeError(f"{path}: key {key!r} is not a string")
            _check_json_native(item, f"{path}.{key}")
        return
    raise EnvelopeError(f"{path}: {type(value).__name__} is not JSON-native (use str/int/bool/None/list/dict)")


_ASTRAL_UTF8 = re.compile(rb"[\xf0-\xf4]")


def _not_serializable(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)``: the C
    encoder that call builds, called directly (json.dumps also builds a JSONEncoder per call: a third of its time
    for an envelope); the same fresh circular-reference markers, so the same output and errors."""
    make = getattr(json.encoder, "c_make_encoder", None)  # the _json accelerator's, None without it
    if make is None:  # pragma: no cover - CPython without the _json accelerator
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if isinstance(value, str):  # as JSONEncoder.encode
        return json.encoder.encode_basestring(value)
    chunks = make({}, _not_serializable, json.encoder.encode_basestring, None, ":", ",", True, False, False)(value, 0)
    return "".join(chunks)  # lead byte of every 4-byte UTF-8 sequence (U+10000 and up)


def canonical_bytes(envelope: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of an envelope (or any JSON-native value).

    Fast path: for JSON-native values (see `check_json_native`) with no character outside the Basic
    Multilingual Plane, `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))` produces
    exactly the JCS bytes: code-point order equals UTF-16 order within the BMP, Python escapes exactly
    JCS's set (quote, backslash, U+0000-U+001F with the same short forms and lowercase \\u00xx), and safe
    integers print the same. tests/ledger/test_canonical.py checks the equivalence with Hypothesis.
    Anything else goes through the `rfc8785` package."""
    try:
        raw = _dumps(envelope)
        fast = raw.encode("utf-8")
        if fast.isascii() or not _ASTRAL_UTF8.search(fast):
            return fast
    except (TypeError, ValueError, UnicodeEncodeError):
        pass
    try:
        return rfc8785.dumps(envelope)
    except rfc8785.CanonicalizationError as e:
        raise EnvelopeError(f"cannot canonicalise: {e}") from e


def build_envelope(
    *,
    origin: str,
    stream: UUID,
    version: int,
    event_type: str,
    time: datetime,
    actor: Mapping[str, Any],
    data: Mapping[str, Any],
    format_version: int = FORMAT_VERSION,
) -> dict[str, Any]:
    """Assemble and validate the envelope of docs/formats.md §1. ``format_version`` other than the current one is for
    golden files and fixtures of older logs; the type's prefix must belong to that format."""
    if format_version not in FORMAT_VERSIONS:
        raise EnvelopeError(
            f"unknown envelope format {format_version}: want one of {sorted(FORMAT_VERSIONS)}", event_type=event_type
        )
    allowed = PREFIX_FORMATS.get(event_type.partition(".")[0])
    if allowed is not None and format_version not in allowed:
        raise EnvelopeError(
            f"type {event_type!r} is not written in envelope format {format_version} (its formats: {sorted(allowed)})",
            event_type=event_type,
        )
    if set(actor) != {"kind", "id"} or actor["kind"] not in ACTOR_KINDS or not isinstance(actor["id"], str):
        raise EnvelopeError(
            f"bad actor {actor!r}: want {{'kind': service|citizen|system, 'id': str}}", event_type=event_type
        )
    check_json_native(dict(data))
    return {
        "format": format_version,
        "log": origin,
        "id": event_id_str(stream, version),
        "stream": str(stream),
        "version": version,
        "type": event_type,
        "time": format_time(time),
        "actor": {"kind": actor["kind"], "id": actor["id"]},
        "data": dict(data),
    }


def _aggregate_topic_of(event_cls: type) -> str:
    """Topic of the aggregate class an event class is nested in (e.g. Petition for Petition.Created)."""
    owner_path = event_cls.__qualname__.rsplit(".", 1)[0]
    owner: Any = sys.modules[event_cls.__module__]
    for part in owner_path.split("."):
        owner = getattr(owner, part)
    return get_topic(owner)


class EnvelopeMapper(Mapper[UUID]):
    """Stores public events as their JCS envelope; everything else (snapshots) the library's way.

    `origin` is set by the ledger after the application is constructed (see ledger.app)."""

    origin: str = ""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event_type = getattr(type(domain_event), "TYPE", None)
        if event_type is None:
            return super().to_stored_event(domain_event)
        if not self.origin:
            raise EnvelopeError("the mapper has no log origin", event_type=event_type)
        state = vars(domain_event)
        data = {k: v for k, v in state.items() if k not in _ENVELOPE_ATTRS}
        envelope = build_envelope(
            origin=self.origin,
            stream=state["originator_id"],
            version=state["originator_version"],
            event_type=event_type,
            time=state["timestamp"],
            actor=state.get("actor") or {},
            data=data,
        )
        raw = canonical_bytes(envelope)
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError(f"envelope of {len(raw)} bytes exceeds {MAX_ENVELOPE_BYTES}", event_type=event_type)
        return StoredEvent(
            originator_id=state["originator_id"],
            originator_version=state["originator_version"],
            topic=get_topic(type(domain_event)),
            state=raw,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        if getattr(cls, "TYPE", None) is None:
            return super().to_domain_event(stored_event)
        envelope = json.loads(stored_event.state)
        state: dict[str, Any] = dict(envelope["data"])
        state["actor"] = envelope["actor"]
        state["timestamp"] = parse_time(envelope["time"])
        originator_id = stored_event.originator_id
        state["originator_id"] = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        state["originator_version"] = stored_event.originator_version
        if issubclass(cls, CanInitAggregate):
            state["originator_topic"] = _aggregate_topic_of(cls)
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event
