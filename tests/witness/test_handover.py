"""A witness follows the log's key rotation (docs/formats.md §3, witness/protocol.py): a hand-over signed by the key
it follows and by the key it names is cosigned and moves it to the new key (the retired key's later checkpoints are
refused, the stored size carries over, a restart keeps it); a hand-over not signed by the key it names, or naming
another log's key, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import note
from tests.witness.logs import FakeLog, body
from tests.witness.test_witness import ORIGIN, make_witness, refused
from verifier.note import parse_verifier_key
from witness.keys import WitnessKey, create_key
from witness.protocol import Witness
from witness.state import WitnessState


@pytest.fixture
def key(tmp_path: Path) -> WitnessKey:
    return create_key(tmp_path / "wk", "witness.test.example/w1")


def handover(
    log: FakeLog, size: int, old: note.Signer, new: note.Signer, *, signers: tuple[note.Signer, ...] = ()
) -> str:
    text = note.format_checkpoint(log.origin, size, log.root(size), ["key-handover " + new.verifier_key()])
    return note.sign_note(text, *(signers or (old, new)))


def test_a_hand_over_moves_the_witness_to_the_new_key(tmp_path: Path, key: WitnessKey) -> None:
    log = FakeLog(ORIGIN)
    w = make_witness(tmp_path / "w", key, log)
    w.add_checkpoint(log.add(0, 10))
    old, new = log.signer, note.generate_signer(ORIGIN)
    assert w.add_checkpoint(body(10, [], handover(log, 10, old, new)))
    log.signer = new
    w.add_checkpoint(log.add(10, 20))  # the new key's checkpoint, consistent with what was cosigned
    retired = refused(w, body(20, log.proof(20, 30), log.checkpoint(30, signer=old)))
    assert retired.status == 403
    # a restart, configured with the original key as before: it still follows the new one
    restarted = Witness(key, WitnessState(tmp_path / "w"), {ORIGIN: parse_verifier_key(old.verifier_key())})
    assert restarted.add_checkpoint(log.add(20, 30))
    assert refused(restarted, body(30, log.proof(30, 40), log.checkpoint(40, signer=old))).status == 403


def test_a_hand_over_not_signed_by_the_named_key_or_for_another_log_changes_nothing(
    tmp_path: Path, key: WitnessKey
) -> None:
    log = FakeLog(ORIGIN)
    w = make_witness(tmp_path / "w", key, log)
    w.add_checkpoint(log.add(0, 10))
    old, new = log.signer, note.generate_signer(ORIGIN)
    assert refused(w, body(10, [], handover(log, 10, old, new, signers=(old,)))).status == 403
    foreign = note.generate_signer("another.example/log")
    assert refused(w, body(10, [], handover(log, 10, old, foreign))).status == 403
    log.signer = new
    assert refused(w, log.add(10, 20)).status == 403  # still following the old key
    log.signer = old
    assert w.add_checkpoint(log.add(10, 20))


def test_a_hand_over_signed_by_the_new_key_only_is_refused(tmp_path: Path, key: WitnessKey) -> None:
    log = FakeLog(ORIGIN)
    w: Witness = make_witness(tmp_path / "w", key, log)
    w.add_checkpoint(log.add(0, 10))
    new = note.generate_signer(ORIGIN)
    assert refused(w, body(10, [], handover(log, 10, log.signer, new, signers=(new,)))).status == 403
