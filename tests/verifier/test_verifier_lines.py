"""The block-reading line splitter (verifier.bundle.iter_event_lines) against the readline reference."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import IO

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.bundle import Oversize, Unterminated, iter_event_lines


def reference_lines(f: IO[bytes], max_len: int) -> Iterator[bytes | Unterminated | Oversize]:
    """The previous implementation: one ``readline(max_len + 2)`` per line."""
    limit = max_len + 2
    readline = f.readline
    while True:
        chunk = readline(limit)
        if not chunk:
            return
        if chunk[-1:] == b"\n":
            yield chunk[:-1]
            continue
        if len(chunk) < limit:
            yield Unterminated(chunk)
            return
        h = hashlib.sha256(b"\x00")
        h.update(chunk)
        n = len(chunk)
        terminated = False
        while True:
            more = readline(1 << 20)
            if not more:
                break
            if more[-1:] == b"\n":
                h.update(more[:-1])
                n += len(more) - 1
                terminated = True
                break
            h.update(more)
            n += len(more)
        yield Oversize(length=n, leaf_hash=h.digest(), head=chunk[:200], terminated=terminated)
        if not terminated:
            return


def _same(data: bytes, max_len: int, block: int) -> None:
    want = list(reference_lines(io.BytesIO(data), max_len))
    got = list(iter_event_lines(io.BytesIO(data), max_len, block))
    assert got == want


@settings(max_examples=1500)
@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=30),
    st.booleans(),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=1, max_value=50),
)
def test_block_reader_equals_readline(lengths: list[int], final_newline: bool, max_len: int, block: int) -> None:
    lines = [bytes([97 + (i % 26)]) * n for i, n in enumerate(lengths)]
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    _same(data, max_len, block)


def test_edges_exhaustively() -> None:
    for max_len in (0, 1, 3, 5):
        limit = max_len + 2
        for n in range(0, 3 * limit + 2):
            for tail in (b"", b"\n", b"\nxy", b"\nxy\n", b"\n\n"):
                for block in (1, 2, 3, limit - 1 or 1, limit, limit + 1, 7, 1 << 20):
                    _same(b"q" * n + tail, max_len, block)
                    _same(b"ab\n" + b"q" * n + tail, max_len, block)


def test_real_sized_lines() -> None:
    big = b"z" * 70000
    for data in (b"a\n" + big + b"\nb\n", b"a\n" + big, big + b"\n" + big, b"x" * 65536 + b"\n", b"x" * 65537 + b"\n"):
        for block in (1000, 65536, 1 << 20):
            _same(data, 65535, block)


@settings(max_examples=500)
@given(st.lists(st.from_regex(r"[a-z_.0-9A-Z]{0,12}", fullmatch=True), max_size=20))
def test_type_memo_equals_regex(types: list[str]) -> None:
    from verifier.envelope import _TYPE_RE, _valid_type, _valid_types

    for t in [*types, *types, "petition.signed", "petition.signed", "Petition.signed", "a.", ".a", "a..b"]:
        want = _TYPE_RE.match(t) is not None
        assert ((t in _valid_types) or _valid_type(t)) is want
        assert (t in _valid_types) <= want
