"""Kindergarten queues, housing registers and ballots under the city's rule sets, through HTTP (issue #15): the
opening names a published rule set (`rule_set`, `rule_set_version`) and freezes it; from the city's first rule set
for a kind on, rules written inline are a 422 `custom-rules-refused`, as petitions' are. The API's city has
published petition rule sets only, so each test publishes the kind's own first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.ballots.rules import STATUTES as BALLOT_STATUTES
from domain.housing.rules import STATUTES as HOUSING_STATUTES
from domain.kindergarten.rules import STATUTES as KINDERGARTEN_STATUTES
from tests.api.conftest import problem

STATUTE = {
    "kindergarten": KINDERGARTEN_STATUTES["kindergarten-example"],
    "housing": HOUSING_STATUTES["housing-example"],
    "ballot": BALLOT_STATUTES["budget-example"],
}
SCOPE = {"kindergarten": "queue:kindergarten:*", "housing": "queue:housing:*", "ballot": "ballot:*"}
PATH = {"kindergarten": "/v1/queues", "housing": "/v1/housing-registers", "ballot": "/v1/ballots"}
#: kind -> the rule a caller writes inline (refused once the kind has rule sets)
INLINE = {
    "kindergarten": {"acceptance_days": 5},
    "housing": {"removal_reasons": [{"code": "x", "title": "X", "statute": "a test"}]},
    "ballot": {"kind": "poll"},
}


def _publish(client, service_key, what: str, version: int = 1, **changes: Any) -> dict[str, Any]:
    doc = STATUTE[what]
    body = {**doc, "ruleset": f"{what}-api", "version": version, "rules": {**doc["rules"], **changes}}
    r = client.post("/v1/rule-sets", json=body, headers=service_key("city.legal.api", "rules:admin"))
    assert r.status_code == 201, r.text
    return r.json()


def _body(what: str, clock: Any, **over: Any) -> dict[str, Any]:
    if what == "kindergarten":
        body: dict[str, Any] = {"name": "Дитсадки", "institutions": ["ds-1"]}
    elif what == "housing":
        body = {"name": "Квартирний облік"}
    else:
        body = {
            "title": "Бюджет",
            "options": [{"id": "park", "title": "Парк", "cost": 100, "district": "podil"}],
            "method": {"type": "budget", "budgets": {"podil": 1000}},
            "opens_at": clock.now.isoformat(),
            "closes_at": (clock.now + timedelta(days=7)).isoformat(),
            "secrecy": "open",
        }
    return {**body, **over}


def _frozen(ledger: Any, kind: str, opened: dict[str, Any]) -> dict[str, Any]:
    app = ledger.app
    if kind == "kindergarten":
        return dict(app.get_kindergarten_queue(UUID(opened["queue_id"])).state)
    if kind == "housing":
        return dict(app.get_housing_register(UUID(opened["register_id"])).state)
    return app.get_ballot(UUID(opened["ballot_id"])).opened_data()


@pytest.mark.parametrize("kind", ["kindergarten", "housing", "ballot"])
def test_an_opening_names_a_published_rule_set_and_inline_rules_are_then_refused(
    client, service_key, clock, ledger, kind
):
    svc = service_key(f"city.{kind}.api", SCOPE[kind])
    # before the city publishes a rule set for this kind, inline rules (or the defaults) still open one
    r = client.post(PATH[kind], json=_body(kind, clock, **INLINE[kind]), headers=svc)
    assert r.status_code == 201, r.text
    _publish(client, service_key, kind)
    name = f"{kind}-api"
    r = client.post(PATH[kind], json=_body(kind, clock, rule_set=name), headers=svc)
    assert r.status_code == 201, r.text
    state = _frozen(ledger, kind, r.json())
    rules = STATUTE[kind]["rules"]
    if kind == "ballot":
        assert state["rule_set"] == {"name": name, "version": 1}
        assert state["kind"] == rules["kind"]
        assert state["eligibility"] == {**rules["eligibility"], "districts": ["podil"]}
    else:
        assert {k: state[k] for k in rules} == rules
    for inline in (INLINE[kind], {}):  # rules written inline, or none named at all (the shipped defaults)
        body = problem(client.post(PATH[kind], json=_body(kind, clock, **inline), headers=svc), 422,
                       "custom-rules-refused")  # fmt: skip
        assert body["evidence"]["published"] == [name] and kind in body["detail"]
    both = _body(kind, clock, rule_set=name, **INLINE[kind])
    problem(client.post(PATH[kind], json=both, headers=svc), 422, "invalid-input")
    unknown = _body(kind, clock, rule_set=name, rule_set_version=2)
    problem(client.post(PATH[kind], json=unknown, headers=svc), 422, "ruleset-not-published")
    other = _body(kind, clock, rule_set="kyiv")  # a petition rule set
    problem(client.post(PATH[kind], json=other, headers=svc), 422, "ruleset-not-published")


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("kindergarten", {"benefits": []}, "rules.benefits"),
        ("kindergarten", {"acceptance_days": 0}, "rules.acceptance_days"),
        ("kindergarten", {"waiting_list": True}, "rules.waiting_list"),
        ("housing", {"list_bases": {"first_priority": []}}, "rules.list_bases"),
        (
            "housing",
            {"removal_reasons": [{"code": "a b", "title": "T", "statute": "S"}]},
            "rules.removal_reasons[0].code",
        ),
        ("ballot", {"kind": "referendum"}, "rules.kind"),
        ("ballot", {"eligibility": {"identity_methods": [], "min_age": 14}}, "rules.eligibility.identity_methods"),
        (
            "ballot",
            {"eligibility": {"identity_methods": ["diia"], "districts": ["podil"]}},
            "rules.eligibility.districts",
        ),
    ],
)
def test_a_queue_or_ballot_rule_set_is_refused_naming_the_field(client, service_key, kind, changes, field):
    doc = STATUTE[kind]
    body = {**doc, "ruleset": "hostile", "rules": {**doc["rules"], **changes}}
    r = client.post("/v1/rule-sets", json=body, headers=service_key("city.legal.api", "rules:admin"))
    assert problem(r, 422, "invalid-input")["evidence"]["field"] == field


def test_the_shipped_queue_and_ballot_statutes_publish_and_read_back(client, service_key):
    for kind in STATUTE:
        ref = _publish(client, service_key, kind)
        got = client.get(f"/v1/rule-sets/{ref['ruleset']}").json()
        assert (got["applies_to"], got["rules"], got["source"]) == (
            kind,
            STATUTE[kind]["rules"],
            STATUTE[kind]["source"],
        )


#: kind -> the id field of the opening's answer, the open-data list of its kind
ID = {"kindergarten": "queue_id", "housing": "register_id", "ballot": "ballot_id"}
OPEN_LIST = {"kindergarten": "/v1/open/queues", "housing": "/v1/open/queues", "ballot": "/v1/open/ballots"}


@pytest.mark.parametrize("kind", ["kindergarten", "housing", "ballot"])
def test_the_views_show_the_rule_set_frozen_at_opening(client, service_key, clock, kind):
    """`GET` of a queue, register or ballot and its item in the open-data list show the `rule_set` its opening
    froze (null for rules written inline), as a petition's view does."""
    svc = service_key(f"city.{kind}.api", SCOPE[kind])
    inline = client.post(PATH[kind], json=_body(kind, clock, **INLINE[kind]), headers=svc).json()[ID[kind]]
    _publish(client, service_key, kind)
    _publish(client, service_key, kind, **({"kind": "poll"} if kind == "ballot" else {}), version=2)
    named = client.post(PATH[kind], json=_body(kind, clock, rule_set=f"{kind}-api", rule_set_version=1), headers=svc)
    assert named.status_code == 201, named.text
    named_id = named.json()[ID[kind]]
    expected = {inline: None, named_id: {"name": f"{kind}-api", "version": 1}}
    for sid, ref in expected.items():
        assert client.get(f"{PATH[kind]}/{sid}").json()["rule_set"] == ref
    listed = {i["id"]: i["rule_set"] for i in client.get(OPEN_LIST[kind], params={"limit": 500}).json()["items"]}
    assert {sid: listed[sid] for sid in expected} == expected


def test_the_open_petition_list_shows_the_rule_set(client, citizen):
    r = client.post("/v1/petitions", json={"title": "T", "text": "x", "rule_set": "kyiv"}, headers=citizen("a"))
    pid = r.json()["petition_id"]
    items = client.get("/v1/open/petitions", params={"limit": 500}).json()["items"]
    assert next(i for i in items if i["id"] == pid)["rule_set"] == {"name": "kyiv", "version": 1}
    assert client.get(f"/v1/petitions/{pid}").json()["rule_set"] == {"name": "kyiv", "version": 1}


def test_an_encrypted_ballot_shows_its_rule_set_while_the_ceremony_runs(client, service_key, clock):
    """The key ceremony's start froze the rules (and the reference): the ballot's view shows it from then on."""
    svc = service_key("city.ballot.api", SCOPE["ballot"])
    trustees = [f"trustee.api.{i}" for i in range(1, 4)]
    for t in trustees:
        service_key(t, "ballot:trustee")
    _publish(client, service_key, "ballot")
    body = _body("ballot", clock, rule_set="ballot-api", secrecy="encrypted", trustees=trustees, threshold=2)
    r = client.post(PATH["ballot"], json=body, headers=svc)
    assert r.status_code == 201 and r.json()["status"] == "ceremony", r.text
    view = client.get(f"{PATH['ballot']}/{r.json()['ballot_id']}").json()
    assert (view["status"], view["rule_set"]) == ("ceremony", {"name": "ballot-api", "version": 1})


ORDER = {"kindergarten": "/v1/open/kindergarten/{}/order", "housing": "/v1/open/housing/{}/order"}


@pytest.mark.parametrize("kind", ["kindergarten", "housing"])
def test_a_published_queue_order_names_the_rule_set_it_follows(client, service_key, clock, kind):
    """The open-data order of a queue or register is the rules' outcome: its JSON names the rule set they came
    from (null for inline rules), so a reader knows which published version to check it against."""
    svc = service_key(f"city.{kind}.api", SCOPE[kind])
    inline = client.post(PATH[kind], json=_body(kind, clock, **INLINE[kind]), headers=svc).json()[ID[kind]]
    _publish(client, service_key, kind)
    named = client.post(PATH[kind], json=_body(kind, clock, rule_set=f"{kind}-api", rule_set_version=1), headers=svc)
    assert named.status_code == 201, named.text
    for sid, ref in {inline: None, named.json()[ID[kind]]: {"name": f"{kind}-api", "version": 1}}.items():
        r = client.get(ORDER[kind].format(sid))
        assert r.status_code == 200, r.text
        assert r.json()["rule_set"] == ref
