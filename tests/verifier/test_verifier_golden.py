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


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("envelope_petition_signed", 1),
        ("envelope_v1_queue_offer_issued", 1),
        ("envelope_v2_petition_signed", 2),
        ("envelope_v2_kindergarten_offer_issued", 2),
    ],
)
def test_golden_envelope_passes_and_hashes_to_the_golden_leaf(name: str, fmt: int) -> None:
    line = golden(f"{name}.jcs").rstrip(b"\n")
    checked = check_line(line, "kyiv.hromada.example/ledger")
    assert checked.problems == []
    assert f'"format":{fmt},'.encode() in line
    assert leaf_hash(line).hex() == golden(f"{name}.leaf").decode().strip()


def test_golden_kindergarten_envelope_in_the_other_format_is_refused() -> None:
    """The format-2 golden relabelled format 1 (and the format-1 one relabelled 2): ``type_prefix_format``."""
    for name, old, new in (
        ("envelope_v2_kindergarten_offer_issued", b'"format":2,', b'"format":1,'),
        ("envelope_v1_queue_offer_issued", b'"format":1,', b'"format":2,'),
    ):
        line = golden(f"{name}.jcs").rstrip(b"\n").replace(old, new)
        assert [p.code for p in check_line(line, "kyiv.hromada.example/ledger").problems] == ["type_prefix_format"]


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


def test_golden_handover_is_followed_from_the_pinned_key() -> None:
    """tests/golden/checkpoint_handover.txt: the size-8 tree handed over from the x/mod test key to the key in
    checkpoint_handover_new_key.txt; both signed it, and the chain from the pinned key reaches the new one."""
    from verifier.keychain import HANDOVER_PREFIX, follow

    old = parse_verifier_key(golden("note_verifier_key.txt").decode())
    new = parse_verifier_key(golden("checkpoint_handover_new_key.txt").decode())
    note = golden("checkpoint_handover.txt")
    cp = open_checkpoint(note, old)
    assert open_checkpoint(note, new).root == cp.root == open_checkpoint(golden("checkpoint_size8.txt"), old).root
    assert cp.extensions == (HANDOVER_PREFIX + str(new),)
    chain = follow(old, [("golden", note)])
    assert chain.rejected == [] and [k.key for k in chain.keys] == [old, new]
    assert (chain.keys[0].until, chain.keys[1].since) == (8, 8)
