"""City-owned rule sets (issue #15) through the REAL ledger: the domain refuses what the city did not publish, and a
rogue operator who writes the lawless event straight into the events table is named by step 4 (the tamper cases of
``ruleset_*`` in verifier/codes.py)."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.ballots.crypto.hashing import manifest_hash
from domain.base import rfc3339
from domain.errors import CustomRulesRefused, InvalidInput, RuleSetAlreadyPublished, RuleSetNotPublished
from domain.petitions.rules import KYIV, STATUTES
from hromada.demo import (
    ALL_STATUTES,
    BUDGET_RULES,
    CITY,
    EDU,
    HOUSING,
    HOUSING_RULES,
    KINDERGARTEN_RULES,
    LEGAL,
    Demo,
    citizen,
)
from ledger.runtime import Ledger
from tests.verifier_rules.test_ledger_tamper import append_lawless, city, export_and_audit, findings
from verifier.audit import run_audit
from verifier.note import parse_verifier_key
from verifier.rules.model import stream_id

#: Every shipped statute by name (domain/<kind>/statutes/).
ALL = {doc["ruleset"]: doc for doc in ALL_STATUTES}

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


# -- kindergarten queues, housing registers and ballots (the rule worker's kinds) ----------------------------------
KINDS = ("kindergarten", "housing", "ballot")
#: kind -> the demo's rule set for it
NAMES = {"kindergarten": KINDERGARTEN_RULES, "housing": HOUSING_RULES, "ballot": BUDGET_RULES}


def lawless_opening(
    ledger: Ledger, demo: Demo, what: str, reference: dict[str, Any] | None, **change: Any
) -> dict[str, Any]:
    """An opening event of kind ``what`` the domain would refuse, written by the operator as the service's: the demo's
    statute for it frozen (then ``change`` d), naming ``reference`` (none: written inline)."""
    key = demo.app.pseudonymizer.current
    rules = copy.deepcopy(ALL[NAMES[what]]["rules"])
    stream = str(uuid.uuid4())
    if what == "kindergarten":
        etype, actor = "kindergarten.created", EDU
        data = {"kind": "kindergarten", "name": "Rogue", "institutions": ["dnz-1"], **rules, "pseudonym_key": key}
    elif what == "housing":
        etype, actor = "housing.register_opened", HOUSING
        data = {"name": "Rogue", **rules, "pseudonym_key": key}
    else:
        etype, actor = "ballot.opened", CITY
        opens = demo.clock.now + timedelta(days=1)
        data = {
            "title": "Rogue",
            "kind": rules["kind"],
            "options": [{"id": "park", "title": "Park", "cost": 100, "district": "podil"}],
            "method": {"type": "budget", "budgets": {"podil": 1000}},
            "opens_at": rfc3339(opens),
            "closes_at": rfc3339(opens + timedelta(days=14)),
            "eligibility": {**rules["eligibility"], "districts": ["podil"]},
            "pseudonym_key": key,
            "secrecy": "open",
            "trustees": [],
            "threshold": None,
            "public_key": None,
        }
    for path, value in change.items():  # "eligibility__min_age" -> data["eligibility"]["min_age"]
        *outer, last = path.split("__")
        target = data
        for part in outer:
            target = target[part]
        target[last] = value
    if reference is not None:
        data["rule_set"] = reference
    if what == "ballot":
        data["manifest_hash"] = manifest_hash(stream, data).hex()
    return append_lawless(ledger, stream, etype, actor.as_dict(), data, demo.clock.tick(60))


def test_the_demo_names_a_rule_set_for_every_queue_and_ballot(city: tuple[Ledger, Demo]) -> None:
    """The shipped statutes for queues and ballots are valid rule sets that cite their source; the demo's queues and
    ballots name them, and freeze their rules."""
    from domain.rulesets.aggregate import APPLIES_TO

    _, demo = city
    assert {doc["applies_to"] for doc in ALL.values()} == {"petition", *KINDS}
    for doc in ALL.values():
        assert APPLIES_TO[doc["applies_to"]](doc["rules"]) == doc["rules"] and doc["source"]
    app, ids = demo.app, demo.report.ids
    queue = app.get_kindergarten_queue(uuid.UUID(ids["kindergarten"]))
    assert queue.pending_events == [] and queue.state["benefits"] == ALL[KINDERGARTEN_RULES]["rules"]["benefits"]
    register = app.get_housing_register(uuid.UUID(ids["housing"])).state
    assert register["list_bases"] == ALL[HOUSING_RULES]["rules"]["list_bases"]
    ballot = app.get_ballot(uuid.UUID(ids["ballot"]["id"])).opened_data()
    assert ballot["rule_set"] == {"name": BUDGET_RULES, "version": 1}
    assert ballot["eligibility"]["min_age"] == ALL[BUDGET_RULES]["rules"]["eligibility"]["min_age"]


@pytest.mark.parametrize(
    ("kind", "change", "path", "expected", "found"),
    [
        ("kindergarten", {"acceptance_days": 1}, "$.acceptance_days", 30, 1),
        ("kindergarten", {"benefits": []}, "$.benefits[0]", "fallen_defender_child", "<end of list>"),
        ("housing", {"list_bases__out_of_turn": []}, "$.list_bases.out_of_turn[0]", "art46.disaster", "<end of list>"),
        ("ballot", {"eligibility__min_age": 1}, "$.eligibility.min_age", 14, 1),
        ("ballot", {"kind": "poll"}, "$.kind", "participatory_budget", "poll"),
    ],
    ids=["kindergarten", "kindergarten-benefits", "housing", "ballot", "ballot-kind"],
)
def test_queue_or_ballot_rules_that_differ_from_the_named_rule_set(
    city: tuple[Ledger, Demo], tmp_path: Path, kind: str, change: dict[str, Any], path: str, expected: Any, found: Any
) -> None:
    """The frozen copy is the opening event's own rule fields: changing one after naming the rule set is named, with
    the kind, by the process that replays the kind (the rule worker), and the worker's report is the serial one."""
    ledger, demo = city
    env = lawless_opening(ledger, demo, kind, {"name": NAMES[kind], "version": 1}, **change)
    report = export_and_audit(ledger, tmp_path / "b")
    [f] = findings(report, 4)
    assert (f.code, f.event_id) == ("ruleset_mismatch", env["id"])
    assert path in f.message and kind in f.message
    as_code = {"code": f.expected.get("code")} if isinstance(f.expected, dict) else None
    assert (as_code["code"] if as_code else f.expected, f.found) == (expected, found)
    key = parse_verifier_key(ledger.signer.verifier_key)
    worker = run_audit(tmp_path / "b", key, offline=True, rule_worker=True)
    assert _comparable(worker) == _comparable(report)


@pytest.mark.parametrize("kind", KINDS)
def test_queue_or_ballot_naming_a_rule_set_not_published_for_it_before(
    city: tuple[Ledger, Demo], tmp_path: Path, kind: str
) -> None:
    """A version published only after the opening, and a published rule set of another kind, are both
    ``ruleset_unpublished``."""
    ledger, demo = city
    name = NAMES[kind]
    early = lawless_opening(ledger, demo, kind, {"name": name, "version": 2})
    other = lawless_opening(ledger, demo, kind, {"name": "kyiv", "version": 1})  # a petition rule set
    append_lawless(
        ledger,
        stream_id("ruleset", name, "2"),
        "ruleset.published",
        LEGAL.as_dict(),
        {**ALL[name], "version": 2},
        demo.clock.tick(60),
    )
    got = [(f.code, f.event_id, f.found) for f in findings(export_and_audit(ledger, tmp_path / "b"), 4)]
    assert got == [
        ("ruleset_unpublished", early["id"], {"name": name, "version": 2}),
        ("ruleset_unpublished", other["id"], {"name": "kyiv", "version": 1}),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_queue_or_ballot_with_inline_rules_after_the_city_published_its_rule_sets(
    city: tuple[Ledger, Demo], tmp_path: Path, kind: str
) -> None:
    ledger, demo = city
    env = lawless_opening(ledger, demo, kind, None)
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id) == ("ruleset_missing", env["id"])
    assert kind in f.message


def test_the_domain_takes_published_queue_and_ballot_rule_sets_only(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    """Inline rules are refused per kind once the city publishes rule sets for that kind; a rule set of another kind
    or an unpublished version is not one; a new version is taken by the next opening, and the log audits clean."""
    ledger, demo = city
    app, at = demo.app, demo.clock.tick(60)
    opens = demo.clock.now + timedelta(days=1)
    ballot = {
        "title": "T",
        "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        "method": {"type": "single"},
        "opens_at": opens,
        "closes_at": opens + timedelta(days=7),
        "secrecy": "open",
    }
    with pytest.raises(CustomRulesRefused):
        app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], at=at)
    with pytest.raises(CustomRulesRefused):
        app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], acceptance_days=5, at=at)
    with pytest.raises(CustomRulesRefused):
        app.open_housing_register(by=HOUSING, name="R", at=at)
    with pytest.raises(CustomRulesRefused):
        app.open_ballot(by=CITY, kind="poll", eligibility={"identity_methods": ["diia"]}, **ballot, at=at)
    with pytest.raises(InvalidInput):  # the rule set gives the kind
        app.open_ballot(by=CITY, kind="poll", rule_set=BUDGET_RULES, **ballot, at=at)
    with pytest.raises(InvalidInput):
        app.create_kindergarten_queue(
            by=EDU, name="Q", institutions=["a"], rule_set=KINDERGARTEN_RULES, max_preferences=9, at=at
        )
    with pytest.raises(RuleSetNotPublished):  # a housing rule set is not a kindergarten one
        app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], rule_set=HOUSING_RULES, at=at)
    with pytest.raises(RuleSetNotPublished):
        app.open_housing_register(by=HOUSING, name="R", rule_set=HOUSING_RULES, rule_set_version=2, at=at)
    doc = ALL[KINDERGARTEN_RULES]
    app.publish_rule_set(by=LEGAL, **{**doc, "version": 2, "rules": {**doc["rules"], "acceptance_days": 10}}, at=at)
    latest = app.create_kindergarten_queue(
        by=EDU, name="Q", institutions=["a"], rule_set=KINDERGARTEN_RULES, at=demo.clock.tick(60)
    )
    older = app.create_kindergarten_queue(
        by=EDU, name="Q", institutions=["a"], rule_set=KINDERGARTEN_RULES, rule_set_version=1, at=demo.clock.tick(60)
    )
    assert app.get_kindergarten_queue(latest).state["acceptance_days"] == 10
    assert app.get_kindergarten_queue(older).state["acceptance_days"] == 30
    poll = app.open_ballot(
        by=CITY, rule_set=BUDGET_RULES, eligibility={"districts": ["podil"]}, **{**ballot, "method": {
            "type": "budget", "budgets": {"podil": 1000}}, "options": [
                {"id": "a", "title": "A", "cost": 10, "district": "podil"}]}, at=demo.clock.tick(60),
    )  # fmt: skip
    opened = app.get_ballot(poll).opened_data()
    assert opened["kind"] == "participatory_budget" and opened["rule_set"] == {"name": BUDGET_RULES, "version": 1}
    assert opened["eligibility"] == {"identity_methods": ["bankid", "diia"], "min_age": 14, "districts": ["podil"]}
    report = export_and_audit(ledger, tmp_path / "b")
    assert findings(report, 4) == [] and findings(report, 5) == []


def _comparable(report: Any) -> dict[str, Any]:
    out: dict[str, Any] = report.to_json()
    del out["seconds"], out["events_per_second"]
    return out
