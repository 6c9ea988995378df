"""Event envelope checks (docs/formats.md §1), one line of ``events.jsonl`` at a time.

Stateless checks (:func:`check_line`, :func:`check_event_object`): valid UTF-8 JSON object, exactly the RFC 8785
(JCS) bytes, exactly the documented fields with their types, ``format`` 1 or 2 (format 1 writes the kindergarten
queue's types as ``queue.*``, format 2 as ``kindergarten.*``: :data:`verifier.kinds.PREFIX_FORMAT`), ``log`` == the
log's origin,
``id == uuid5(UUID(stream), str(version))``, ``time`` RFC 3339 UTC with microseconds, at most 65,535 bytes, no
floats anywhere. Stateful checks (:class:`SequenceChecker`): versions gapless per stream from 1, ``time``
non-decreasing in log order.

Canonical form. ``rfc8785`` (pure Python) is the reference. A fast path parses the line with :mod:`json` and
re-serialises it with the C-accelerated ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
and accepts it without ``rfc8785`` only if the text is equal AND (a) no float/NaN/Infinity literal was parsed
(floats are rejected outright anyway), (b) no integer literal is longer than 15 characters (so |n| < 10^15, inside
JCS's ±(2^53-1), and ``str(n)`` is what JCS prints), (c) the line holds no 4-byte UTF-8 sequence (every string is
in the BMP, where UTF-16 code-unit order, which JCS sorts keys by, equals the code-point order ``sort_keys``
uses). Under (a)-(c) the two serialisers agree byte for byte: the same literals, the same integer digits, the same
string escapes (``\\" \\\\ \\b \\f \\n \\r \\t``, other controls as lowercase ``\\u00xx``, nothing else escaped;
tested exhaustively over the BMP in tests/verifier), the same key order, no whitespace. Everything else (any
mismatch, any condition not met) is judged by ``rfc8785`` itself, so the fast path can only accept what
``rfc8785`` accepts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import json.scanner
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rfc8785

from verifier.kinds import PREFIX_FORMAT
from verifier.limits import MAX_EVENT_DEPTH, depth_of_text
from verifier.spill import ABSENT, DiskTable, KeyFilter, ScratchFile

__all__ = [
    "ACTOR_KINDS",
    "ENVELOPE_FIELDS",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MAX_ENVELOPE_BYTES",
    "MAX_STREAMS_IN_MEMORY",
    "CheckedLine",
    "KeyFilter",
    "Problem",
    "SequenceChecker",
    "StreamVersions",
    "canonical_bytes",
    "check_event_object",
    "check_line",
    "event_id_for",
    "find_floats",
    "is_canonical",
    "parse_accepted",
    "split_envelope",
]

#: The envelope format written now, and every format this verifier reads (docs/formats.md §1).
FORMAT_VERSION = 2
FORMAT_VERSIONS = frozenset({1, 2})
MAX_ENVELOPE_BYTES = 65535
ENVELOPE_FIELDS: dict[str, type] = {
    "format": int,
    "log": str,
    "id": str,
    "stream": str,
    "version": int,
    "type": str,
    "time": str,
    "actor": dict,
    "data": dict,
}
_FIELD_SET = frozenset(ENVELOPE_FIELDS)
ACTOR_KINDS = frozenset({"service", "citizen", "system"})

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\Z")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
_NOT_UTF8_LEAD4 = bytes(b for b in range(256) if not 0xF0 <= b <= 0xF7)  # translate() keeps only 4-byte leads
_ACTOR_KEYS = frozenset({"kind", "id"})
_VARIANT = "89ab89ab89ab89ab"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:  # the C encoder itself, without JSONEncoder's per-call Python overhead
    _encode_chunks = _c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, False)
else:  # pragma: no cover - CPython has the C encoder

    def _encode_chunks(value: Any, _level: int) -> list[str]:
        return [_dumps(value)]


def _dumps_fast(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    return "".join(_encode_chunks(value, 0))


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one envelope."""

    code: str
    message: str
    expected: Any = None
    found: Any = None


class _FloatFound(Exception):
    pass


def _no_float(_text: str) -> Any:
    raise _FloatFound


class _BigInt(Exception):
    pass


def _small_int(text: str) -> int:
    if len(text) > 15:  # |n| < 10**15 < 2**53: surely inside the JCS integer domain
        raise _BigInt
    return int(text)


_loads = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float).decode
_scan_strict = json.scanner.make_scanner(
    json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float, parse_int=_small_int)  # type: ignore[arg-type]
)


def _loads_strict(text: str) -> Any:
    """Parse exactly one JSON value filling all of ``text`` (no surrounding whitespace)."""
    try:
        value, end = _scan_strict(text, 0)
    except StopIteration as exc:
        raise ValueError("not JSON") from exc
    if end != len(text):
        raise ValueError("trailing data")
    return value


def find_floats(value: Any, path: str = "$") -> Iterator[str]:
    """JSON paths of every float (or NaN/Infinity) inside ``value``."""
    if isinstance(value, float):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from find_floats(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from find_floats(v, f"{path}[{i}]")


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of ``value`` (reference implementation ``rfc8785``)."""
    return rfc8785.dumps(value)


def is_canonical(line: bytes, value: Any) -> bool:
    """Is ``line`` exactly the RFC 8785 serialisation of ``value`` (parsed from it)? Uses ``rfc8785``."""
    try:
        return bool(rfc8785.dumps(value) == line)
    except rfc8785.CanonicalizationError:
        return False


def event_id_for(stream: str, version: int) -> str:
    """``str(uuid5(UUID(stream), str(version)))`` for a lowercase hyphenated ``stream`` (RFC 4122 §4.3)."""
    h = hashlib.sha1(bytes.fromhex(stream.replace("-", "")) + str(version).encode()).hexdigest()  # noqa: S324 - uuid5 is SHA-1
    # version nibble := 5; variant bits of byte 8 := 10xx
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_event_object(event: dict[str, Any], origin: str | None) -> list[Problem]:
    """Field-level checks of a parsed envelope (everything but byte-level canonical form and floats)."""
    problems: list[Problem] = []
    keys = event.keys()
    if keys != _FIELD_SET:
        missing = sorted(_FIELD_SET - keys)
        extra = sorted(keys - _FIELD_SET)
        if missing:
            problems.append(
                Problem("missing_field", "envelope lacks required fields", expected=missing, found=sorted(keys))
            )
        if extra:
            problems.append(
                Problem("extra_field", "envelope has fields not allowed by formats.md §1", expected=[], found=extra)
            )
    for name, kind in ENVELOPE_FIELDS.items():
        if name in event:
            value = event[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                problems.append(
                    Problem(
                        "field_type",
                        f"field {name!r} has the wrong type",
                        expected=_type_name(kind()),
                        found=_type_name(value),
                    )
                )
    fmt = event.get("format")
    format_ok = isinstance(fmt, int) and not isinstance(fmt, bool) and fmt in FORMAT_VERSIONS
    if isinstance(fmt, int) and not isinstance(fmt, bool) and not format_ok:
        problems.append(
            Problem("format_version", "unknown envelope format", expected=sorted(FORMAT_VERSIONS), found=fmt)
        )
    log = event.get("log")
    if origin is not None and isinstance(log, str) and log != origin:
        problems.append(Problem("log_mismatch", "envelope 'log' is not this log's origin", expected=origin, found=log))
    stream = event.get("stream")
    stream_ok = isinstance(stream, str) and _UUID_RE.match(stream) is not None
    if isinstance(stream, str) and not stream_ok:
        problems.append(
            Problem("stream_format", "stream is not a lowercase hyphenated UUID", expected="uuid", found=stream)
        )
    version = event.get("version")
    version_ok = isinstance(version, int) and not isinstance(version, bool) and version >= 1
    if isinstance(version, int) and not isinstance(version, bool) and version < 1:
        problems.append(Problem("version_range", "version must be >= 1", expected=">= 1", found=version))
    eid = event.get("id")
    if isinstance(eid, str):
        if _UUID_RE.match(eid) is None:
            problems.append(Problem("id_format", "id is not a lowercase hyphenated UUID", expected="uuid", found=eid))
        elif stream_ok and version_ok:
            assert isinstance(stream, str) and isinstance(version, int)
            want = event_id_for(stream, version)
            if eid != want:
                problems.append(
                    Problem("id_mismatch", "id is not uuid5(UUID(stream), str(version))", expected=want, found=eid)
                )
    etype = event.get("type")
    if isinstance(etype, str) and _TYPE_RE.match(etype) is None:
        problems.append(
            Problem("type_format", "type is not a dotted lowercase name", expected="e.g. petition.signed", found=etype)
        )
    elif isinstance(etype, str) and format_ok:
        assert isinstance(fmt, int)
        problem = _prefix_problem(fmt, etype)
        if problem is not None:
            problems.append(problem)
    etime = event.get("time")
    if isinstance(etime, str):
        ok = _TIME_RE.match(etime) is not None
        if ok:
            try:
                datetime.fromisoformat(etime)
            except ValueError:
                ok = False
        if not ok:
            problems.append(
                Problem(
                    "time_format",
                    "time is not RFC 3339 UTC with microseconds",
                    expected="YYYY-MM-DDTHH:MM:SS.ffffffZ",
                    found=etime,
                )
            )
    actor = event.get("actor")
    if isinstance(actor, dict):
        if actor.keys() != {"kind", "id"}:
            problems.append(
                Problem(
                    "actor_fields", "actor must be exactly {kind, id}", expected=["id", "kind"], found=sorted(actor)
                )
            )
        kind_v = actor.get("kind")
        if "kind" in actor and kind_v not in ACTOR_KINDS:
            problems.append(Problem("actor_kind", "unknown actor kind", expected=sorted(ACTOR_KINDS), found=kind_v))
        if "id" in actor and not isinstance(actor.get("id"), str):
            problems.append(
                Problem("actor_id_type", "actor id must be a string", expected="string", found=_type_name(actor["id"]))
            )
    return problems


@dataclass(slots=True)
class CheckedLine:
    """The outcome of the stateless checks of one line."""

    event: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        value = self.event.get("id") if self.event is not None else None
        return value if isinstance(value, str) else None

    @property
    def event_type(self) -> str | None:
        value = self.event.get("type") if self.event is not None else None
        return value if isinstance(value, str) else None


def _first_difference(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _fast_fields_ok(ev: dict[str, Any], origin: str | None) -> bool:
    """True when the parsed envelope certainly passes :func:`check_event_object` (cheap common case)."""
    if ev.keys() != _FIELD_SET:
        return False
    stream, version, eid, etime, actor = ev["stream"], ev["version"], ev["id"], ev["time"], ev["actor"]
    fmt, etype = ev["format"], ev["type"]
    return (
        type(fmt) is int
        and fmt in FORMAT_VERSIONS
        and type(etype) is str
        and (etype in _valid_types or _valid_type(etype))
        and _in_format(fmt, etype)
        and type(ev["log"]) is str
        and (origin is None or ev["log"] == origin)
        and type(stream) is str
        and type(version) is int
        and version >= 1
        and type(eid) is str
        and type(ev["type"]) is str
        and type(etime) is str
        and type(actor) is dict
        and type(ev["data"]) is dict
        and _UUID_RE.match(stream) is not None
        and eid == event_id_for(stream, version)
        and _TIME_RE.match(etime) is not None
        and _valid_time(etime)
        and actor.keys() == _ACTOR_KEYS
        and actor["kind"] in ACTOR_KINDS
        and type(actor["id"]) is str
    )


_valid_types: set[str] = set()  # event types that matched _TYPE_RE (a log has a few dozen; bounded below)
_MAX_VALID_TYPES = 4096


def _valid_type(etype: str) -> bool:
    """``_TYPE_RE.match(etype) is not None``, remembering the types that matched (a memo of a pure function:
    a type is in ``_valid_types`` only if it matched, so the fast path accepts exactly what the regex does)."""
    if _TYPE_RE.match(etype) is None:
        return False
    if len(_valid_types) < _MAX_VALID_TYPES:
        _valid_types.add(etype)
    return True


def _in_format(fmt: int, etype: str) -> bool:
    """Whether a format ``fmt`` envelope may have the (dotted, valid) type ``etype``: its prefix is bound to no
    format or to this one (``_prefix_problem(fmt, etype) is None``, without building the problem)."""
    return PREFIX_FORMAT.get(etype[: etype.find(".")], fmt) == fmt


def _prefix_problem(fmt: int, etype: str) -> Problem | None:
    """A ``type_prefix_format`` problem when ``etype``'s prefix belongs to another envelope format than ``fmt``
    (format 1 wrote the kindergarten queue's ``queue.*``, format 2 writes ``kindergarten.*``), else None."""
    prefix, _, suffix = etype.partition(".")
    bound = PREFIX_FORMAT.get(prefix)
    if bound is None or bound == fmt:
        return None
    allowed = sorted(p for p, f in PREFIX_FORMAT.items() if f == fmt and f != bound)
    return Problem(
        "type_prefix_format",
        f"a format {fmt} envelope may not use the {prefix}.* types of format {bound}",
        expected=" or ".join(f"{p}.{suffix}" for p in allowed) or f"a type of format {fmt}",
        found=etype,
    )


def _valid_time(etime: str) -> bool:
    try:
        datetime.fromisoformat(etime)
    except ValueError:
        return False
    return True


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SIMPLE_STRING = r'"[^"\\\x00-\x1f]*"'  # a JSON string that is its own canonical form (nothing to escape)


def _envelope_pattern(log: str) -> re.Pattern[str]:
    """The canonical envelope with every field but ``data`` spelled out (keys in JCS order). ``log`` is the
    pattern of the ``log`` value (the origin's exact JSON text, or any simple string)."""
    return re.compile(
        r'\{"actor":\{"id":"([^"\\\x00-\x1f]*)","kind":"(citizen|service|system)"\},"data":(\{.*\}),"format":([12]),'
        rf'"id":"({_UUID})","log":({log}),"stream":"({_UUID})",'
        r'"time":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)",'
        r'"type":"([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)","version":([1-9][0-9]{0,14})\}',
        re.DOTALL,
    )


_ANY_LOG = _envelope_pattern(_SIMPLE_STRING)
_patterns: dict[str, re.Pattern[str]] = {}


def _pattern_for(origin: str | None) -> re.Pattern[str]:
    if origin is None:
        return _ANY_LOG
    pattern = _patterns.get(origin)
    if pattern is None:
        if len(_patterns) > 64:
            _patterns.clear()
        pattern = _patterns[origin] = _envelope_pattern(re.escape(_dumps_fast(origin)))
    return pattern


def split_envelope(text: str, origin: str | None) -> tuple[Any, ...] | None:
    """The fields of a line that has the shape of a canonical envelope, as ``(actor id, actor kind, data text,
    format text, id, log text, stream, time, type, version text)``, or None. Says nothing about ``data`` (only that it
    is between braces), ``id`` against ``stream`` and ``version``, or the calendar validity of ``time``."""
    m = _pattern_for(origin).fullmatch(text)
    return None if m is None else m.groups()


def _structural(text: str, origin: str | None) -> dict[str, Any] | None:
    """The envelope of ``text`` when it certainly passes every stateless check, else None (then the general
    path decides). Parses and re-serialises only ``data``: every other field is matched by
    :func:`split_envelope`'s pattern, which admits only canonical text for it (keys in order, strings with
    nothing to escape, ``format`` 1 or 2, a canonical integer version of at most 15 digits). So the line is the
    concatenation of canonical parts, i.e. the canonical text of the envelope built here, which is exactly
    what parsing the whole line gives (tested against the general path)."""
    m = _pattern_for(origin).fullmatch(text)
    if m is None:
        return None
    _, _, data_text, fmt_text, eid, _, stream, etime, etype, version_text = m.groups()
    # ``data`` is level 2 of the line, so it may nest MAX_EVENT_DEPTH - 1 levels: it surely does when it has fewer
    # brackets than that. Else the general path measures it.
    if data_text.count("{") + data_text.count("[") >= MAX_EVENT_DEPTH:
        return None
    try:
        data, end = _scan_strict(data_text, 0)
    except (_FloatFound, _BigInt, ValueError, StopIteration):
        return None
    version = int(version_text)
    if (
        end != len(data_text)
        or type(data) is not dict
        or "".join(_encode_chunks(data, 0)) != data_text
        or eid != event_id_for(stream, version)
        or not _valid_time(etime)
        or not _in_format(1 if fmt_text == "1" else 2, etype)
    ):
        return None
    return _assemble(m.groups(), data, version, origin)


def _assemble(groups: tuple[Any, ...], data: dict[str, Any], version: int, origin: str | None) -> dict[str, Any]:
    """The envelope of a line :func:`split_envelope` split into ``groups`` (keys in the line's order, as a parser
    builds it; ``log`` is a string with nothing escaped when ``origin`` is None)."""
    aid, kind, _, fmt, eid, log, stream, etime, etype, _ = groups
    return {
        "actor": {"id": aid, "kind": kind},
        "data": data,
        "format": 1 if fmt == "1" else int(fmt),
        "id": eid,
        "log": origin if origin is not None else log[1:-1],
        "stream": stream,
        "time": etime,
        "type": etype,
        "version": version,
    }


def parse_accepted(line: bytes, origin: str | None) -> dict[str, Any]:
    """The envelope of a line that :func:`check_line` accepted (for a second reader of the log, e.g. the rule
    worker process): the same value ``check_line`` returned, without checking again what it checked."""
    text = line.decode("utf-8")
    m = _pattern_for(origin).fullmatch(text)
    if m is None:
        value: dict[str, Any] = json.loads(text)
        return value
    groups = m.groups()
    return _assemble(groups, json.loads(groups[2]), int(groups[9]), origin)


def check_line(line: bytes, origin: str | None) -> CheckedLine:
    """All stateless checks of one ``events.jsonl`` line (without its ``\\n``)."""
    # Fastest path: a line with the envelope's exact shape (only ``data`` is parsed). Then the fast path: the
    # common, valid line (see the module docstring). Anything unusual goes to the full, diagnosing path, which
    # judges canonical form with rfc8785.
    if len(line) <= MAX_ENVELOPE_BYTES:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return _check_line_full(line, origin)
        if line.isascii() or not line.translate(None, _NOT_UTF8_LEAD4):
            value = _structural(text, origin)
            if value is not None:
                return CheckedLine(value, [])
        return _check_line_general(line, text, origin)
    return _check_line_full(line, origin)


def _check_line_general(line: bytes, text: str, origin: str | None) -> CheckedLine:
    """The fast path for any line of at most 65,535 bytes (``text`` is its UTF-8 decoding), else the full path."""
    if depth_of_text(text, MAX_EVENT_DEPTH) is not None:  # too deep: the full path reports it
        return _check_line_full(line, origin)
    try:
        value, end = _scan_strict(text, 0)
    except (_FloatFound, _BigInt, ValueError, StopIteration):
        return _check_line_full(line, origin)
    if (
        end == len(text)
        and type(value) is dict
        and (line.isascii() or not line.translate(None, _NOT_UTF8_LEAD4))
        and "".join(_encode_chunks(value, 0)) == text
        and _fast_fields_ok(value, origin)
    ):
        return CheckedLine(value, [])
    return _check_line_full(line, origin)


def _check_line_full(line: bytes, origin: str | None) -> CheckedLine:
    problems: list[Problem] = []
    if len(line) > MAX_ENVELOPE_BYTES:
        problems.append(
            Problem("too_large", "envelope exceeds 65,535 bytes", expected=f"<= {MAX_ENVELOPE_BYTES}", found=len(line))
        )
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem("not_utf8", "line is not valid UTF-8", expected="UTF-8", found=f"byte {exc.start}: {exc.reason}")
        )
        return CheckedLine(None, problems)
    deep = depth_of_text(text, MAX_EVENT_DEPTH)  # before anything parses or walks it recursively
    if deep is not None:
        problems.append(
            Problem(
                "too_deep",
                f"line nests deeper than {MAX_EVENT_DEPTH} levels (the verifier's limit; an envelope nests a few)",
                expected=f"<= {MAX_EVENT_DEPTH} levels",
                found=f"{deep.depth:,} levels",
            )
        )
        return CheckedLine(None, problems)
    float_free = True
    try:
        try:
            value = _loads(text)
        except _FloatFound:  # parse again, keeping the floats, to name them (the line may still not be JSON)
            float_free = False
            value = json.loads(text)
    except ValueError as exc:
        problems.append(Problem("not_json", "line is not JSON", expected="one JSON object", found=str(exc)))
        return CheckedLine(None, problems)
    if not isinstance(value, dict):
        problems.append(Problem("not_object", "line is not a JSON object", expected="object", found=_type_name(value)))
        return CheckedLine(None, problems)
    if not float_free:
        paths = list(find_floats(value))
        problems.append(
            Problem(
                "float",
                "floats are not allowed (money is integer kopiyky)",
                expected="integers only",
                found=", ".join(paths[:10]),
            )
        )
    if not is_canonical(line, value):
        try:
            canon = rfc8785.dumps(value)
        except rfc8785.CanonicalizationError as exc:
            problems.append(
                Problem("not_canonical", "line cannot be canonicalised (RFC 8785)", expected="JCS", found=str(exc))
            )
        else:
            at = _first_difference(canon, line)
            problems.append(
                Problem(
                    "not_canonical",
                    f"line is not its RFC 8785 (JCS) serialisation (first difference at byte {at})",
                    expected=canon[max(0, at - 20) : at + 40].decode("utf-8", "replace"),
                    found=line[max(0, at - 20) : at + 40].decode("utf-8", "replace"),
                )
            )
    problems.extend(check_event_object(value, origin))
    return CheckedLine(value, problems)


#: Streams whose last version stays in memory (about 120 bytes each: ~30 MiB) before the least recently written
#: half is spilled to the scratch file: a log with this many streams reaches its peak memory here already, so memory
#: does not grow further with the log. Lower bounds memory more tightly at the price of disk reads for streams
#: that come back after being spilled (a 1e6-event log of 150k streams with a 65k bound read 300k times).
MAX_STREAMS_IN_MEMORY = 262_144


class StreamVersions:
    """Last version seen per stream. Kept in a dict up to ``max_in_memory`` streams (the least recently written
    half then goes to a :class:`~verifier.spill.DiskTable`), so memory stays bounded however many streams the log
    has. ``_mem`` is read directly by :meth:`SequenceChecker.check_valid` (the fast path)."""

    def __init__(self, max_in_memory: int = MAX_STREAMS_IN_MEMORY, file: ScratchFile | None = None) -> None:
        self._mem: dict[str, int] = {}
        self._max = max_in_memory
        self._file = ScratchFile("hromada-verify-", "streams.db") if file is None else file
        self._disk = DiskTable(self._file, "s", "INTEGER NOT NULL")
        self.expected_streams = 0  # a bound on the streams to come, if known (the log's size): sizes the filter

    def get(self, stream: str) -> int:
        v = self._mem.get(stream)
        if v is not None:
            return v
        v = self._disk.get(stream)
        return 0 if v is ABSENT else int(v)

    def set(self, stream: str, version: int) -> None:
        mem = self._mem
        if mem.pop(stream, None) is None and len(mem) >= self._max:
            self._spill()
        mem[stream] = version  # (re)inserted last: the dict's order is least recently written first

    def _spill(self) -> None:
        disk = self._disk
        if not disk.exists:
            bits = 1 << 20
            while bits < min(8 * self.expected_streams, 1 << 27):  # sized once (~1 byte per stream), not regrown
                bits <<= 1
            disk.filter_bits = bits
        out = list(itertools.islice(self._mem.items(), max(1, len(self._mem) // 2)))  # least recently written half
        disk.write(out)
        for k, _ in out:
            del self._mem[k]

    def persist(self) -> None:
        """Write every version held in memory to the file and empty the dict (the monitor's rule state)."""
        if self._mem:
            self._disk.write(list(self._mem.items()))
            self._mem.clear()

    @property
    def spilled(self) -> bool:
        return self._disk.exists

    def close(self) -> None:
        self._file.close()


class SequenceChecker:
    """Order checks across lines: gapless versions per stream from 1; ``time`` never goes backwards."""

    def __init__(self, max_streams_in_memory: int = MAX_STREAMS_IN_MEMORY, file: ScratchFile | None = None) -> None:
        self.versions = StreamVersions(max_streams_in_memory, file)
        self.last_time: str | None = None
        self.last_time_index: int | None = None

    def check_valid(self, index: int, stream: str, version: int, etime: str) -> list[Problem] | None:
        """Fast path for an envelope that passed every stateless check. None when all is in order."""
        versions = self.versions
        last = versions._mem.get(stream)
        if last is None:
            last = versions.get(stream)
        if version == last + 1:
            versions.set(stream, version)
            if self.last_time is None or etime >= self.last_time:
                self.last_time = etime
                self.last_time_index = index
                return None
        return self.check(index, {"stream": stream, "version": version, "time": etime}, _known_last=last)

    def check(self, index: int, event: dict[str, Any], _known_last: int | None = None) -> list[Problem]:
        """Order checks for any parsed envelope (fields that are missing or malformed are skipped)."""
        problems: list[Problem] = []
        stream = event.get("stream")
        version = event.get("version")
        if (
            isinstance(stream, str)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and _UUID_RE.match(stream) is not None
        ):
            last = self.versions.get(stream) if _known_last is None else _known_last
            if version != last + 1:
                if version > last + 1:
                    code, msg = "version_gap", f"version gap in stream {stream}: events missing before this one"
                else:
                    code, msg = (
                        "version_order",
                        f"version repeats or goes backwards in stream {stream} (duplicate or reordered event)",
                    )
                problems.append(Problem(code, msg, expected=last + 1, found=version))
            if version > last:
                self.versions.set(stream, version)
        etime = event.get("time")
        if isinstance(etime, str) and _TIME_RE.match(etime) is not None:
            # Fixed-width RFC 3339 UTC strings sort exactly like the instants they name.
            if self.last_time is not None and etime < self.last_time:
                problems.append(
                    Problem(
                        "time_backwards",
                        f"time goes backwards in log order (previous maximum at event #{self.last_time_index})",
                        expected=f">= {self.last_time}",
                        found=etime,
                    )
                )
            else:
                self.last_time = etime
                self.last_time_index = index
        return problems

    def close(self) -> None:
        self.versions.close()
