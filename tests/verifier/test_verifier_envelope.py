"""verifier.envelope: field rules, the uuid5 rule, and the fast canonical path's equivalence with rfc8785."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
import rfc8785

from tests.verifier import factory
from verifier import envelope as E

ORIGIN = factory.ORIGIN


def good() -> dict[str, Any]:
    return next(iter(factory.generate_events(1)))


def codes(line: bytes, origin: str | None = ORIGIN) -> set[str]:
    return {p.code for p in E.check_line(line, origin).problems}


def test_event_id_for_is_uuid5() -> None:
    rng = random.Random(1)
    for _ in range(500):
        stream = str(uuid.UUID(int=rng.getrandbits(128)))
        version = rng.randrange(1, 10**9)
        assert E.event_id_for(stream, version) == str(uuid.uuid5(uuid.UUID(stream), str(version)))


def test_string_escapes_agree_with_rfc8785_over_the_whole_bmp() -> None:
    """The fast path's premise: for BMP strings, json.dumps(ensure_ascii=False) escapes exactly like JCS."""
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(chars), 512):
        chunk = chars[i : i + 512]
        for c in chunk:
            assert E._dumps_fast(c).encode() == rfc8785.dumps(c), hex(ord(c))
        joined = "".join(chunk)
        assert E._dumps_fast(joined).encode() == rfc8785.dumps(joined)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 1, 2**53 - 1, -(2**53) + 1, 10**15 - 1, rng.randrange(-(10**12), 10**12)])
    if kind in (2, 3):
        alphabet = 'aZ09 "\\/\n\t\x00\x1f\x7fїЄ€\ue000\uffff\u2028\U0001f333\U00010000'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8)))
    if kind == 4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["a", "b", "B", "é", "\ue000", "\U0001f333", "\U00010000", "10", "1", "", "aa"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_fast_path_accepts_exactly_what_rfc8785_accepts() -> None:
    """Random values (astral keys that sort differently in UTF-16, control characters, edge integers):
    check_line's verdict on canonical form equals comparing with rfc8785.dumps; and mutated serialisations
    (python's default json, sorted by code point, spaces) are rejected exactly when rfc8785 differs."""
    rng = random.Random(5)
    for _ in range(3000):
        event = good()
        event["data"] = {"v": _random_value(rng)}
        canonical = rfc8785.dumps(event)
        assert "not_canonical" not in codes(canonical)
        for variant in (
            json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(),
            json.dumps(event, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode(),
            json.dumps(event, ensure_ascii=False, sort_keys=True).encode(),
        ):
            try:
                variant_ok = rfc8785.dumps(json.loads(variant)) == variant
            except rfc8785.CanonicalizationError:
                variant_ok = False
            assert ("not_canonical" not in codes(variant)) is variant_ok


def test_astral_keys_sort_by_utf16() -> None:
    event = good()
    event["data"] = {"\U0001f333": 1, "\ue000": 2}
    canonical = rfc8785.dumps(event)
    assert canonical.index("\ue000".encode()) > canonical.index("\U0001f333".encode())  # UTF-16 order
    assert codes(canonical) == set()
    python_order = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert python_order != canonical
    assert "not_canonical" in codes(python_order)


def test_good_line_has_no_problems() -> None:
    assert E.check_line(rfc8785.dumps(good()), ORIGIN).problems == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda e: e.update(extra=1), "extra_field"),
        (lambda e: e.pop("actor"), "missing_field"),
        (lambda e: e.update(version="1"), "field_type"),
        (lambda e: e.update(version=True), "field_type"),
        (lambda e: e.update(format=3), "format_version"),
        (lambda e: e.update(log="other.example/log"), "log_mismatch"),
        (lambda e: e.update(id=str(uuid.uuid4())), "id_mismatch"),
        (lambda e: e.update(id=e["id"].upper()), "id_format"),
        (lambda e: e.update(stream="not-a-uuid"), "stream_format"),
        (lambda e: e.update(version=0), "version_range"),
        (lambda e: e.update(type="Petition Signed"), "type_format"),
        (lambda e: e.update(time="2026-11-23T12:00:00Z"), "time_format"),
        (lambda e: e.update(time="2026-11-23T12:00:00.123456+00:00"), "time_format"),
        (lambda e: e.update(time="2026-13-23T12:00:00.123456Z"), "time_format"),
        (lambda e: e.update(actor={"kind": "mayor", "id": "x"}), "actor_kind"),
        (lambda e: e.update(actor={"kind": "service", "id": "x", "name": "Ivan"}), "actor_fields"),
        (lambda e: e.update(actor={"kind": "service", "id": 5}), "actor_id_type"),
        (lambda e: e.update(data=[]), "field_type"),
        (lambda e: e["data"].update(big=2**53), "not_canonical"),
    ],
)
def test_field_rules(change: Any, code: str) -> None:
    event = good()
    change(event)
    line = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert code in codes(line)


def test_floats_anywhere_are_rejected_with_their_path() -> None:
    event = good()
    event["data"]["nested"] = [{"amount": 12.5}]
    line = rfc8785.dumps(event)
    checked = E.check_line(line, ORIGIN)
    floats = [p for p in checked.problems if p.code == "float"]
    assert floats and "$.data.nested[0].amount" in floats[0].found
    assert "float" in codes(line.replace(b'"format":1', b'"format":1.0'))
    assert "float" in codes(line.replace(b'"format":1', b'"format":NaN'))


def test_not_utf8_not_json_not_object_too_large() -> None:
    assert codes(b'{"a":"\xff"}') == {"not_utf8"}
    assert codes(b"{nope") == {"not_json"}
    assert codes(b"") == {"not_json"}
    assert codes(b"[1]") == {"not_object"}
    event = good()
    event["data"]["blob"] = "x" * 70000
    assert "too_large" in codes(rfc8785.dumps(event))


def test_duplicate_keys_are_not_canonical() -> None:
    line = rfc8785.dumps(good())
    dup = line.replace(b'{"actor"', b'{"actor":{"id":"a","kind":"system"},"actor"', 1)
    assert "not_canonical" in codes(dup)


def test_whitespace_and_crlf_are_not_canonical() -> None:
    line = rfc8785.dumps(good())
    assert "not_canonical" in codes(line + b"\r")
    assert "not_canonical" in codes(b" " + line)
    assert "not_canonical" in codes(line.replace(b'":', b'": ', 1))


def test_sequence_checker_gap_order_and_time() -> None:
    seq = E.SequenceChecker()
    s = str(uuid.uuid4())
    assert seq.check_valid(0, s, 1, "2026-01-01T00:00:00.000001Z") is None
    gap = seq.check_valid(1, s, 3, "2026-01-01T00:00:00.000002Z")
    assert gap is not None and gap[0].code == "version_gap" and (gap[0].expected, gap[0].found) == (2, 3)
    back = seq.check_valid(2, s, 2, "2026-01-01T00:00:00.000003Z")
    assert back is not None and back[0].code == "version_order"
    t = seq.check_valid(3, s, 4, "2025-01-01T00:00:00.000000Z")
    assert t is not None and [p.code for p in t] == ["time_backwards"]


def test_stream_versions_spill_to_disk() -> None:
    versions = E.StreamVersions(max_in_memory=10)
    for i in range(100):
        versions.set(f"s{i}", i + 1)
    assert versions.spilled
    assert all(versions.get(f"s{i}") == i + 1 for i in range(100))
    assert versions.get("unknown") == 0
    versions.close()


def test_stream_versions_keep_the_recently_written_half_and_update_spilled_streams() -> None:
    versions = E.StreamVersions(max_in_memory=8)
    for i in range(8):
        versions.set(f"s{i}", 1)
    versions.set("s0", 2)  # rewritten: now the most recent
    versions.set("s8", 1)  # full: the least recently written half (s1..s4) goes to disk
    assert versions.spilled and set(versions._mem) == {"s5", "s6", "s7", "s0", "s8"}
    versions.set("s1", 2)  # a spilled stream comes back with a newer version...
    for i in range(9, 30):  # ...and is spilled again, over its older row
        versions.set(f"s{i}", 1)
    assert versions.get("s1") == 2 and versions.get("s0") == 2 and versions.get("s2") == 1
    assert all(versions.get(f"s{i}") == 1 for i in range(2, 30))
    versions.close()


def _mutations(rng: random.Random, line: str) -> list[str]:
    """Small edits of a canonical line: characters swapped in, dropped or doubled anywhere, and targeted edits
    of the fields the structural path matches by pattern."""
    out = []
    alphabet = '0123456789abcdefABCDEF-:."\\{},[] \x00\x1fzї\U0001f333'
    for _ in range(12):
        i = rng.randrange(len(line))
        c = rng.choice(alphabet)
        out += [line[:i] + c + line[i + 1 :], line[:i] + line[i + 1 :], line[:i] + c + line[i:]]
    for old, new in (
        ('"format":1', '"format":01'),
        ('"format":1', '"format":2'),
        ('"version":1}', '"version":01}'),
        ('"version":1}', '"version":0}'),
        ('"version":1}', '"version":1000000000000000}'),
        ('"version":1}', '"version":999999999999999}'),
        ('"kind":"', '"kind":"x'),
        ("T", "t"),
        ("Z", "z"),
        ('"data":{', '"data":{"a":1,'),
        ('"data":{', '"data":{"zz":1.5,'),
        ('"data":{', '"data":{"zz":12345678901234567,'),
        ('"data":{', '"data":{"a":1,"a":1,'),
        ('"data":{', '"data":{"\\u00e9":"\\u00e9",'),
        ('"id":"', '"id":"\\u0061'),
        ("}", " }"),
    ):
        out.append(line.replace(old, new, 1))
    return out


@pytest.mark.parametrize("origin", [ORIGIN, None, "other.example/log"])
def test_structural_path_accepts_only_what_the_general_path_accepts(origin: str | None) -> None:
    """The structural path (only ``data`` parsed) returns an envelope only for a line the general fast path also
    accepts, and then the very same value; on canonical lines it is the path taken."""
    rng = random.Random(11)
    taken = 0
    for i, event in enumerate(factory.generate_events(300)):
        if i % 3 == 0:
            event["actor"] = {"kind": "citizen", "id": rng.choice(["cit:v1:é€", 'a"b', "a\\b", "\x7f", "", "x\ue000"])}
        if i % 5 == 0:
            event["data"] = {"v": _random_value(rng), "w": [1, {"b": None, "a": "\n"}]}
        line = rfc8785.dumps(event).decode()
        for text in [line, *_mutations(rng, line)]:
            raw = text.encode()
            value = E._structural(text, origin) if len(raw) <= E.MAX_ENVELOPE_BYTES else None
            general = E._check_line_general(raw, text, origin)
            if value is not None:
                assert general.problems == [], text
                assert value == general.event and list(value) == list(general.event or {}), text
                assert E.parse_accepted(raw, origin) == value
                taken += text == line
            elif text == line and not general.problems:
                assert rng is not None  # a canonical line the pattern does not cover (e.g. an escaped actor id)
            if not general.problems:
                assert E.parse_accepted(raw, origin) == general.event
            assert E.check_line(raw, origin).problems == ([] if not general.problems else general.problems)
    assert taken >= 150 if origin in (ORIGIN, None) else taken == 0


def test_a_float_before_broken_json_is_not_json() -> None:
    line = rfc8785.dumps(good()).replace(b'"data":{', b'"data":{"a":1.5 "b":1,', 1)
    assert codes(line) == {"not_json"}
