"""Idempotency-Key: a retry returns the first answer and writes nothing twice."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import problem

PETITION = {"title": "T", "text": "t", "rule_set": "kyiv"}


def _events(ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger.integrator.events)).scalar_one())


def test_retry_returns_the_first_answer(client, ledger, citizen):
    h = {**citizen("alice"), "Idempotency-Key": "k-1"}
    before = _events(ledger)
    first = client.post("/v1/petitions", json=PETITION, headers=h)
    assert first.status_code == 201 and "idempotency-replayed" not in first.headers
    again = client.post("/v1/petitions", json=PETITION, headers=h)
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert _events(ledger) == before + 1
    # same key, another request: refused
    problem(client.post("/v1/petitions", json={**PETITION, "title": "Other"}, headers=h), 422, "idempotency-key-reused")
    # the same key of another principal is independent
    other = client.post("/v1/petitions", json=PETITION, headers={**citizen("bob"), "Idempotency-Key": "k-1"})
    assert other.status_code == 201 and other.json()["petition_id"] != first.json()["petition_id"]
    # without a key, two requests are two writes
    client.post("/v1/petitions", json=PETITION, headers=citizen("alice"))
    client.post("/v1/petitions", json=PETITION, headers=citizen("alice"))
    assert _events(ledger) == before + 4


def test_refusals_are_replayed_too(client, service_key, citizen):
    council = service_key("city.council", "petition:*")
    pid = client.post("/v1/petitions", json=PETITION, headers=citizen("a")).json()["petition_id"]
    client.post(f"/v1/petitions/{pid}/publish", headers=council)
    h = {**citizen("s"), "Idempotency-Key": "sig"}
    assert client.post(f"/v1/petitions/{pid}/signatures", headers=h).status_code == 201
    replay = client.post(f"/v1/petitions/{pid}/signatures", headers=h)
    assert replay.status_code == 201 and replay.headers["idempotency-replayed"] == "true"
    # a genuinely new attempt (new key) gets the duplicate refusal, and its retry gets the same refusal
    h2 = {**citizen("s"), "Idempotency-Key": "sig-2"}
    first = problem(client.post(f"/v1/petitions/{pid}/signatures", headers=h2), 409, "duplicate-signature")
    second = client.post(f"/v1/petitions/{pid}/signatures", headers=h2)
    assert second.headers["idempotency-replayed"] == "true"
    assert problem(second, 409, "duplicate-signature") == first
    problem(
        client.post(f"/v1/petitions/{pid}/signatures", headers={**citizen("s"), "Idempotency-Key": "x" * 201}),
        422,
        "validation-error",
    )


def test_in_progress_key_conflicts(client, ledger, citizen):
    import time

    from sqlalchemy import insert

    from api.auth.principals import CitizenPrincipal
    from api.schema import api_idempotency
    from domain.identity import CitizenIdentity

    principal = CitizenPrincipal(CitizenIdentity("dev:alice", "diia"), "x").key
    from api.idempotency import request_hash

    digest = request_hash("POST", "/v1/petitions", client.app.state.api and _body())
    with ledger.engine.begin() as conn:
        conn.execute(
            insert(api_idempotency).values(
                principal=principal, key="busy", request_hash=digest, status=0, created=time.time()
            )
        )
    r = client.post("/v1/petitions", json=PETITION, headers={**citizen("alice"), "Idempotency-Key": "busy"})
    problem(r, 409, "idempotency-in-progress")
    assert r.headers["Retry-After"] == "1"


def _body():
    from api.routers.petitions_models import CreatePetition

    return CreatePetition(**PETITION)
