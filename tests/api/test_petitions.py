"""Petitions through HTTP on a real database: every command and its error paths."""

from __future__ import annotations

from tests.api.conftest import problem

HRADYZK = {"title": "Велодоріжка", "text": "Прошу облаштувати велодоріжку.", "rule_set": "hradyzk"}


def _published(client, council, citizen, rule_set, threshold=2):
    r = client.post(
        "/v1/petitions", json={**HRADYZK, "rule_set": rule_set(threshold=threshold)}, headers=citizen("author")
    )
    assert r.status_code == 201, r.text
    pid = r.json()["petition_id"]
    r = client.post(f"/v1/petitions/{pid}/publish", headers=council)
    assert r.status_code == 200, r.text
    assert r.json()["events"][0]["type"] == "petition.published"
    return pid


def test_create_read_and_list(client, citizen):
    r = client.post("/v1/petitions", json=HRADYZK, headers=citizen("alice"))
    assert r.status_code == 201
    body = r.json()
    pid = body["petition_id"]
    (ev,) = body["events"]
    assert ev["type"] == "petition.created" and ev["stream"] == pid and ev["version"] == 1
    assert len(ev["leaf_hash"]) == 64 and ev["receipt"] == f"/v1/receipts/{ev['id']}"
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["status"] == "pending" and p["signatures"] == 0 and p["threshold"] == 100
    assert p["deadline"] is None and p["response_due"] is None and p["author"].startswith("cit:v")
    listed = client.get("/v1/petitions", params={"status": "pending"}).json()
    assert [x["id"] for x in listed] == [pid]
    assert client.get("/v1/petitions", params={"status": "closed"}).json() == []


def test_full_lifecycle_threshold_response_close(client, service_key, citizen, clock, rule_set):
    council = service_key("city.council", "petition:*")
    pid = _published(client, council, citizen, rule_set, threshold=2)
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["status"] == "published" and p["deadline"] > p["published_at"]
    r1 = client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s1"))
    assert r1.status_code == 201 and r1.json()["signatures"] == 1
    r2 = client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s2"))
    types = [e["type"] for e in r2.json()["events"]]
    assert types == ["petition.signed", "petition.threshold_reached"]
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["threshold_reached"] and p["response_due"] and p["signatures"] == 2
    # no second response, no response by a citizen
    problem(
        client.post(f"/v1/petitions/{pid}/response", json={"response": "x"}, headers=citizen("s1")), 403, "forbidden"
    )
    r = client.post(f"/v1/petitions/{pid}/response", json={"response": "Зробимо."}, headers=council)
    assert r.status_code == 200, r.text
    problem(
        client.post(f"/v1/petitions/{pid}/response", json={"response": "again"}, headers=council),
        409,
        "already-responded",
    )
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["responded"] and p["response_on_time"] is True
    problem(client.post(f"/v1/petitions/{pid}/close", headers=council), 409, "deadline-not-passed")
    clock.advance(days=200)
    problem(client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("late")), 409, "deadline-passed")
    assert client.post(f"/v1/petitions/{pid}/close", headers=council).status_code == 200
    assert client.get(f"/v1/petitions/{pid}").json()["status"] == "closed"
    problem(client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("after")), 409, "petition-not-open")


def test_reject_and_moderation_errors(client, service_key, citizen):
    council = service_key("city.council", "petition:moderate")
    pid = client.post("/v1/petitions", json=HRADYZK, headers=citizen("a")).json()["petition_id"]
    problem(client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("b")), 409, "petition-not-open")
    problem(client.post(f"/v1/petitions/{pid}/reject", json={"reason": ""}, headers=council), 422, "validation-error")
    r = client.post(f"/v1/petitions/{pid}/reject", json={"reason": "Не компетенція ради"}, headers=council)
    assert r.status_code == 200
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["status"] == "rejected" and p["rejected_reason"] == "Не компетенція ради"
    problem(client.post(f"/v1/petitions/{pid}/publish", headers=council), 409, "petition-not-open")
    # respond needs petition:respond, which this key lacks
    problem(client.post(f"/v1/petitions/{pid}/response", json={"response": "x"}, headers=council), 403, "missing-scope")


def test_duplicate_signature_and_identity_method(client, service_key, citizen, rule_set):
    council = service_key("city.council", "petition:*")
    pid = _published(client, council, citizen, rule_set, threshold=100)
    assert client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("x")).status_code == 201
    body = problem(client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("x")), 409, "duplicate-signature")
    assert body["code"] == "duplicate_signature" and body["evidence"]["petition"] == pid
    problem(
        client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("y", method="password")),
        403,
        "identity-method-not-allowed",
    )


def test_auth_and_input_errors(client, service_key, citizen):
    problem(client.post("/v1/petitions", json=HRADYZK), 401, "unauthenticated")
    svc = service_key("city.council", "petition:*")
    problem(client.post("/v1/petitions", json=HRADYZK, headers=svc), 403, "forbidden")
    problem(client.post("/v1/petitions", json={"title": "x"}, headers=citizen("a")), 422, "validation-error")
    problem(client.post("/v1/petitions", json={**HRADYZK, "extra": 1}, headers=citizen("a")), 422, "validation-error")
    own_rules = {**HRADYZK, "rule_set": None, "rules": {"threshold": 2}}  # a citizen's own threshold (issue #15)
    problem(client.post("/v1/petitions", json=own_rules, headers=citizen("a")), 422, "custom-rules-refused")
    unpublished = {**HRADYZK, "rule_set": "lviv"}
    problem(client.post("/v1/petitions", json=unpublished, headers=citizen("a")), 422, "ruleset-not-published")
    no_rules = {**HRADYZK, "rule_set": None}
    problem(client.post("/v1/petitions", json=no_rules, headers=citizen("a")), 422, "invalid-input")
    problem(
        client.post(
            "/v1/petitions", content=b"{not json", headers={**citizen("a"), "content-type": "application/json"}
        ),
        422,
        "validation-error",
    )
    problem(client.get("/v1/petitions/not-a-uuid"), 422, "validation-error")
    problem(client.get("/v1/petitions/00000000-0000-4000-8000-000000000000"), 404, "not-found")
    problem(client.post("/v1/petitions/00000000-0000-4000-8000-000000000000/publish", headers=svc), 404, "not-found")
    problem(
        client.post("/v1/petitions/00000000-0000-4000-8000-000000000000/signatures", headers=citizen("z")),
        404,
        "not-found",
    )


def test_unregistered_or_descoped_service_is_refused_by_the_log(client, ledger, citizen):
    from api.auth.keys import create_key

    # a key for a service the log never registered: the domain refuses it
    key = create_key(ledger.engine, "ghost.service", ["petition:*"])
    pid = client.post("/v1/petitions", json=HRADYZK, headers=citizen("a")).json()["petition_id"]
    problem(
        client.post(f"/v1/petitions/{pid}/publish", headers={"Authorization": f"Bearer {key}"}),
        403,
        "service-not-registered",
    )


def test_an_unanswered_petition_is_flagged_overdue_by_the_clock(client, ledger, service_key, citizen, clock, rule_set):
    from domain.clock import run_due

    council = service_key("city.council", "petition:*")
    pid = _published(client, council, citizen, rule_set, threshold=1)
    client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s1"))
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["threshold_reached"] and p["response_overdue_at"] is None
    assert [f.action for f in run_due(ledger.app, clock.advance(days=1))] == []  # not yet
    fired = run_due(ledger.app, clock.advance(days=30))
    assert [(f.action, f.stream, f.error) for f in fired] == [("petition.response_overdue", pid, None)]
    p = client.get(f"/v1/petitions/{pid}").json()
    assert p["response_overdue_at"] is not None and p["response_overdue_at"][:10] > p["response_due"]
    r = client.post(f"/v1/petitions/{pid}/response", json={"response": "Пізно."}, headers=council)
    assert r.status_code == 200 and client.get(f"/v1/petitions/{pid}").json()["response_on_time"] is False
