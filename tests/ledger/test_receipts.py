"""Receipts and proofs built by the ledger verify in the independent verifier."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.config import Settings
from ledger.envelope import event_id
from ledger.merkle.append import append_leaves
from ledger.merkle.proof_build import consistency_proof, inclusion_proof
from ledger.merkle.storage import MemoryTileStore
from ledger.merkle.tree import TreeReader
from ledger.receipts import ProofRequestError, ReceiptError, build_receipt, prove_consistency, prove_inclusion
from ledger.runtime import Ledger
from tests.ledger.sample import Note, NotesApp
from verifier import merkle as vmerkle
from verifier.errors import VerificationError
from verifier.note import parse_verifier_key
from verifier.receipt import verify_receipt

ORIGIN = "test.local/receipts"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_every_ledger_proof_verifies_in_the_verifier(size: int, data: st.DataObject) -> None:
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(size)]
    store = MemoryTileStore()
    append_leaves(store, 0, leaves)
    root = TreeReader(store, size).root()
    assert root == vmerkle.root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    vmerkle.verify_inclusion(leaves[index], index, size, inclusion_proof(store, index, size), root)
    old = data.draw(st.integers(min_value=1, max_value=size))
    old_root = TreeReader(store, old).root()
    vmerkle.verify_consistency(old, size, consistency_proof(store, old, size), old_root, root)


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN)
    with Ledger(settings, NotesApp) as ledger:
        yield ledger


def test_receipt_upgrades_from_pending_to_proved_and_verifies(ledger: Ledger) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    notes = [app.write(f"n{i}") for i in range(5)]
    ledger.integrator.integrate_all()
    eid = event_id(notes[3].id, 1)
    with ledger.engine.connect() as conn:
        pending = build_receipt(conn, events_table=ledger.integrator.events.name, event_id=eid)
    assert pending["status"] == "pending" and pending["leaf_index"] == 3 and pending["checkpoint"] is None
    ledger.checkpointer.checkpoint()
    for i in range(4):
        app.write(f"later{i}")
    ledger.integrate_and_checkpoint()
    with ledger.engine.connect() as conn:
        receipt = build_receipt(conn, events_table=ledger.integrator.events.name, event_id=eid)
    assert receipt["status"] == "proved" and receipt["event"]["id"] == str(eid)
    report = verify_receipt(receipt, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.leaf_index == 3
    forged = {**receipt, "event": {**receipt["event"], "data": {"text": "n9"}}, "leaf_hash": None}
    with pytest.raises(VerificationError):
        verify_receipt(forged, parse_verifier_key(ledger.signer.verifier_key), offline=True)


def test_unknown_event_and_unsigned_sizes_are_refused(ledger: Ledger) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    note = app.write("x")
    ledger.integrate_and_checkpoint()
    with ledger.engine.connect() as conn:
        with pytest.raises(ReceiptError):
            build_receipt(conn, events_table=ledger.integrator.events.name, event_id=event_id(note.id, 2))
        assert prove_inclusion(conn, 0, 1) == []
        with pytest.raises(ProofRequestError):
            prove_inclusion(conn, 0, 2)
        with pytest.raises(ProofRequestError):
            prove_consistency(conn, 0, 1)
    assert isinstance(note, Note)
