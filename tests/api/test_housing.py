"""Housing register through HTTP on a real database: every endpoint, the public lists and positions, and the error
paths (bad input, scopes, unknown register or entry, domain rules, idempotent retries)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.api.conftest import integrate, problem

HOUSEHOLD = {"address": "вул. Шевченка, 1, кв. 2", "members": 4}
BASE = "/v1/housing-registers"


def _events(ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger.integrator.events)).scalar_one())


def _open(client, headers, **body):
    r = client.post(BASE, json={"name": "Квартирний облік", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["register_id"]


def _register(client, rid, headers, **extra):
    r = client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    (ev,) = r.json()["events"]
    assert ev["type"] == "housing.entry_registered" and ev["stream"] == rid
    return r.json()["entry"]


def _include(client, rid, entry, headers, list_="first_priority", code="art45.combatant"):
    return client.post(
        f"{BASE}/{rid}/entries/{entry}/lists",
        json={"list": list_, "code": code, "document": {"doc": "УБД-123456"}},
        headers=headers,
    )


def _list(client, rid, name="general", **params):
    r = client.get(f"{BASE}/{rid}/lists/{name}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(client, rid, name="general"):
    return [x["entry"] for x in _list(client, rid, name)]


def _next_year() -> int:
    """A year whose dates are all after the wall clock: the service keys are registered in the log at the wall clock
    (api.auth.keys.add_service), and the test clock must not go back before the log's latest event
    (domain/sequencing.py)."""
    return datetime.now(UTC).year + 1


def _position(client, rid, entry):
    r = client.get(f"{BASE}/{rid}/entries/{entry}/position")
    assert r.status_code == 200, r.text
    return r.json()


def test_housing_lifecycle(client, ledger, service_key, citizen, clock):
    year = _next_year()
    clock.now = datetime(year, 3, 3, 9, 0, tzinfo=UTC)
    hd = service_key("city.housing", "queue:housing:*")
    rid = _open(client, hd)
    reg = client.get(f"{BASE}/{rid}").json()
    assert reg["name"] == "Квартирний облік" and reg["registrations"] == 0 and reg["active"] == 0
    assert {r["code"] for r in reg["removal_reasons"]} >= {"art40.2", "own_application"}
    assert set(reg["list_bases"]) == {"first_priority", "out_of_turn"}
    assert reg["lists"] == {"general": 0, "first_priority": 0, "out_of_turn": 0}

    e1 = _register(client, rid, citizen("ivan"))
    clock.advance(days=1)
    e2 = _register(client, rid, citizen("olha"))
    clock.advance(days=1)
    # a service (CNAP) registers for a citizen
    e3 = _register(client, rid, hd, applicant={"subject": "dev:petro", "method": "diia"})
    listing = _list(client, rid)
    assert [x["entry"] for x in listing] == [e1, e2, e3]
    assert [x["position"] for x in listing] == [1, 2, 3]
    assert set(listing[0]) == {"position", "entry", "registered_at", "included_at", "removal_proposed"}
    assert listing[0]["included_at"] is None and listing[0]["registered_at"].startswith(f"{year}-03-03")
    # no personal data anywhere in the public reads
    public = client.get(f"{BASE}/{rid}/lists/general").text + client.get(f"{BASE}/{rid}/entries/{e1}/position").text
    assert "Шевченка" not in public and "ivan" not in public and "petro" not in public
    assert _list(client, rid, offset=1, limit=1) == [listing[1]]

    # special lists: ordered by the time of inclusion
    clock.advance(days=1)
    r = _include(client, rid, e3, hd)
    assert r.status_code == 201, r.text
    assert r.json()["document_commitment"].startswith("sha256:")
    assert [e["type"] for e in r.json()["events"]] == ["housing.list_included"]
    clock.advance(days=1)
    assert _include(client, rid, e2, hd, code="art45.disabled").status_code == 201
    fp = _list(client, rid, "first_priority")
    assert [x["entry"] for x in fp] == [e3, e2] and all(x["included_at"] for x in fp)
    pos = _position(client, rid, e2)
    assert pos["status"] == "active" and pos["positions"] == {"general": 2, "first_priority": 2}
    assert set(pos["included_at"]) == {"first_priority"}
    r = client.post(
        f"{BASE}/{rid}/entries/{e3}/lists/first_priority/exclude", json={"reason": "basis_ended"}, headers=hd
    )
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "housing.list_excluded"
    assert _ids(client, rid, "first_priority") == [e2]
    assert _position(client, rid, e3)["positions"] == {"general": 3}

    # annual re-registration in the next year: the applicant or a service; a missed one is only proposed for removal
    clock.now = datetime(year + 1, 2, 2, 9, 0, tzinfo=UTC)
    r = client.post(f"{BASE}/{rid}/entries/{e1}/reregister", json={"year": year + 1}, headers=citizen("ivan"))
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "housing.reregistered"
    r = client.post(f"{BASE}/{rid}/removal-proposals", json={"year": year + 1}, headers=hd)
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == [e2, e3]
    assert [e["type"] for e in r.json()["events"]] == ["housing.removal_proposed"] * 2
    assert [x["removal_proposed"] for x in _list(client, rid)] == [False, True, True]
    assert _position(client, rid, e2)["removal_proposed"] == [year + 1]
    # nobody is dropped silently: still on the lists
    assert _ids(client, rid) == [e1, e2, e3]
    assert client.post(f"{BASE}/{rid}/entries/{e2}/reregister", json={"year": year + 1}, headers=hd).status_code == 200
    p2 = _position(client, rid, e2)
    assert p2["reregistered"] == [year + 1] and p2["removal_proposed"] == []
    r = client.post(f"{BASE}/{rid}/removal-proposals", json={"year": year + 1}, headers=hd)
    assert r.status_code == 200 and r.json() == {"entries": [], "events": []}

    # removal needs a legal reason code
    r = client.post(f"{BASE}/{rid}/entries/{e3}/remove", json={"reason_code": "art40.2"}, headers=hd)
    assert r.status_code == 200 and r.json()["events"][0]["type"] == "housing.entry_removed"
    p3 = _position(client, rid, e3)
    assert p3["status"] == "removed" and p3["removal_reason"] == "art40.2" and p3["positions"] == {}
    assert _ids(client, rid) == [e1, e2]

    # allocation goes to the first entry of the list
    assert _include(client, rid, e2, hd, list_="out_of_turn", code="art46.disaster").status_code == 201
    problem(
        client.post(
            f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "bud-7/kv-1", "entry": e2}, headers=hd
        ),
        409,
        "offer-out-of-turn",
    )
    r = client.post(f"{BASE}/{rid}/allocations", json={"list": "out_of_turn", "dwelling": "bud-7/kv-1"}, headers=hd)
    assert r.status_code == 201, r.text
    assert r.json()["entry"] == e2 and r.json()["events"][0]["type"] == "housing.dwelling_allocated"
    p2 = _position(client, rid, e2)
    assert p2["status"] == "allocated" and p2["dwelling"] == "bud-7/kv-1" and p2["allocated_from"] == "out_of_turn"
    assert p2["positions"] == {}
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "bud-7/kv-1"}, headers=hd),
        409,
        "place-unavailable",
    )
    r = client.post(
        f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "bud-7/kv-2", "entry": e1}, headers=hd
    )
    assert r.status_code == 201 and r.json()["entry"] == e1
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "bud-7/kv-3"}, headers=hd),
        409,
        "no-eligible-entry",
    )
    problem(_include(client, rid, e1, hd), 409, "entry-not-active")
    reg = client.get(f"{BASE}/{rid}").json()
    assert reg["registrations"] == 3 and reg["active"] == 0 and reg["allocated"] == 2
    assert reg["lists"] == {"general": 0, "first_priority": 0, "out_of_turn": 0}

    # every write has a receipt
    integrate(ledger)
    receipt = client.get(r.json()["events"][0]["receipt"])
    assert receipt.status_code == 200, receipt.text


def test_custom_rules_are_frozen(client, service_key, citizen):
    hd = service_key("city.housing", "queue:housing:admin", "queue:housing:lists")
    row = {"code": "c1", "title": "Basis", "statute": "Local rule 1"}
    rid = _open(
        client,
        hd,
        removal_reasons=[{"code": "r1", "title": "Reason", "statute": "Local rule 2"}],
        list_bases={"first_priority": [row], "out_of_turn": [{**row, "code": "c2"}]},
    )
    reg = client.get(f"{BASE}/{rid}").json()
    assert reg["removal_reasons"] == [{"code": "r1", "title": "Reason", "statute": "Local rule 2"}]
    assert reg["list_bases"]["first_priority"] == [row]
    e = _register(client, rid, citizen("a"))
    problem(_include(client, rid, e, hd), 422, "unknown-benefit-code")
    assert _include(client, rid, e, hd, code="c1").status_code == 201


def test_scopes_and_authentication(client, service_key, citizen):
    hd = service_key("city.housing", "queue:housing:*")
    kg = service_key("city.education", "queue:kindergarten:*")
    cnap = service_key("city.cnap", "queue:housing:register")
    lists = service_key("city.lists", "queue:housing:lists")
    rid = _open(client, hd)
    e = _register(client, rid, citizen("a"))
    problem(client.post(BASE, json={"name": "x"}, headers=kg), 403, "missing-scope")
    problem(client.post(BASE, json={"name": "x"}, headers=citizen("a")), 403, "forbidden")
    problem(client.post(BASE, json={"name": "x"}), 401, "unauthenticated")
    problem(
        client.post(BASE, json={"name": "x"}, headers={"Authorization": "Bearer hk_nope_nope"}), 401, "invalid-token"
    )
    problem(
        client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD, "applicant": {
            "subject": "dev:b", "method": "diia"}}, headers=kg),
        403,
        "missing-scope",
    )  # fmt: skip
    problem(_include(client, rid, e, cnap), 403, "missing-scope")
    problem(_include(client, rid, e, citizen("a")), 403, "forbidden")
    problem(
        client.post(
            f"{BASE}/{rid}/entries/{e}/lists/first_priority/exclude", json={"reason": "basis_ended"}, headers=kg
        ),
        403,
        "missing-scope",
    )
    problem(client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": 2026}, headers=kg), 403, "missing-scope")
    problem(client.post(f"{BASE}/{rid}/removal-proposals", json={"year": 2026}, headers=lists), 403, "missing-scope")
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "art40.2"}, headers=cnap),
        403,
        "missing-scope",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "art40.2"}, headers=citizen("a")),
        403,
        "forbidden",
    )
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "d1"}, headers=lists),
        403,
        "missing-scope",
    )
    # re-registration: only the entry's own applicant among citizens
    year = client.app.state.api.clock().year
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year}, headers=citizen("b")),
        403,
        "not-authorised",
    )
    assert (
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year}, headers=cnap).status_code == 200
    )  # a service with queue:housing:register may
    # a citizen registers only for themself; a service must name the applicant
    problem(
        client.post(
            f"{BASE}/{rid}/entries",
            json={"household_data": HOUSEHOLD, "applicant": {"subject": "dev:x", "method": "diia"}},
            headers=citizen("c"),
        ),
        403,
        "not-authorised",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD}, headers=cnap), 422, "invalid-input"
    )


def test_unknown_register_and_entry(client, service_key, citizen):
    hd = service_key("city.housing", "queue:housing:*")
    nope = "00000000-0000-4000-8000-000000000000"
    problem(client.get(f"{BASE}/{nope}"), 404, "not-found")
    problem(client.get(f"{BASE}/{nope}/lists/general"), 404, "not-found")
    problem(client.get(f"{BASE}/{nope}/entries/e/position"), 404, "not-found")
    problem(
        client.post(f"{BASE}/{nope}/entries", json={"household_data": HOUSEHOLD}, headers=citizen("a")),
        404,
        "not-found",
    )
    problem(client.post(f"{BASE}/{nope}/removal-proposals", json={"year": 2020}, headers=hd), 404, "not-found")
    problem(
        client.post(f"{BASE}/{nope}/allocations", json={"list": "general", "dwelling": "d1"}, headers=hd),
        404,
        "not-found",
    )
    # a kindergarten queue is not a housing register
    qid = client.post(
        "/v1/queues", json={"name": "q", "institutions": ["ds-1"]}, headers=service_key("edu", "queue:*")
    ).json()["queue_id"]
    problem(client.get(f"{BASE}/{qid}"), 404, "not-found")
    rid = _open(client, hd)
    problem(client.get(f"{BASE}/{rid}/entries/nope/position"), 404, "unknown-entry")
    problem(_include(client, rid, "nope", hd), 404, "unknown-entry")
    problem(
        client.post(f"{BASE}/{rid}/entries/nope/lists/out_of_turn/exclude", json={"reason": "basis_ended"}, headers=hd),
        404,
        "unknown-entry",
    )
    problem(client.post(f"{BASE}/{rid}/entries/nope/reregister", json={"year": 2026}, headers=hd), 404, "unknown-entry")
    problem(
        client.post(f"{BASE}/{rid}/entries/nope/remove", json={"reason_code": "art40.2"}, headers=hd),
        404,
        "unknown-entry",
    )
    problem(client.get(f"{BASE}/not-a-uuid"), 422, "validation-error")


def test_bad_input_and_domain_rules(client, service_key, citizen, clock):
    year = _next_year()
    clock.now = datetime(year, 5, 5, 9, 0, tzinfo=UTC)
    hd = service_key("city.housing", "queue:housing:*")
    rid = _open(client, hd)
    e = _register(client, rid, citizen("a"))
    row = {"code": "c", "title": "t", "statute": "s"}
    for body in (
        {"name": ""},
        {"name": "x", "extra": 1},
        {"name": "x", "list_bases": {"first_priority": [row]}},
        {"name": "x", "list_bases": {"first_priority": [row], "out_of_turn": [row], "general": [row]}},
        {"name": "x", "removal_reasons": [{"code": "c"}]},
    ):
        problem(client.post(BASE, json=body, headers=hd), 422, "validation-error")
    problem(client.post(BASE, json={"name": "x", "removal_reasons": [row, row]}, headers=hd), 422, "invalid-input")
    problem(client.post(BASE, json={"name": "x", "removal_reasons": []}, headers=hd), 422, "invalid-input")
    for body in ({}, {"household_data": {"nested": {"x": 1}}}, {"household_data": HOUSEHOLD, "x": 1}):
        problem(client.post(f"{BASE}/{rid}/entries", json=body, headers=citizen("b")), 422, "validation-error")
    problem(client.get(f"{BASE}/{rid}/lists/vip"), 422, "validation-error")
    problem(client.get(f"{BASE}/{rid}/lists/general", params={"limit": 0}), 422, "validation-error")
    problem(_include(client, rid, e, hd, list_="general"), 422, "validation-error")
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/lists/general/exclude", json={"reason": "basis_ended"}, headers=hd),
        422,
        "validation-error",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/lists/out_of_turn/exclude", json={"reason": "why"}, headers=hd),
        422,
        "validation-error",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": "x"}, headers=hd), 422, "validation-error"
    )
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "../x"}, headers=hd),
        422,
        "validation-error",
    )
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "vip", "dwelling": "d"}, headers=hd),
        422,
        "validation-error",
    )

    # domain rules, each with its stable problem type
    problem(
        client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD}, headers=citizen("a")),
        409,
        "duplicate-entry",
    )
    problem(_include(client, rid, e, hd, list_="out_of_turn", code="art45.combatant"), 422, "unknown-benefit-code")
    assert _include(client, rid, e, hd).status_code == 201
    problem(_include(client, rid, e, hd, code="art45.disabled"), 409, "already-in-list")
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/lists/out_of_turn/exclude", json={"reason": "basis_ended"}, headers=hd),
        409,
        "not-in-list",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year - 1}, headers=hd), 422, "invalid-input"
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year + 1}, headers=hd), 422, "invalid-input"
    )
    assert client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year}, headers=hd).status_code == 200
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/reregister", json={"year": year}, headers=hd),
        409,
        "already-reregistered",
    )
    problem(client.post(f"{BASE}/{rid}/removal-proposals", json={"year": year + 1}, headers=hd), 422, "invalid-input")
    problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "out_of_turn", "dwelling": "d"}, headers=hd),
        409,
        "no-eligible-entry",
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "nope"}, headers=hd),
        422,
        "unknown-reason-code",
    )
    body = problem(
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "nope"}, headers=hd),
        422,
        "unknown-reason-code",
    )
    assert body["code"] == "unknown_reason_code" and "art40.2" in body["evidence"]["expected"]
    assert (
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "own_application"}, headers=hd).status_code
        == 200
    )
    problem(
        client.post(f"{BASE}/{rid}/entries/{e}/remove", json={"reason_code": "own_application"}, headers=hd),
        409,
        "entry-not-active",
    )
    # after removal the applicant may register again
    assert _register(client, rid, citizen("a")) != e


def test_idempotent_writes(client, ledger, service_key, citizen):
    hd = service_key("city.housing", "queue:housing:*")
    h = {**hd, "Idempotency-Key": "open-1"}
    first = client.post(BASE, json={"name": "Реєстр"}, headers=h)
    assert first.status_code == 201 and "idempotency-replayed" not in first.headers
    again = client.post(BASE, json={"name": "Реєстр"}, headers=h)
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    rid = first.json()["register_id"]
    problem(client.post(BASE, json={"name": "Інший"}, headers=h), 422, "idempotency-key-reused")

    before = _events(ledger)
    hc = {**citizen("a"), "Idempotency-Key": "reg-1"}
    r1 = client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD}, headers=hc)
    r2 = client.post(f"{BASE}/{rid}/entries", json={"household_data": HOUSEHOLD}, headers=hc)
    assert r1.status_code == r2.status_code == 201 and r2.json() == r1.json()
    assert r2.headers["idempotency-replayed"] == "true"
    entry = r1.json()["entry"]
    assert _events(ledger) == before + 1

    ha = {**hd, "Idempotency-Key": "alloc-1"}
    a1 = client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "kv-1"}, headers=ha)
    a2 = client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "kv-1"}, headers=ha)
    assert a1.status_code == a2.status_code == 201 and a1.json() == a2.json() and a1.json()["entry"] == entry
    assert _events(ledger) == before + 2
    assert client.get(f"{BASE}/{rid}").json()["allocated"] == 1

    # a refusal is replayed too, and writes nothing
    hr = {**hd, "Idempotency-Key": "alloc-2"}
    f1 = problem(
        client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "kv-1"}, headers=hr),
        409,
        "place-unavailable",
    )
    f2 = client.post(f"{BASE}/{rid}/allocations", json={"list": "general", "dwelling": "kv-1"}, headers=hr)
    assert f2.headers["idempotency-replayed"] == "true" and problem(f2, 409, "place-unavailable") == f1
    assert _events(ledger) == before + 2


def test_openapi_documents_housing(client):
    doc = client.get("/openapi.json").json()
    paths = {p: ops for p, ops in doc["paths"].items() if p.startswith(BASE)}
    assert set(paths) == {
        BASE,
        f"{BASE}/{{register_id}}",
        f"{BASE}/{{register_id}}/entries",
        f"{BASE}/{{register_id}}/entries/{{entry}}/lists",
        f"{BASE}/{{register_id}}/entries/{{entry}}/lists/{{list_name}}/exclude",
        f"{BASE}/{{register_id}}/entries/{{entry}}/reregister",
        f"{BASE}/{{register_id}}/entries/{{entry}}/remove",
        f"{BASE}/{{register_id}}/entries/{{entry}}/position",
        f"{BASE}/{{register_id}}/removal-proposals",
        f"{BASE}/{{register_id}}/allocations",
        f"{BASE}/{{register_id}}/lists/{{list_name}}",
    }
    for ops in paths.values():
        for op in ops.values():
            assert op["tags"] == ["housing"]
            assert op["responses"]["default"]["content"]["application/problem+json"]
            if "requestBody" in op:
                assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
                assert "403" in op["responses"] and "409" in op["responses"]
    schemas = doc["components"]["schemas"]
    assert schemas["RegisterHousingEntry"]["properties"]["household_data"]["examples"]
    assert schemas["AllocateDwelling"]["properties"]["dwelling"]["examples"] == ["bud-7/kv-12"]
