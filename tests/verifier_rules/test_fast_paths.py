"""Fast paths of the rule replay against their slow definitions."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.rules.model import NAMESPACE, stream_id

_parts = st.lists(st.one_of(st.text(max_size=40), st.integers(min_value=-(10**20), max_value=10**20)), max_size=5)


@settings(max_examples=500)
@given(_parts)
def test_stream_id_equals_uuid5(parts: list[str | int]) -> None:
    assert stream_id(*parts) == str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def test_stream_id_every_variant_digit() -> None:
    seen: set[str] = set()
    for n in range(2000):  # covers all 16 values of the digest's variant nibble, with certainty in practice
        parts = ("petition", n, "signature", f"cit:v1:{n:064x}")
        sid = stream_id(*parts)
        assert sid == str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))
        seen.add(sid[19])
    assert seen == set("89ab")
