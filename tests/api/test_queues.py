"""Kindergarten queue through HTTP: every command, the public list and positions, and error paths."""

from __future__ import annotations

from tests.api.conftest import problem

CHILD = {"name": "Марія", "birth_date": "2023-04-01"}


def _queue(client, edu):
    r = client.post("/v1/queues", json={"name": "Дитсадки", "institutions": ["ds-1", "ds-2", "ds-3"]}, headers=edu)
    assert r.status_code == 201, r.text
    return r.json()["queue_id"]


def _register(client, qid, headers, child_key, institutions=("ds-1",), birth_year=2023, **extra):
    body = {
        "child_key": child_key,
        "child_data": CHILD,
        "birth_year": birth_year,
        "institutions": list(institutions),
        **extra,
    }
    r = client.post(f"/v1/queues/{qid}/entries", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["entry"]


def test_queue_lifecycle(client, service_key, citizen, clock):
    edu = service_key("city.education", "queue:kindergarten:*")
    qid = _queue(client, edu)
    q = client.get(f"/v1/queues/{qid}").json()
    assert q["institutions"] == ["ds-1", "ds-2", "ds-3"] and q["benefits"] and q["registrations"] == 0
    e1 = _register(client, qid, citizen("mom1"), "CERT-1", ("ds-1", "ds-2"))
    clock.advance(seconds=10)
    e2 = _register(client, qid, citizen("mom2"), "CERT-2", ("ds-1",))
    clock.advance(seconds=10)
    # a service (CNAP) registers for a citizen
    e3 = _register(client, qid, edu, "CERT-3", ("ds-1",), applicant={"subject": "dev:mom3", "method": "diia"})
    listing = client.get(f"/v1/queues/{qid}/list", params={"institution": "ds-1", "birth_year": 2023}).json()
    assert [x["entry"] for x in listing] == [e1, e2, e3]
    assert set(listing[0]) == {
        "position",
        "entry",
        "benefit_rank",
        "registered_at",
        "offer_pending",
    }  # no personal data
    # benefit moves e3 to the front
    code = q["benefits"][0]["code"]
    r = client.post(
        f"/v1/queues/{qid}/entries/{e3}/benefits", json={"code": code, "document": {"doc": "УБД-123"}}, headers=edu
    )
    assert r.status_code == 201 and r.json()["document_commitment"].startswith("sha256:")
    pos = client.get(f"/v1/queues/{qid}/entries/{e3}/position").json()
    assert pos["positions"] == {"ds-1": 1} and pos["status"] == "waiting"
    problem(
        client.post(
            f"/v1/queues/{qid}/entries/{e3}/benefits", json={"code": code, "document": {"d": "x"}}, headers=edu
        ),
        409,
        "benefit-already-granted",
    )
    r = client.post(
        f"/v1/queues/{qid}/entries/{e3}/benefits/{code}/revoke", json={"reason": "document_expired"}, headers=edu
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/queues/{qid}/entries/{e3}/position").json()["positions"] == {"ds-1": 3}
    # preferences: the applicant may, another citizen may not
    problem(
        client.put(
            f"/v1/queues/{qid}/entries/{e1}/preferences", json={"institutions": ["ds-3"]}, headers=citizen("mom2")
        ),
        403,
        "not-authorised",
    )
    assert (
        client.put(
            f"/v1/queues/{qid}/entries/{e1}/preferences",
            json={"institutions": ["ds-1", "ds-3"]},
            headers=citizen("mom1"),
        ).status_code
        == 200
    )
    # offers go to the first eligible entry
    problem(
        client.post(
            f"/v1/queues/{qid}/offers",
            json={"institution": "ds-1", "birth_year": 2023, "place": "p1", "entry": e2},
            headers=edu,
        ),
        409,
        "offer-out-of-turn",
    )
    r = client.post(
        f"/v1/queues/{qid}/offers", json={"institution": "ds-1", "birth_year": 2023, "place": "p1"}, headers=edu
    )
    assert r.status_code == 201, r.text
    offer = r.json()["offer"]
    assert client.get(f"/v1/queues/{qid}/entries/{e1}/position").json()["offer"]["offer"] == offer
    problem(
        client.post(
            f"/v1/queues/{qid}/offers", json={"institution": "ds-1", "birth_year": 2023, "place": "p1"}, headers=edu
        ),
        409,
        "place-unavailable",
    )
    problem(client.post(f"/v1/queues/{qid}/offers/{offer}/accept", headers=citizen("mom2")), 403, "not-authorised")
    assert client.post(f"/v1/queues/{qid}/offers/{offer}/decline", headers=citizen("mom1")).status_code == 200
    problem(client.post(f"/v1/queues/{qid}/offers/{offer}/accept", headers=citizen("mom1")), 409, "offer-not-pending")
    r = client.post(
        f"/v1/queues/{qid}/offers", json={"institution": "ds-1", "birth_year": 2023, "place": "p1"}, headers=edu
    )
    offer2 = r.json()["offer"]
    assert client.get(f"/v1/queues/{qid}/entries/{e2}/position").json()["offer"]["offer"] == offer2
    assert client.post(f"/v1/queues/{qid}/offers/{offer2}/accept", headers=citizen("mom2")).status_code == 200
    assert client.get(f"/v1/queues/{qid}/entries/{e2}/position").json()["status"] == "placed"
    # withdraw (applicant) and remove (service with a reason code)
    assert client.post(f"/v1/queues/{qid}/entries/{e1}/withdraw", headers=citizen("mom1")).status_code == 200
    problem(client.post(f"/v1/queues/{qid}/entries/{e1}/withdraw", headers=citizen("mom1")), 409, "entry-not-active")
    problem(
        client.post(f"/v1/queues/{qid}/entries/{e3}/remove", json={"reason_code": "nope"}, headers=edu),
        422,
        "unknown-reason-code",
    )
    reason = q["removal_reasons"][0]["code"]
    assert (
        client.post(f"/v1/queues/{qid}/entries/{e3}/remove", json={"reason_code": reason}, headers=edu).status_code
        == 200
    )
    assert client.get(f"/v1/queues/{qid}/list", params={"institution": "ds-1", "birth_year": 2023}).json() == []
    problem(
        client.post(
            f"/v1/queues/{qid}/offers", json={"institution": "ds-1", "birth_year": 2023, "place": "p9"}, headers=edu
        ),
        409,
        "no-eligible-entry",
    )


def test_queue_errors(client, service_key, citizen):
    edu = service_key("city.education", "queue:kindergarten:*")
    reg_only = service_key("city.cnap", "queue:kindergarten:register")
    qid = _queue(client, edu)
    problem(
        client.post("/v1/queues", json={"name": "x", "institutions": ["a"]}, headers=reg_only), 403, "missing-scope"
    )
    problem(client.post("/v1/queues", json={"name": "x", "institutions": []}, headers=edu), 422, "validation-error")
    body = {"child_key": "C", "child_data": CHILD, "birth_year": 2023, "institutions": ["ds-9"]}
    problem(client.post(f"/v1/queues/{qid}/entries", json=body, headers=citizen("m")), 422, "unknown-institution")
    problem(
        client.post(f"/v1/queues/{qid}/entries", json={**body, "institutions": ["ds-1"]}, headers=reg_only),
        422,
        "invalid-input",
    )  # a service must name the applicant
    problem(
        client.post(
            f"/v1/queues/{qid}/entries",
            json={**body, "institutions": ["ds-1"], "applicant": {"subject": "dev:x", "method": "diia"}},
            headers=citizen("m"),
        ),
        403,
        "not-authorised",
    )
    _register(client, qid, citizen("m"), "C")
    problem(
        client.post(f"/v1/queues/{qid}/entries", json={**body, "institutions": ["ds-1"]}, headers=citizen("m2")),
        409,
        "duplicate-entry",
    )
    problem(
        client.post(f"/v1/queues/{qid}/entries/nope/benefits", json={"code": "x", "document": {}}, headers=edu),
        404,
        "unknown-entry",
    )
    problem(client.post(f"/v1/queues/{qid}/offers/nope/accept", headers=citizen("m")), 404, "unknown-offer")
    problem(client.get(f"/v1/queues/{qid}/entries/nope/position"), 404, "unknown-entry")
    problem(client.get(f"/v1/queues/{qid}/list", params={"institution": "ds-1"}), 422, "validation-error")
    problem(client.get("/v1/queues/00000000-0000-4000-8000-000000000000"), 404, "not-found")
    problem(
        client.post(
            f"/v1/queues/{qid}/entries", json={**body, "child_data": {"nested": {"x": 1}}}, headers=citizen("m3")
        ),
        422,
        "validation-error",
    )
