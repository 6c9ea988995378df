"""The streaming state.json comparison (verifier/rules/statecmp.py): it finds what the whole-value comparison
finds, reads what ``json.loads`` reads, refuses what it refuses, and holds one aggregate at a time."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.rules.model import first_difference
from verifier.rules.statecmp import (
    SHOW_ROWS,
    LazyArray,
    LazyObject,
    StateTable,
    StateUnreadable,
    first_state_difference,
    flatten,
    materialize,
    read_published,
)
from verifier.spill import ScratchFile


@pytest.fixture
def scratch() -> Iterator[ScratchFile]:
    file = ScratchFile("test-statecmp-", "state.db")
    yield file
    file.close()


def _table(file: ScratchFile, name: str, value: Any) -> StateTable:
    table = StateTable(file, name)
    table.add(flatten(b"", value))
    return table


def _published(file: ScratchFile, name: str, text: bytes) -> StateTable:
    table = StateTable(file, name)
    read_published(io.BytesIO(text), table)
    return table


def _back(table: StateTable) -> Any:
    """The value a table holds, rebuilt from its rows."""
    root = table.root()
    assert root is not None
    rows = list(table.rows())
    return table.value(*rows[0]) if rows[0][1] != 2 else root[1]


_keys = st.sampled_from(["a", "b", "x-y", "é", "k1/2023", "0", "", "a\x00", "a\x01", "😀"])
_scalars = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.5, 1.0, "s", "t", ""]) | st.text(max_size=3)
)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=12
)


def _lazy(value: Any) -> Any:
    """The same value with its containers made lazy (as the rule classes make the long lists)."""
    if isinstance(value, dict):
        return LazyObject((k, _lazy(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return LazyArray(_lazy(v) for v in value)
    return value


@settings(max_examples=400, deadline=None)
@given(_values, _values)
def test_finds_what_the_whole_value_comparison_finds(a: Any, b: Any) -> None:
    file = ScratchFile("test-statecmp-", "state.db")
    try:
        replayed = _table(file, "r", _lazy(a))
        published = _published(file, "p", json.dumps(b, indent=1, ensure_ascii=False).encode())
        assert first_state_difference(replayed, published) == first_difference(a, b)
    finally:
        file.close()


@settings(max_examples=300, deadline=None)
@given(_values)
def test_reads_what_json_loads_reads(value: Any) -> None:
    file = ScratchFile("test-statecmp-", "state.db")
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False).encode()
        assert _back(_published(file, "p", text)) == json.loads(text) == materialize(_lazy(value))
    finally:
        file.close()


def test_duplicate_keys_keep_the_last_as_json_loads_does(scratch: ScratchFile) -> None:
    text = b'{"p": {"a": 1, "b": [2, 3]}, "q": 5, "p": {"c": 3}, "q": {"d": 4}, "b": 1}'
    assert _back(_published(scratch, "p", text)) == json.loads(text) == {"b": 1, "p": {"c": 3}, "q": {"d": 4}}


def test_a_large_container_is_described_not_reproduced(scratch: ScratchFile) -> None:
    big = list(range(SHOW_ROWS + 1))
    replayed = _table(scratch, "r", {"q": big})
    published = _published(scratch, "p", b'{"q": {}}')
    assert first_state_difference(replayed, published) == ("$.q", f"an array of {SHOW_ROWS + 1:,} values", {})


@pytest.mark.parametrize("text", [b"[1, 2]", b"7", b'"x"', b"null", b"false"])
def test_a_top_level_that_is_not_an_object_is_compared_too(scratch: ScratchFile, text: bytes) -> None:
    replayed = _table(scratch, "r", {"petitions": {}})
    published = _published(scratch, "p", text)
    assert first_state_difference(replayed, published) == ("$", {"petitions": {}}, json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not json",
        b'{"a": 1} trailing',
        b'{"a": 1}{"b": 2}',
        b'{"a": {"b": [1, 2}}',
        b'{"a": "\xff"}',  # not UTF-8
        b'{"a": NaN}',  # Python's json reads it; RFC 8259 has no NaN
        b'{"a": 1',
    ],
)
def test_what_is_not_one_json_value_is_unreadable(scratch: ScratchFile, text: bytes) -> None:
    if b"NaN" not in text:
        with pytest.raises(ValueError):
            json.loads(text)  # the whole-value reader refused it too
    with pytest.raises(StateUnreadable):
        read_published(io.BytesIO(text), StateTable(scratch, "p"))


def test_memory_does_not_follow_the_state(scratch: ScratchFile) -> None:
    """One queue whose order holds 100,000 entry ids (~4 MB of state.json): reading and comparing it, the replayed
    side made lazily as the rule classes make it, takes a small fraction of what parsing it whole takes."""
    ids = [f"{n:08x}-0000-5000-8000-000000000000" for n in range(100_000)]
    state = {"kindergarten": {"q": {"k1/2023": ids}}}
    text = json.dumps(state, indent=2).encode()

    tracemalloc.start()
    json.loads(text)
    whole = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    lazy = LazyObject([("kindergarten", LazyObject([("q", LazyObject([("k1/2023", LazyArray(iter(ids)))]))]))])
    replayed = _table(scratch, "r", lazy)
    published = _published(scratch, "p", text)
    assert first_state_difference(replayed, published) is None
    streamed = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert streamed < whole / 5, (streamed, whole)


def test_the_difference_in_a_long_list_is_found_at_its_item(scratch: ScratchFile) -> None:
    ids = [f"e{n}" for n in range(30_000)]
    changed = [*ids[:25_000], ids[25_001], ids[25_000], *ids[25_002:]]
    replayed = _table(scratch, "r", {"kindergarten": {"q": {"k1/2023": ids}}})
    published = _published(scratch, "p", json.dumps({"kindergarten": {"q": {"k1/2023": changed}}}).encode())
    assert first_state_difference(replayed, published) == ('$.kindergarten.q["k1/2023"][25000]', "e25000", "e25001")
