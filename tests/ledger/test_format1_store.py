"""A store written before the kindergarten rename (envelope format 1, ``queue.*``) still loads, folds and audits,
and the events written to it afterwards are format 2 (``kindergarten.*``), in the same streams (docs/formats.md §1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

import ledger.envelope as envelope
from hromada.demo import EDU, Demo
from ledger.config import Settings
from ledger.export import write_bundle
from ledger.runtime import Ledger
from verifier.audit import run_audit
from verifier.note import parse_verifier_key

_BUILD = envelope.build_envelope


def format_1_envelope(**kw: Any) -> dict[str, Any]:
    """What the ledger wrote before the rename: format 1, the kindergarten queue's events as ``queue.*``."""
    head, _, suffix = kw["event_type"].partition(".")
    if head == "kindergarten":
        kw["event_type"] = f"queue.{suffix}"
    return _BUILD(**kw, format_version=1)


def rows(ledger: Ledger) -> list[dict[str, Any]]:
    return [json.loads(r.state) for r in ledger.app.recorder.select_notifications(start=1, limit=100_000)]


def audit(ledger: Ledger, out: Path) -> None:
    ledger.integrate_and_checkpoint()
    size = ledger.status().tree_size
    write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ledger.settings.origin,
        verifier_key=ledger.signer.verifier_key,
        out=out,
        state=ledger.published_state,
    )
    report = run_audit(out, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.verified, [f.describe() for f in report.findings()]
    assert json.loads((out / "state.json").read_text()) == ledger.published_state(size)


def test_a_format_1_store_loads_folds_and_takes_format_2_events(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with monkeypatch.context() as old_ledger:
        old_ledger.setattr(envelope, "build_envelope", format_1_envelope)
        with Ledger(settings) as ledger:
            demo = Demo(ledger, events=300, seed=3)
            demo.register_services()
            demo.kindergarten()
            q = UUID(demo.report.ids["kindergarten"])
            ledger.integrate_and_checkpoint()
            before_state = ledger.published_state(ledger.status().tree_size)
            before_queue = ledger.app.get_kindergarten_queue(q).state  # type: ignore[attr-defined]
            old = rows(ledger)
            clock = demo.clock.now
    assert {e["format"] for e in old} == {1}
    kinder = [e["type"] for e in old if e["stream"] == str(q)]
    assert kinder and all(t.startswith("queue.") for t in kinder)
    assert "queue.offer_issued" in kinder and "queue.entry_registered" in kinder
    assert before_state["kindergarten"][str(q)]  # the queue has an order to compare

    with Ledger(settings) as ledger:  # today's ledger on the old store
        app: Any = ledger.app
        assert app.get_kindergarten_queue(q).state == before_queue  # the aggregate loads from format-1 rows
        assert app.projections.public_state() == before_state  # the in-process projections fold them
        assert ledger.published_state(len(old)) == before_state  # the published state folds the stored envelopes
        audit(ledger, tmp_path / "bundle-old")

        waiting = [e for e, st in before_queue["entries"].items() if st["status"] == "waiting"]
        app.grant_benefit(by=EDU, queue_id=q, entry=waiting[0], code="large_family",
                          document={"certificate": "№ 1"}, at=clock)  # fmt: skip
        new = rows(ledger)[len(old) :]
        assert [(e["format"], e["type"]) for e in new] == [(2, "kindergarten.benefit_granted")]
        assert new[0]["stream"] == str(q) and new[0]["version"] == len(kinder) + 1  # same stream, next version
        assert app.get_kindergarten_queue(q).state["entries"][waiting[0]]["benefits"]
        audit(ledger, tmp_path / "bundle-mixed")  # a log holding both formats audits clean
