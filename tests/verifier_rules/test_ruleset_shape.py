"""A published rule set's rules have the shape of its ``applies_to`` kind (docs/domain.md "Shape of a rule set's
rules"): a rogue ``ruleset.published`` with one field missing, of a wrong type or out of bounds is
``ruleset_malformed``, naming the event and the field, whether or not anything names it (the tamper cases of
``ruleset_malformed`` in verifier/codes.py). The verifier's shape is written from the docs; the domain refuses (or
would freeze otherwise) every case too, so the two agree."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from domain.errors import InvalidInput
from domain.rulesets.aggregate import APPLIES_TO
from hromada.demo import ALL_STATUTES, LEGAL, Demo
from ledger.runtime import Ledger
from tests.verifier_rules import builder
from tests.verifier_rules.test_ledger_tamper import append_lawless, city, export_and_audit, findings
from tests.verifier_rules.test_rulesets import NAMES, _comparable, lawless_opening
from verifier.audit import run_audit
from verifier.note import parse_verifier_key
from verifier.rules.model import stream_id
from verifier.rules.ruleshape import shape_problem

__all__ = ["city"]  # the fixture, shared with the ledger tamper cases

ALL = {doc["ruleset"]: doc for doc in ALL_STATUTES}
#: A petition rule set of the demo's, beside the others' (kind -> the demo's rule set for it).
SETS = {"petition": "kyiv", **NAMES}
DELETE = object()

#: (kind, the field edited as a path of keys and indexes, its new value or DELETE, the path the finding names)
CASES: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("petition", ("threshold",), 0, "$.rules.threshold"),
    ("petition", ("threshold",), "6000", "$.rules.threshold"),
    ("petition", ("threshold",), True, "$.rules.threshold"),
    ("petition", ("timezone",), DELETE, "$.rules.timezone"),
    ("petition", ("timezone",), "Europe/Atlantis", "$.rules.timezone"),
    ("petition", ("period",), {"weeks": 3}, "$.rules.period"),
    ("petition", ("period", "days"), 0, "$.rules.period.days"),
    ("petition", ("identity_methods",), [], "$.rules.identity_methods"),
    ("petition", ("identity_methods",), ["diia", "diia"], "$.rules.identity_methods"),
    ("petition", ("response_working_days",), -1, "$.rules.response_working_days"),
    ("petition", ("calendar", "weekend"), [7], "$.rules.calendar.weekend[0]"),
    ("petition", ("calendar", "fixed", 0), "02-30", "$.rules.calendar.fixed[0]"),
    ("petition", ("calendar", "martial_law"), "yes", "$.rules.calendar.martial_law"),
    ("petition", ("city",), "", "$.rules.city"),
    ("petition", ("extra",), 1, "$.rules.extra"),
    ("kindergarten", ("acceptance_days",), 0, "$.rules.acceptance_days"),
    ("kindergarten", ("max_preferences",), 51, "$.rules.max_preferences"),
    ("kindergarten", ("max_preferences",), DELETE, "$.rules.max_preferences"),
    ("kindergarten", ("benefits",), [], "$.rules.benefits"),
    ("kindergarten", ("benefits", 0, "statute"), DELETE, "$.rules.benefits[0].statute"),
    ("kindergarten", ("benefits", 1, "code"), "fallen_defender_child", "$.rules.benefits"),
    ("kindergarten", ("benefits", 0, "code"), "no spaces", "$.rules.benefits[0].code"),
    ("kindergarten", ("removal_reasons", 0), "school_age", "$.rules.removal_reasons[0]"),
    ("housing", ("list_bases", "out_of_turn"), DELETE, "$.rules.list_bases.out_of_turn"),
    ("housing", ("list_bases", "general"), [], "$.rules.list_bases.general"),
    ("housing", ("removal_reasons",), [], "$.rules.removal_reasons"),
    ("housing", ("list_bases", "first_priority", 0, "statute"), "", "$.rules.list_bases.first_priority[0].statute"),
    ("ballot", ("kind",), "referendum", "$.rules.kind"),
    ("ballot", ("eligibility", "min_age"), 0, "$.rules.eligibility.min_age"),
    ("ballot", ("eligibility", "min_age"), DELETE, "$.rules.eligibility.min_age"),
    ("ballot", ("eligibility", "identity_methods"), "diia", "$.rules.eligibility.identity_methods"),
    ("ballot", ("eligibility", "districts"), ["podil"], "$.rules.eligibility.districts"),
]
IDS = [f"{kind}-{'.'.join(map(str, path))}-{i}" for i, (kind, path, _, _) in enumerate(CASES)]


def edited(kind: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """The demo's published rules for ``kind`` with the one field at ``path`` set to ``value`` (or deleted)."""
    rules: dict[str, Any] = copy.deepcopy(ALL[SETS[kind]]["rules"])
    target: Any = rules
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return rules


def frozen_otherwise(kind: str, rules: dict[str, Any]) -> bool:
    """The domain would not publish ``rules`` as they are: it refuses them, or freezes them otherwise (a default
    filled in, a list sorted)."""
    try:
        return APPLIES_TO[kind](rules) != rules
    except InvalidInput:
        return True


def test_every_shipped_and_builder_rule_set_has_its_shape() -> None:
    for doc in ALL_STATUTES:
        assert shape_problem(doc["applies_to"], doc["rules"]) is None, doc["ruleset"]
    for kind, rules in (("kindergarten", builder.KG_RULES), ("housing", builder.HOUSING_RULES)):
        assert shape_problem(kind, rules) is None
    assert shape_problem("ballot", builder.BALLOT_RULES) is None


@pytest.mark.parametrize(("kind", "path", "value", "named"), CASES, ids=IDS)
def test_the_domain_and_the_verifier_agree_on_the_shape(
    kind: str, path: tuple[str | int, ...], value: Any, named: str
) -> None:
    """The domain would not publish any case as it is (it refuses it, or fills in the missing default), and the
    verifier names each at its field."""
    rules = edited(kind, path, value)
    assert frozen_otherwise(kind, rules)
    found = shape_problem(kind, rules)
    assert found is not None and found[0] == named, found


@pytest.mark.parametrize(
    ("kind", "rules", "named"),
    [
        ("ballot", {"kind": "poll", "eligibility": {"identity_methods": ["diia", "bankid"], "min_age": None}},
         "$.rules.eligibility.identity_methods"),
        ("petition", edited("petition", ("calendar", "weekend"), [6, 5]), "$.rules.calendar.weekend"),
        ("petition", edited("petition", ("calendar", "movable"), ["trinity", "easter"]), "$.rules.calendar.movable"),
    ],
    ids=["ballot-identity-methods", "calendar-weekend", "calendar-movable"],
)  # fmt: skip
def test_lists_the_frozen_form_sorts_are_sorted(kind: str, rules: dict[str, Any], named: str) -> None:
    """The domain takes these and freezes them sorted: a published rule set holding them unsorted is not what it
    froze."""
    assert frozen_otherwise(kind, rules) and APPLIES_TO[kind](rules) != rules  # taken, and frozen sorted
    found = shape_problem(kind, rules)
    assert found is not None and found[0] == named, found


def test_a_malformed_rule_set_in_a_bundle(tmp_path: Path) -> None:
    """Named once, at its event, whether named by an opening or not; the opening that copies it is not blamed."""
    h = builder.History()
    h.city()
    h.legal()
    bad = h.rule_set("kg", "kindergarten", {**builder.KG_RULES, "acceptance_days": 0})
    h.queue(acceptance_days=0, rule_set={"name": "kg", "version": 1})
    unused = h.rule_set("polls", "ballot", {"kind": "poll", "eligibility": {"identity_methods": ["diia"]}})
    got = [(f.code, f.event_id) for f in builder.findings(builder.audit(h.write(tmp_path / "b")), 4)]
    assert got == [("ruleset_malformed", bad["id"]), ("ruleset_malformed", unused["id"])]


@pytest.mark.parametrize(
    ("kind", "path", "value", "named"),
    [CASES[0], CASES[15], CASES[25], CASES[28]],
    ids=["petition", "kindergarten", "housing", "ballot"],
)
def test_a_malformed_published_rule_set_through_the_real_ledger(
    city: tuple[Ledger, Demo], tmp_path: Path, kind: str, path: tuple[str | int, ...], value: Any, named: str
) -> None:
    """Version 2 of the demo's rule set for ``kind``, with one field edited, written by the operator straight into
    the events table, then named by an opening of its kind: one finding, at the rule set's event and field; the
    rule worker's report is the serial one."""
    ledger, demo = city
    name = SETS[kind]
    doc = {**ALL[name], "version": 2, "rules": edited(kind, path, value)}
    env = append_lawless(
        ledger, stream_id("ruleset", name, "2"), "ruleset.published", LEGAL.as_dict(), doc, demo.clock.tick(60)
    )
    if kind != "petition":
        lawless_opening(ledger, demo, kind, {"name": name, "version": 2}, **{"__".join(map(str, path)): value})
    report = export_and_audit(ledger, tmp_path / "b")
    [f] = findings(report, 4)
    assert (f.code, f.event_id) == ("ruleset_malformed", env["id"])
    assert f.message.startswith(named + ":") and kind in f.message
    key = parse_verifier_key(ledger.signer.verifier_key)
    worker = run_audit(tmp_path / "b", key, offline=True, rule_worker=True)
    assert _comparable(worker) == _comparable(report)
