"""Fast paths of the rule replay against their slow definitions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.rules.model import _PSEUDONYM, NAMESPACE, parse_instant, pseudonym_problem, stream_id

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


def _pseudonym_problem_slow(value: str, kind: str, key: int) -> str | None:
    m = _PSEUDONYM.match(value)
    if m is None or m.group(1) != kind or int(m.group(2)) != key:
        return f"{kind}:v{key}:<64 hex>"
    return None


_hex64 = st.text(alphabet="0123456789abcdefA", min_size=63, max_size=65)


@settings(max_examples=1000)
@given(
    st.sampled_from(["cit", "vot", "chd", "xyz", "ci"]),
    st.one_of(st.integers(min_value=-2, max_value=12), st.sampled_from([10**9 - 1, 10**9, 10**12])),
    st.sampled_from(["cit", "vot", "chd", "cat"]),
    st.sampled_from(["1", "2", "01", "0", "999999999", "1000000000", "٣", "12"]),
    _hex64,
    st.sampled_from(["", "\n", "x"]),
)
def test_pseudonym_problem_equals_the_regex_definition(
    kind: str, key: int, vkind: str, vkey: str, digits: str, tail: str
) -> None:
    value = f"{vkind}:v{vkey}:{digits}{tail}"
    assert pseudonym_problem(value, kind, key) == _pseudonym_problem_slow(value, kind, key)
    exact = f"{kind}:v{key}:{'0a' * 32}"
    assert pseudonym_problem(exact, kind, key) == _pseudonym_problem_slow(exact, kind, key)


@settings(max_examples=1000)
@given(
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,7}[Zz]?", fullmatch=True)
    | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
)
def test_parse_instant_equals_strptime(text: str) -> None:
    try:
        want: datetime | None = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        want = None
    try:
        got: datetime | None = parse_instant(text)
    except ValueError:
        got = None
    assert got == want
