"""Erasures of personal data (issue #15) through the REAL ledger: the domain records `personal_data.erased` and then
shreds the vault subject, the bundle still audits clean, and a rogue operator who writes a lawless erasure straight
into the events table is named by step 4 (the tamper cases of ``erasure_*`` in verifier/codes.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.identity import Actor
from hromada.demo import Demo
from ledger.runtime import Ledger
from tests.verifier_rules.test_ledger_tamper import append_lawless, city, export_and_audit, findings
from verifier.rules.model import stream_id

__all__ = ["city"]  # the fixture, shared with the ledger tamper cases

OPERATOR = Actor.system("operator")


def entries(demo: Demo) -> list[str]:
    """The queue's entries whose personal data the vault still holds (the demo erased one)."""
    queue = demo.app.get_kindergarten_queue(UUID(demo.report.ids["kindergarten"]))
    return [e for e in queue.state["entries"] if demo.app.vault.holds(demo.app.kindergarten_subject(e))]


def test_an_erasure_is_logged_and_the_bundle_still_audits_clean(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    app = demo.app
    subject = app.kindergarten_subject(entries(demo)[0])
    assert ledger.vault_store is not None and app.vault.holds(subject)
    done = app.erase_personal_data(subject, by=OPERATOR, reason="retention_expired", at=demo.clock.tick(60))
    assert done["subject"] == subject and done["reason"] == "retention_expired"
    assert not app.vault.holds(subject) and app.vault.is_erased(subject)
    assert app.erasure(subject) == done
    report = export_and_audit(ledger, tmp_path / "b")
    assert report.verified, [f.describe() for f in report.findings()]
    assert findings(report, 4) == [] and findings(report, 5) == []

    with pytest.raises(errors.SubjectErased):
        app.erase_personal_data(subject, by=OPERATOR, reason="retention_expired", at=demo.clock.tick(60))
    with pytest.raises(errors.RecordNotFound):
        app.erase_personal_data(
            f"kindergarten.{uuid.uuid4()}", by=OPERATOR, reason="court_order", at=demo.clock.tick(1)
        )
    with pytest.raises(errors.InvalidInput):
        app.erase_personal_data("petition.x", by=OPERATOR, reason="court_order", at=demo.clock.tick(1))
    with pytest.raises(errors.InvalidInput):
        app.erase_personal_data(subject, by=OPERATOR, reason="the mother called, Olena K.", at=demo.clock.tick(1))
    with pytest.raises(errors.MissingScope):  # a registered service without pii:erase
        app.erase_personal_data(
            subject, by=Actor.service("city.education"), reason="court_order", at=demo.clock.tick(1)
        )


def test_a_crash_between_the_log_and_the_vault_is_completed_by_running_it_again(
    city: tuple[Ledger, Demo], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, demo = city
    app = demo.app
    subject = app.kindergarten_subject(entries(demo)[1])

    def crash(*_: Any, **__: Any) -> None:
        raise OSError("vault unreachable")

    with monkeypatch.context() as m:
        m.setattr(app.vault, "erase", crash)
        with pytest.raises(OSError):
            app.erase_personal_data(subject, by=OPERATOR, reason="subject_request", at=demo.clock.tick(60))
    assert app.erasure(subject)["reason"] == "subject_request" and app.vault.holds(subject)  # logged, not shredded
    again = app.erase_personal_data(subject, by=OPERATOR, reason="subject_request", at=demo.clock.tick(60))
    assert again == app.erasure(subject) and not app.vault.holds(subject)


def test_an_erasure_stream_is_its_subject_and_is_written_once(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    first, other = (demo.app.kindergarten_subject(e) for e in entries(demo)[2:4])
    demo.app.erase_personal_data(first, by=OPERATOR, reason="subject_request", at=demo.clock.tick(60))
    again = append_lawless(  # version 2 of the erasure's stream: erased again
        ledger,
        stream_id("personal_data", first),
        "personal_data.erased",
        OPERATOR.as_dict(),
        {"subject": first, "reason": "court_order"},
        demo.clock.tick(60),
    )
    wrong = append_lawless(
        ledger,
        str(uuid.uuid4()),
        "personal_data.erased",
        OPERATOR.as_dict(),
        {"subject": other, "reason": "subject_request"},
        demo.clock.tick(60),
    )
    free_text = append_lawless(
        ledger,
        stream_id("personal_data", "housing.x1"),
        "personal_data.erased",
        OPERATOR.as_dict(),
        {"subject": "housing.x1", "reason": "Olena K. asked by phone"},
        demo.clock.tick(60),
    )
    found = [(f.code, f.event_id) for f in findings(export_and_audit(ledger, tmp_path / "b"), 4)]
    assert found == [
        ("erasure_repeated", again["id"]),
        ("erasure_stream_mismatch", wrong["id"]),
        ("malformed_data", free_text["id"]),
    ]
