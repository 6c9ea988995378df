from __future__ import annotations

from tests.api.conftest import integrate, problem


def test_petition_flow(client, ledger, service_key, citizen, clock):
    council = service_key("city.council", "petition:*")
    r = client.post(
        "/v1/petitions", json={"title": "Т", "text": "текст", "rule_set": "hradyzk"}, headers=citizen("alice")
    )
    assert r.status_code == 201, r.text
    pid = r.json()["petition_id"]
    assert client.post(f"/v1/petitions/{pid}/publish", headers=council).status_code == 200
    r = client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("bob"))
    assert r.status_code == 201, r.text
    ev = r.json()["events"][0]
    problem(client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("bob")), 409, "duplicate-signature")
    integrate(ledger)
    rc = client.get(ev["receipt"]).json()
    assert rc["status"] == "proved" and rc["leaf_hash"] == ev["leaf_hash"]
    assert client.get(f"/v1/petitions/{pid}").json()["signatures"] == 1
