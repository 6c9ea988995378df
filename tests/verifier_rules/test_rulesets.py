"""City-owned rule sets (issue #15) through the REAL ledger: the domain refuses what the city did not publish, and a
rogue operator who writes the lawless event straight into the events table is named by step 4 (the tamper cases of
``ruleset_*`` in verifier/codes.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.errors import CustomRulesRefused, RuleSetAlreadyPublished, RuleSetNotPublished
from domain.petitions.rules import KYIV, STATUTES
from hromada.demo import LEGAL, Demo, citizen
from ledger.runtime import Ledger
from tests.verifier_rules.test_ledger_tamper import append_lawless, city, export_and_audit, findings
from verifier.rules.model import stream_id

__all__ = ["city"]  # the fixture, shared with the ledger tamper cases


def lawless_petition(ledger: Ledger, demo: Demo, **extra: Any) -> dict[str, Any]:
    """A petition.created the domain would refuse, written by the operator as citizen 77's."""
    app = demo.app
    key = app.pseudonymizer.current
    author = app.pseudonymizer.citizen("diia:demo-77", key)
    data = {"title": "Rogue", "text": "Rules of my own", "rules": dict(KYIV), "pseudonym_key": key, "author": author}
    data.update(extra)
    return append_lawless(
        ledger, str(uuid.uuid4()), "petition.created", {"kind": "citizen", "id": author}, data, demo.clock.tick(60)
    )


def test_the_shipped_statutes_are_valid_rule_sets_that_cite_their_source() -> None:
    from domain.petitions.rules import validate_petition_rules

    assert sorted(STATUTES) == ["hradyzk", "kyiv", "sumy"]
    for doc in STATUTES.values():
        assert doc["applies_to"] == "petition" and doc["version"] == 1
        assert validate_petition_rules(doc["rules"]) == doc["rules"]
        assert "Regulation" in doc["source"] and doc["rules"]["city"] == doc["ruleset"]


def test_the_domain_takes_published_rule_sets_only(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    app, at = demo.app, demo.clock.tick(60)
    with pytest.raises(CustomRulesRefused):
        app.create_petition(by=citizen(5), title="T", text="x", rules={**KYIV, "threshold": 2}, at=at)
    with pytest.raises(RuleSetNotPublished):
        app.create_petition(by=citizen(5), title="T", text="x", rule_set="lviv", at=at)
    with pytest.raises(RuleSetNotPublished):
        app.create_petition(by=citizen(5), title="T", text="x", rule_set="kyiv", rule_set_version=2, at=at)
    with pytest.raises(RuleSetAlreadyPublished):
        app.publish_rule_set(by=LEGAL, **STATUTES["kyiv"], at=at)
    v2 = app.publish_rule_set(
        by=LEGAL, **{**STATUTES["kyiv"], "version": 2, "rules": {**KYIV, "threshold": 5000}}, at=at
    )
    assert v2 == {"name": "kyiv", "version": 2}
    latest = app.create_petition(by=citizen(5), title="T", text="x", rule_set="kyiv", at=demo.clock.tick(60))
    older = app.create_petition(
        by=citizen(6), title="T", text="x", rule_set="kyiv", rule_set_version=1, at=demo.clock.tick(60)
    )
    assert app.get_petition(latest).state["rules"]["threshold"] == 5000
    assert app.get_petition(latest).state["rule_set"] == {"name": "kyiv", "version": 2}
    assert app.get_petition(older).state["rules"] == KYIV
    report = export_and_audit(ledger, tmp_path / "b")
    assert findings(report, 4) == [] and findings(report, 5) == []


def test_rules_that_differ_from_the_named_rule_set(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    env = lawless_petition(ledger, demo, rules={**KYIV, "threshold": 2}, rule_set={"name": "kyiv", "version": 1})
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("ruleset_mismatch", env["id"], 6000, 2)
    assert "$.rules.threshold" in f.message


def test_inline_rules_after_the_city_published_its_rule_sets(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    env = lawless_petition(ledger, demo, rules={**KYIV, "threshold": 2})
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id) == ("ruleset_missing", env["id"])


def test_a_rule_set_published_only_after_its_use(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    rules = {**KYIV, "threshold": 2}
    env = lawless_petition(ledger, demo, rules=rules, rule_set={"name": "kyiv", "version": 2})
    # published afterwards (a well-formed ruleset.published, written the same way): too late for the petition
    append_lawless(
        ledger,
        stream_id("ruleset", "kyiv", "2"),
        "ruleset.published",
        LEGAL.as_dict(),
        {**STATUTES["kyiv"], "version": 2, "rules": rules},
        demo.clock.tick(60),
    )
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id, f.found) == ("ruleset_unpublished", env["id"], {"name": "kyiv", "version": 2})


def test_a_rule_set_stream_is_its_name_and_version(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    doc = {**STATUTES["sumy"], "version": 2}
    wrong = append_lawless(ledger, str(uuid.uuid4()), "ruleset.published", LEGAL.as_dict(), doc, demo.clock.tick(60))
    again = append_lawless(  # version 2 of sumy v1's stream: a published version changed
        ledger,
        stream_id("ruleset", "sumy", "1"),
        "ruleset.published",
        LEGAL.as_dict(),
        {**STATUTES["sumy"], "rules": {**STATUTES["sumy"]["rules"], "threshold": 2}},
        demo.clock.tick(60),
    )
    found = [(f.code, f.event_id) for f in findings(export_and_audit(ledger, tmp_path / "b"), 4)]
    assert found == [("ruleset_stream_mismatch", wrong["id"]), ("ruleset_republished", again["id"])]
