"""A hostile ``state.json``: nested too deep (each row of the comparison holds its whole path, so rows grow with the
square of the depth: 20,000 levels took 1.8 GiB) or larger than the events it is derived from. Step 4 reports it
without comparing, having read no more than the limit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.verifier import factory
from tests.verifier_rules.builder import History, audit, findings
from verifier.limits import MAX_STATE_DEPTH, STATE_ALLOWANCE
from verifier.rules.statecmp import StateBeyondLimit, StateTable, read_published
from verifier.spill import ScratchFile


def _bundle(tmp_path: Path, state: bytes) -> Path:
    h = History()
    h.city()
    pid = h.petition(threshold=3)
    h.publish(pid)
    h.sign(pid, 1)
    path = h.write(tmp_path / "b")
    (path / "state.json").write_bytes(state)
    return path


@pytest.mark.parametrize(
    "state",
    [b"[" * 20_000 + b"]" * 20_000, b"[" * 100_000 + b"]" * 100_000, b'{"k":' * 20_000 + b"0" + b"}" * 20_000],
    ids=["arrays-20000", "arrays-100000", "objects-20000"],
)
def test_a_state_nested_too_deep_is_reported_not_compared(tmp_path: Path, state: bytes) -> None:
    report = audit(_bundle(tmp_path, state))
    (finding,) = findings(report, 4, "state_beyond_limit")
    assert f"nests deeper than {MAX_STATE_DEPTH} levels" in finding.message
    assert not findings(report, 4, "state_mismatch")


def test_reading_stops_at_the_limit() -> None:
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, n: int | None = -1) -> bytes:
            data = super().read(n)
            Counting.read_bytes += len(data)
            return data

    scratch = ScratchFile("hromada-test-", "state.db")
    try:
        table = StateTable(scratch, "published")
        with pytest.raises(StateBeyondLimit):
            read_published(Counting(b"[" * 10_000_000), table)
        assert Counting.read_bytes < 1 << 20  # one read buffer of the parser, not the 10 MB
        assert len(list(table.rows())) <= MAX_STATE_DEPTH
    finally:
        scratch.close()


def test_the_deepest_lawful_state_is_read() -> None:
    scratch = ScratchFile("hromada-test-", "state.db")
    try:
        table = StateTable(scratch, "published")
        read_published(io.BytesIO(b"[" * MAX_STATE_DEPTH + b"]" * MAX_STATE_DEPTH), table)
        assert len(list(table.rows())) == MAX_STATE_DEPTH
        with pytest.raises(StateBeyondLimit):
            deeper = b"[" * (MAX_STATE_DEPTH + 1) + b"]" * (MAX_STATE_DEPTH + 1)
            read_published(io.BytesIO(deeper), StateTable(scratch, "deeper"))
    finally:
        scratch.close()


def test_a_state_larger_than_the_events_and_a_mebibyte_is_not_read(tmp_path: Path) -> None:
    path = _bundle(tmp_path, b"{}")
    events = (path / "events.jsonl").stat().st_size
    (path / "state.json").write_bytes(b"[" + b"0," * ((events + STATE_ALLOWANCE) // 2) + b"0]")
    (finding,) = findings(audit(path), 4, "state_beyond_limit")
    assert "more than events.jsonl" in finding.message


def test_a_state_within_the_allowance_is_compared(tmp_path: Path) -> None:
    path = _bundle(tmp_path, b"[" + b"0," * 1000 + b"0]")
    report = audit(path)
    assert not findings(report, 4, "state_beyond_limit")
    assert findings(report, 4, "state_mismatch")


def test_a_tar_bundle_gets_the_same_bounds(tmp_path: Path) -> None:
    path = _bundle(tmp_path, b"[" * 20_000 + b"]" * 20_000)
    tar = factory.make_tar(path, tmp_path / "b.tar.gz")
    assert findings(audit(tar), 4, "state_beyond_limit")
