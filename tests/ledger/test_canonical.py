"""The envelope's fast JCS path produces exactly the bytes of the `rfc8785` package."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import MAX_SAFE_INTEGER, canonical_bytes, event_id_bytes

json_native = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=1500)
@given(json_native)
def test_fast_path_equals_rfc8785(value: Any) -> None:
    assert canonical_bytes({"v": value}) == rfc8785.dumps({"v": value})


def test_astral_keys_sort_by_utf16_like_rfc8785() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}  # U+1F600 sorts before U+FB01 in UTF-16, after it by code point
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes(value).index("\U0001f600".encode()) < canonical_bytes(value).index("\ufb01".encode())


def test_control_characters_escape_like_rfc8785() -> None:
    value = {"s": "".join(chr(i) for i in range(0x20)) + '"\\\x7f\u2028'}
    assert canonical_bytes(value) == rfc8785.dumps(value)


@given(st.uuids(), st.integers(min_value=1, max_value=2**53))
def test_fast_event_id_equals_uuid5(stream: UUID, version: int) -> None:
    assert UUID(bytes=event_id_bytes(stream.bytes, version)) == uuid5(stream, str(version))
