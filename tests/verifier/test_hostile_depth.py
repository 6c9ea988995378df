"""JSON nested too deep for Python's parsers (or for anything that walks a parsed value recursively) is a finding
in an event line and a refusal in the other JSON the verifier reads whole - measured before anything parses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier import factory
from verifier.anchors import parse_anchors_jsonl
from verifier.audit import run_audit
from verifier.envelope import check_line
from verifier.errors import InputLimitExceeded
from verifier.limits import MAX_EVENT_DEPTH, MAX_JSON_DEPTH, TooDeep, loads_bounded, nesting_depth
from verifier.note import parse_verifier_key
from verifier.parallel import check_chunk as _check_chunk
from verifier.receipt import load_receipt


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def envelope_with_data(data_text: str, stream: str = "6f1c3a52-2d7e-4b8c-9a41-0e5b7c9d2f13") -> bytes:
    """A line of the envelope's exact canonical shape (the structural path) with ``data`` as given."""
    e = factory.envelope(
        factory.ORIGIN, stream, 1, "petition.signed", factory.BASE_TIME, {"kind": "system", "id": "x"}, {}
    )
    text = factory.jcs(e).decode()
    return text.replace('"data":{}', f'"data":{data_text}').encode()


def codes(line: bytes) -> list[str]:
    return [p.code for p in check_line(line, factory.ORIGIN).problems]


@pytest.mark.parametrize("depth", [3000, 32767])
def test_a_line_nested_deeper_than_a_parser_recurses_is_a_finding(depth: int) -> None:
    line = nested(depth).encode()
    checked = check_line(line, factory.ORIGIN)
    assert [p.code for p in checked.problems] == ["too_deep"]
    assert checked.event is None
    assert checked.problems[0].found == f"{depth:,} levels"


def test_objects_nested_as_deep() -> None:
    line = ('{"a":' * 3000 + "1" + "}" * 3000).encode()
    assert codes(line) == ["too_deep"]


def test_depth_is_bounded_on_the_structural_path() -> None:
    """An envelope of the right shape whose data nests 100 levels: Python parses that, the verifier does not."""
    assert codes(envelope_with_data("{}")) == []
    deep = envelope_with_data('{"x":' + nested(100) + "}")
    checked = check_line(deep, factory.ORIGIN)
    assert [p.code for p in checked.problems] == ["too_deep"]
    assert checked.problems[0].found == f"{100 + 2} levels"


def test_the_limit_itself_is_lawful() -> None:
    """Exactly MAX_EVENT_DEPTH levels (the envelope, data, then 62 arrays) is accepted; one more is not."""
    at_limit = envelope_with_data('{"x":' + nested(MAX_EVENT_DEPTH - 2) + "}")
    assert codes(at_limit) == []
    beyond = envelope_with_data('{"x":' + nested(MAX_EVENT_DEPTH - 1) + "}")
    assert codes(beyond) == ["too_deep"]
    brackets_in_strings = envelope_with_data('{"x":"' + "[{" * 200 + '"}')
    assert codes(brackets_in_strings) == []  # brackets in a string nest nothing


def test_depth_is_bounded_on_the_general_and_full_paths() -> None:
    not_canonical = envelope_with_data('{"x": ' + nested(100) + "}")  # a space: not the structural shape
    assert "too_deep" in codes(not_canonical)
    longest = nested(32768).encode()  # 65,536 bytes: one byte too many, still checked (the full path)
    assert codes(longest) == ["too_large", "too_deep"]


def test_the_parallel_line_check_reports_it_too() -> None:
    (result,) = _check_chunk([nested(3000).encode()], factory.ORIGIN)
    assert [p.code for p in result[1]] == ["too_deep"]


def test_an_audit_reports_the_deep_line_and_goes_on(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=40, checkpoint_sizes=[10, 20, 30])
    lines = factory.read_lines(info.path)
    lines[12] = nested(3000).encode()
    factory.write_lines(info.path, lines)
    report = run_audit(info.path, parse_verifier_key(info.key))
    deep = [f for f in report.findings() if f.code == "too_deep"]
    assert [f.index for f in deep] == [12]
    assert report.events == 40
    assert {f.code for f in report.findings()} >= {"too_deep", "root_mismatch"}


def test_log_json_nested_too_deep_is_refused(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=5)
    (info.path / "log.json").write_text(nested(100_000))
    with pytest.raises(InputLimitExceeded, match=r"log\.json: JSON nests deeper than 64 levels") as caught:
        run_audit(info.path, parse_verifier_key(info.key))
    assert caught.value.to_json()["limit"] == "max_json_depth"


def test_an_anchors_jsonl_line_nested_too_deep_is_a_malformed_line() -> None:
    good = json.dumps(
        {
            "tree_size": 1,
            "root": "00" * 32,
            "chain_id": 1,
            "contract": "0x" + "11" * 20,
            "tx": "0x" + "22" * 32,
            "block": 1,
            "block_hash": "0x" + "33" * 32,
        }
    )
    anchors, problems = parse_anchors_jsonl(f"{good}\n{nested(5000)}\n".encode())
    assert len(anchors) == 1
    assert [(line, "nests deeper" in text) for line, text in problems] == [(2, True)]


def test_a_receipt_nested_too_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text('{"event":' + nested(5000) + "}")
    with pytest.raises(InputLimitExceeded, match="nests deeper than"):
        load_receipt(path)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_text = st.text(alphabet=st.sampled_from('ab[]{}"\\\n\u2014:,'), max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=2000)
@given(_json, st.booleans())
def test_the_scanned_depth_is_the_parsed_depth(value: object, ascii_only: bool) -> None:
    """Brackets inside strings (escaped quotes and backslashes too) nest nothing; outside them, each is a level."""
    assert nesting_depth(json.dumps(value, ensure_ascii=ascii_only)) == _depth(value)


def test_the_scan_stops_where_a_parser_fails() -> None:
    assert nesting_depth("]]]" + "[" * 100) == 0  # a parser fails at the first closing bracket
    assert nesting_depth('[[["' + "[" * 100) == 3  # ... and inside a string that never ends
    assert nesting_depth('"' + '\\"' * 30_000) == 0  # linear: that string is scanned once


def test_no_recursive_parser_sees_a_deep_text_even_with_a_raised_recursion_limit() -> None:
    """py_ecc (web3's) sets the recursion limit to 100,000: json's C scanner would then recurse until the C stack
    overflows (a segmentation fault, which the full test run met). The depth is scanned, not parsed."""
    code = (
        "import sys; sys.setrecursionlimit(1_000_000)\n"
        "from verifier.limits import TooDeep, loads_bounded\n"
        "from verifier.envelope import check_line\n"
        "assert [p.code for p in check_line(b'[' * 32767 + b']' * 32767, None).problems] == ['too_deep']\n"
        "try:\n    loads_bounded('[' * 1_000_000)\nexcept TooDeep:\n    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "refused"), done.stderr[-500:]


def test_loads_bounded() -> None:
    assert loads_bounded(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    with pytest.raises(TooDeep):
        loads_bounded(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(TooDeep):
        loads_bounded(nested(10_000))
    assert loads_bounded('"' + "[" * 1000 + '"') == "[" * 1000
    with pytest.raises(ValueError):
        loads_bounded("[1,")
