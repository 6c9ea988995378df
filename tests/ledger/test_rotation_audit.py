"""A city's ledger rotates its log key mid-life and the independent verifier, pinned to the ORIGINAL key only,
follows the hand-over (docs/formats.md §3 "Key hand-over", docs/audit.md): the bundle audits clean, and a receipt
proved into a checkpoint of the new key checks once it is given the hand-over, and is refused without it or with a
broken chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from hromada.demo import Demo
from ledger import note
from ledger.config import Settings
from ledger.export import write_bundle
from ledger.keychain import handovers, sign_handover
from ledger.keys import generate_signer_file
from ledger.receipts import build_receipt
from ledger.runtime import Ledger
from verifier.audit import run_audit
from verifier.errors import VerificationError
from verifier.note import parse_verifier_key
from verifier.receipt import verify_receipt


@pytest.fixture
def rotated(tmp_path: Path) -> Iterator[tuple[Ledger, str, str]]:
    """A city with its services and a kindergarten queue, the key rotated, then the housing queue written under
    the new key. Yields the ledger, the original verifier key and the hand-over note."""
    with Ledger(Settings(data_dir=tmp_path / "data")) as ledger:
        demo = Demo(ledger, events=200, seed=5)
        demo.register_services()
        demo.publish_statutes()
        demo.kindergarten()
        original = ledger.signer.verifier_key
        handover, _ = ledger.rotate_key(generate_signer_file(tmp_path / "new.key", ledger.settings.origin))
        demo.housing()
        demo.checkpoint()
        yield ledger, original, handover.note


def last_event_receipt(ledger: Ledger) -> dict[str, Any]:
    last = list(ledger.app.recorder.select_notifications(start=1, limit=100_000))[-1]
    event_id = UUID(json.loads(last.state)["id"])
    with ledger.engine.connect() as conn:
        return build_receipt(conn, events_table=ledger.integrator.events.name, event_id=event_id)


def test_bundle_of_a_rotated_log_audits_clean_with_only_the_original_key(
    rotated: tuple[Ledger, str, str], tmp_path: Path
) -> None:
    ledger, original, _ = rotated
    assert ledger.signer.verifier_key != original
    out = tmp_path / "bundle"
    size = write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ledger.settings.origin,
        verifier_key=ledger.signer.verifier_key,  # what the CLI and the API pass: the current key
        out=out,
        rule_sets=ledger.rule_sets(),
        state=ledger.published_state,
    )
    assert json.loads((out / "log.json").read_text())["verifier_key"] == original  # the chain's root
    with ledger.engine.connect() as conn:
        [h] = handovers(conn)
    assert (out / "checkpoints" / h.file_name).read_text() == h.note
    assert h.tree_size < size
    report = run_audit(out, parse_verifier_key(original), offline=True)
    assert report.verified, [f.describe() for f in report.findings()]
    step2 = next(s for s in report.steps if s.number == 2)
    assert step2.stats["key_chain"] == [original, ledger.signer.verifier_key]


def test_receipt_needs_the_chain_and_refuses_a_broken_one(rotated: tuple[Ledger, str, str], tmp_path: Path) -> None:
    ledger, original, handover_note = rotated
    receipt = last_event_receipt(ledger)
    pinned = parse_verifier_key(original)
    with pytest.raises(VerificationError) as no_chain:
        verify_receipt(receipt, pinned, offline=True)
    assert no_chain.value.code == "note_not_signed_by_trusted_key"

    report = verify_receipt(receipt, pinned, offline=True, handovers=[("handover", handover_note.encode())])
    assert report.log_key is not None and str(report.log_key) == ledger.signer.verifier_key
    assert "through 1 hand-over" in report.checks[0].detail

    # a hand-over to the same new key signed by another key than the pinned one: the chain does not follow it
    with ledger.engine.connect() as conn:
        [h] = handovers(conn)
    mallory = note.generate_signer(ledger.settings.origin)
    new = note.parse_signer_key((tmp_path / "new.key").read_text().strip())
    size, root = h.tree_size, note.parse_checkpoint(note.parse_note(h.note)[0]).root
    forged = sign_handover(ledger.settings.origin, size, root, mallory, new)
    with pytest.raises(VerificationError) as broken:
        verify_receipt(receipt, pinned, offline=True, handovers=[("forged", forged.encode())])
    assert broken.value.code == "key_handover_invalid"

    # the retired key signing the receipt's checkpoint (after the hand-over): not the log's key at that size
    retired = note.parse_signer_key(
        next(p for p in (tmp_path / "data").iterdir() if p.name.startswith("log.key.retired-")).read_text().strip()
    )
    text = note.parse_note(receipt["checkpoint"])[0]
    stale = {**receipt, "checkpoint": note.sign_note(text, retired)}
    with pytest.raises(VerificationError) as old_key:
        verify_receipt(stale, pinned, offline=True, handovers=[("handover", handover_note.encode())])
    assert old_key.value.code == "checkpoint_key_not_current"


def test_a_rotated_ledger_url_audits_with_the_original_key_and_the_handover(
    rotated: tuple[Ledger, str, str], tmp_path: Path
) -> None:
    """GET /v1/log names the current key and GET /checkpoint is signed by it: `hromada-verify audit URL` with the
    original key pinned follows the hand-overs the ledger lists (GET /v1/log/handovers) and passes; a ledger that
    lists none fails, unless the auditor has the hand-over itself (`--checkpoint`)."""
    from typer.testing import CliRunner

    from api.app import create_app
    from api.settings import ApiSettings
    from ledger.db.schema import log_key_handovers
    from tests.ports import free_port
    from tests.witness.servers import serve_in_thread
    from verifier.cli import app as verify_cli

    ledger, original, handover_note = rotated
    with serve_in_thread(create_app(ledger, settings=ApiSettings()), free_port()) as url:
        (tmp_path / "handover").write_text(handover_note)
        runner = CliRunner()
        base = ["audit", url, "--key", original, "--offline", "--json"]
        listed = runner.invoke(verify_cli, base)
        assert listed.exit_code == 0, listed.output
        report = json.loads(listed.output)
        step2 = next(s for s in report["steps"] if s["number"] == 2)
        assert step2["stats"]["key_chain"] == [original, ledger.signer.verifier_key]
        with ledger.engine.begin() as conn:  # a ledger that no longer lists its hand-over
            conn.execute(log_key_handovers.delete())
        without = runner.invoke(verify_cli, base)
        assert without.exit_code == 1, without.output
        assert "note_not_signed_by_trusted_key" in without.output
        with_chain = runner.invoke(verify_cli, [*base, "--checkpoint", str(tmp_path / "handover")])
        assert with_chain.exit_code == 0, with_chain.output
        assert json.loads(with_chain.output)["verified"] is True
