"""No line of events.jsonl beyond the largest tree size a checkpoint signed by the trusted key covers is read:
nothing could authenticate it. A file that goes on (1 GiB of newlines, a line that never ends) costs one more
block, and step 1 says so (``beyond_signed_size``, and ``event_count``)."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier import factory
from tests.verifier.test_verifier_lines import reference_lines
from verifier.audit import run_audit
from verifier.bundle import LineBound, iter_event_lines
from verifier.note import parse_verifier_key


@settings(max_examples=1000)
@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=30),
    st.booleans(),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=0, max_value=35),
)
def test_a_bounded_read_is_the_reference_cut_at_the_bound(
    lengths: list[int], final_newline: bool, max_len: int, block: int, max_lines: int
) -> None:
    data = b"\n".join(bytes([97 + i % 26]) * n for i, n in enumerate(lengths)) + (b"\n" if final_newline else b"")
    want = list(reference_lines(io.BytesIO(data), max_len))
    bound = LineBound(max_lines)
    got = list(iter_event_lines(io.BytesIO(data), max_len, block, bound))
    assert got == want[:max_lines]
    assert bound.exceeded == (len(want) > max_lines)


class Endless(io.RawIOBase):
    """``lines`` short lines, then ``tail`` forever; counts what was read."""

    def __init__(self, lines: int, tail: bytes) -> None:
        self.head = b"x\n" * lines
        self.tail = tail
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = len(buffer)
        data = self.head[:n]
        self.head = self.head[n:]
        if len(data) < n:
            data += (self.tail * (n // len(self.tail) + 1))[: n - len(data)]
        buffer[:n] = data
        self.read_bytes += n
        return n


def test_nothing_is_read_far_beyond_the_bound() -> None:
    for tail in (b"\n", b"y"):  # endless empty lines; one line that never ends
        f = Endless(10, tail)
        bound = LineBound(10)
        assert len(list(iter_event_lines(f, 100, 1 << 16, bound))) == 10  # type: ignore[arg-type]
        assert bound.exceeded
        assert f.read_bytes <= 2 << 16


def test_lines_beyond_the_largest_signed_size_are_a_finding_and_not_read(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=40, checkpoint_sizes=[10, 20, 40])
    with (info.path / "events.jsonl").open("ab") as f:
        f.write(b"\n" * 5_000_000)  # five million empty lines: five million not_json findings, were they read
    report = run_audit(info.path, parse_verifier_key(info.key))
    assert report.events == 40
    beyond = next(f for f in report.findings() if f.code == "beyond_signed_size")
    assert (beyond.step, beyond.index, beyond.found) == (1, 40, "more than 40 lines")
    count = next(f for f in report.findings() if f.code == "event_count")
    assert (count.expected, count.found) == (40, "more than 40")
    assert {f.code for f in report.findings()} == {"beyond_signed_size", "event_count"}


def test_the_bound_is_the_largest_size_signed_by_the_trusted_key(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=40, checkpoint_sizes=[10, 20, 40])
    lines = factory.read_lines(info.path)
    forged = factory.signed_checkpoint(factory.make_signer(tag=b"other"), factory.ORIGIN, 60, factory.mth([b"\0" * 32]))
    (info.path / "checkpoints" / "60").write_text(forged)
    factory.write_lines(info.path, lines + lines[:20])  # 60 lines: the 20 beyond 40 are not authenticated
    report = run_audit(info.path, parse_verifier_key(info.key))
    assert report.events == 40
    assert "beyond_signed_size" in {f.code for f in report.findings()}
    extra = factory.signed_checkpoint(info.signer, factory.ORIGIN, 60, factory.mth(info.leaves + info.leaves[:20]))
    with_note = run_audit(
        info.path, parse_verifier_key(info.key), extra_checkpoints=[("--checkpoint x", extra.encode())]
    )
    assert with_note.events == 60  # a note the auditor holds raises the bound too
    assert "beyond_signed_size" not in {f.code for f in with_note.findings()}


def test_without_a_checkpoint_signed_by_the_key_no_line_is_read(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=40)
    report = run_audit(info.path, parse_verifier_key(factory.make_signer(tag=b"someone else").verifier_key))
    assert report.events == 0
    assert {"beyond_signed_size", "note_not_signed_by_trusted_key"} <= {f.code for f in report.findings()}


def test_the_parallel_line_checks_stop_at_the_bound_too(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=40, checkpoint_sizes=[40])
    with (info.path / "events.jsonl").open("ab") as f:
        f.write(b"\n" * 100_000)
    serial = run_audit(info.path, parse_verifier_key(info.key), workers=1)
    parallel = run_audit(info.path, parse_verifier_key(info.key), workers=2)
    assert serial.events == parallel.events == 40
    assert [f.to_json() for f in serial.findings()] == [f.to_json() for f in parallel.findings()]
