"""Rule sets for queues, registers and ballots in the domain (issue #15): an opening names a published rule set and
freezes it beside the reference; inline rules are refused per kind, from the city's first rule set for that kind on;
and a city without rule sets writes exactly the events it wrote before (no ``rule_set`` field)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.app import CityApp
from domain.base import public_data
from domain.errors import CustomRulesRefused
from domain.housing.rules import STATUTES as HOUSING_STATUTES
from domain.identity import Actor
from domain.kindergarten.rules import STATUTES as KINDERGARTEN_STATUTES
from domain.petitions.rules import HRADYZK
from tests.domain.conftest import CITY, EDU, HOUSING, OPERATOR, T0, citizen, days

LEGAL = Actor.service("kyiv.legal")
#: The fields the opening events had before rule sets (what a log without rule sets still writes).
BEFORE = {
    "kindergarten.created": {
        "kind", "name", "institutions", "benefits", "removal_reasons", "acceptance_days", "max_preferences",
        "pseudonym_key",
    },
    "housing.register_opened": {"name", "removal_reasons", "list_bases", "pseudonym_key"},
    "ballot.opened": {
        "title", "kind", "options", "method", "opens_at", "closes_at", "eligibility", "pseudonym_key", "secrecy",
        "trustees", "threshold", "public_key", "manifest_hash",
    },
}  # fmt: skip


def opening(app: CityApp, stream: UUID) -> tuple[str, dict[str, Any]]:
    first = next(iter(app.events.get(stream)))
    return first.TYPE, public_data(first)


def poll(app: CityApp, **kw: Any) -> UUID:
    return app.open_ballot(
        by=CITY, title="Poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"}, opens_at=T0 + days(1), closes_at=T0 + days(2), secrecy="open", at=T0, **kw,
    )  # fmt: skip


def test_a_city_without_rule_sets_writes_the_events_it_wrote_before(app: CityApp) -> None:
    q = app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], at=T0)
    r = app.open_housing_register(by=HOUSING, name="R", at=T0)
    b = poll(app, kind="poll", eligibility={"identity_methods": ["diia"]})
    for stream in (q, r, b):
        etype, data = opening(app, stream)
        assert set(data) == BEFORE[etype], etype


def test_inline_rules_are_refused_per_kind_from_its_first_rule_set_on(app: CityApp) -> None:
    app.register_service(by=OPERATOR, service=LEGAL.id, name="Legal", scopes=["rules:admin"], at=T0)
    app.publish_rule_set(by=LEGAL, **KINDERGARTEN_STATUTES["kindergarten-example"], at=T0)
    with pytest.raises(CustomRulesRefused, match="kindergarten"):
        app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], at=T0)
    # the other kinds have no rule set yet: their openings still write their rules
    app.open_housing_register(by=HOUSING, name="R", at=T0)
    poll(app, kind="poll", eligibility={"identity_methods": ["diia"]})
    app.create_petition(by=citizen(1), title="T", text="x", rules=HRADYZK, at=T0)
    q = app.create_kindergarten_queue(by=EDU, name="Q", institutions=["a"], rule_set="kindergarten-example", at=T0)
    etype, data = opening(app, q)
    assert set(data) == BEFORE[etype] | {"rule_set"}
    assert data["rule_set"] == {"name": "kindergarten-example", "version": 1}
    rules = KINDERGARTEN_STATUTES["kindergarten-example"]["rules"]
    assert {k: data[k] for k in rules} == rules
    app.publish_rule_set(by=LEGAL, **HOUSING_STATUTES["housing-example"], at=T0)
    with pytest.raises(CustomRulesRefused, match="housing"):
        app.open_housing_register(by=HOUSING, name="R", list_bases=HOUSING_STATUTES["housing-example"]["rules"]
                                  ["list_bases"], at=T0)  # fmt: skip
    r = app.open_housing_register(by=HOUSING, name="R", rule_set="housing-example", at=T0)
    assert opening(app, r)[1]["rule_set"] == {"name": "housing-example", "version": 1}


def test_a_ballot_takes_its_kind_and_voters_from_its_rule_set(app: CityApp) -> None:
    app.register_service(by=OPERATOR, service=LEGAL.id, name="Legal", scopes=["rules:admin"], at=T0)
    rules = {"kind": "local_vote", "eligibility": {"identity_methods": ["qes", "diia", "diia"], "min_age": 18}}
    ref = app.publish_rule_set(
        by=LEGAL, ruleset="votes", version=1, applies_to="ballot", rules=rules, source="a test", at=T0
    )
    assert app.get_rule_set("votes").state["rules"]["eligibility"]["identity_methods"] == ["diia", "qes"]
    b = poll(app, rule_set="votes", eligibility={"districts": ["podil"]})
    _, data = opening(app, b)
    assert data["kind"] == "local_vote" and data["rule_set"] == ref
    assert data["eligibility"] == {"identity_methods": ["diia", "qes"], "min_age": 18, "districts": ["podil"]}
    with pytest.raises(CustomRulesRefused, match="ballot"):
        poll(app, kind="poll", eligibility={"identity_methods": ["diia"]})
