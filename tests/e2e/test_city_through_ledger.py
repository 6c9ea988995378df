"""End to end through the real ledger (SQLite and PostgreSQL): a petition, a participatory budget, a
kindergarten queue and a housing register, verified by the independent verifier after each phase."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from domain.identity import Actor
from hromada.demo import Demo
from ledger.config import Settings
from ledger.export import write_bundle
from ledger.runtime import Ledger
from tests.merkle.reference import mth
from verifier.audit import Status, run_audit
from verifier.note import parse_verifier_key


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(Settings(data_dir=tmp_path / "data", database_url=database_url)) as ledger:
        yield ledger


def export_and_audit(ledger: Ledger, out: Path) -> dict[str, object]:
    ledger.integrate_and_checkpoint()
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
    assert {s.number: s.status for s in report.steps}[1] is Status.PASSED
    assert {s.number: s.status for s in report.steps}[2] is Status.PASSED
    return json.loads((out / "state.json").read_text())


def test_every_phase_is_in_the_log_and_verifies(ledger: Ledger, tmp_path: Path) -> None:
    demo = Demo(ledger, events=400, seed=7)
    demo.register_services()
    phases = [
        ("statutes", demo.publish_statutes),
        ("petitions", demo.petitions),
        ("ballot", demo.budget_ballot),
        ("kindergarten", demo.kindergarten),
        ("housing", demo.housing),
        ("expiry", demo.close_expired),
    ]
    for n, (name, phase) in enumerate(phases):
        phase()
        state = export_and_audit(ledger, tmp_path / f"bundle-{n}-{name}")
        entries = [r.state for r in ledger.app.recorder.select_notifications(start=1, limit=100_000)]
        st = ledger.status()
        assert st.tree_size == len(entries) and st.root == mth(entries)  # every event is a leaf, in commit order
        assert st.checkpoint is not None and st.checkpoint.tree_size == st.tree_size
    types = [json.loads(e)["type"] for e in entries]
    for t in (
        "petition.threshold_reached", "petition.responded", "petition.rejected", "ballot.vote_changed",
        "ballot.closed", "kindergarten.benefit_granted", "kindergarten.offer_declined", "kindergarten.offer_accepted",
        "kindergarten.entry_withdrawn", "housing.list_included", "housing.removal_proposed", "housing.entry_removed",
    ):  # fmt: skip
        assert t in types, t
    ballot = demo.report.ids["ballot"]
    assert state["ballots"][ballot["id"]]["tally"] == ballot["tally"]


def test_erasing_personal_data_leaves_the_log_verifiable(ledger: Ledger, tmp_path: Path) -> None:
    demo = Demo(ledger, events=250, seed=3)
    demo.register_services()
    demo.kindergarten()
    before = export_and_audit(ledger, tmp_path / "before")
    app = demo.app
    queue = app.get_kindergarten_queue(UUID(demo.report.ids["kindergarten"]))
    entry = next(iter(queue.state["entries"]))
    subject = app.kindergarten_subject(entry)
    assert ledger.vault_store is not None and ledger.vault_store.get(f"dk/{subject}") is not None
    app.erase_personal_data(subject, by=Actor.system("operator"), reason="subject_request", at=demo.clock.tick(60))
    assert ledger.vault_store is not None and ledger.vault_store.get(f"dk/{subject}") is None
    after = export_and_audit(ledger, tmp_path / "after")  # audits clean, with the erasure recorded
    assert after == before  # the published state does not change
    old = (tmp_path / "before" / "events.jsonl").read_bytes()
    new = (tmp_path / "after" / "events.jsonl").read_bytes()
    assert new.startswith(old)  # the earlier events are byte for byte the same
    [erased] = [json.loads(line) for line in new[len(old) :].splitlines()]
    assert erased["type"] == "personal_data.erased"
    assert erased["data"] == {"subject": subject, "reason": "subject_request"}
