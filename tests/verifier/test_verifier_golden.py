"""The verifier agrees with the ledger's golden files (tests/golden, written by the ledger side) - read as
bytes only, no ledger code imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verifier.vectors import load
from verifier.envelope import check_line
from verifier.merkle import leaf_hash
from verifier.note import open_checkpoint, open_note, parse_verifier_key

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def golden(name: str) -> bytes:
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"golden file {name} not present")
    return path.read_bytes()


def test_golden_envelope_passes_and_hashes_to_the_golden_leaf() -> None:
    line = golden("envelope_petition_signed.jcs").rstrip(b"\n")
    checked = check_line(line, "kyiv.hromada.example/ledger")
    assert checked.problems == []
    assert leaf_hash(line).hex() == golden("envelope_petition_signed.leaf").decode().strip()


@pytest.mark.parametrize("size", [0, 1, 8, 130])
def test_golden_checkpoints_verify(size: int) -> None:
    key = parse_verifier_key(golden("note_verifier_key.txt").decode())
    cp = open_checkpoint(golden(f"checkpoint_size{size}.txt"), key)
    assert cp.size == size and cp.origin == key.name
    rfc = load("rfc6962.json")
    candidates = {rfc["roots"].get(str(size)), rfc["accumulated_subtree_vectors"]["roots_by_size"].get(str(size))}
    assert cp.root.hex() in candidates


def test_golden_note() -> None:
    key = parse_verifier_key(golden("note_verifier_key.txt").decode())
    assert open_note(golden("note_peterneumann.txt"), [key]).verified
