"""Operator commands on city services through the API (issue #15): `POST /v1/services/{service}/revoke`,
`PUT /v1/services/{service}/scopes`, `GET /v1/services/{service}`; a revoked service's writes are refused."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.auth.keys import create_key, list_keys
from ledger.runtime import Ledger
from tests.api.conftest import integrate, problem
from verifier.audit import run_audit
from verifier.note import parse_verifier_key

Keys = Callable[..., dict[str, str]]
QUEUE = {"name": "Садочки", "institutions": ["dnz-1"]}


def _queue(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/v1/queues", json=QUEUE, headers=headers)


def test_a_revoked_service_and_its_keys_are_refused(client: TestClient, ledger: Ledger, service_key: Keys) -> None:
    admin = service_key("city.it", "service:admin")
    edu = service_key("city.education", "queue:kindergarten:*")
    assert _queue(client, edu).status_code == 201

    r = client.post("/v1/services/city.education/revoke", json={"reason": "department merged"}, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["service"] == "city.education" and body["keys_revoked"] == 1
    assert [e["type"] for e in body["events"]] == ["service.revoked"]
    # its key is refused at once in this process (the cache is dropped) ...
    problem(_queue(client, edu), 401, "invalid-token")
    assert all(k["revoked_at"] for k in list_keys(ledger.engine) if k["service"] == "city.education")
    # ... and a key that escaped the revocation (another ledger's key table, a restored backup) is refused by the
    # domain: the log says the service was revoked
    escaped = {"Authorization": f"Bearer {create_key(ledger.engine, 'city.education', ['queue:kindergarten:*'])}"}
    problem(_queue(client, escaped), 403, "service-revoked")

    view = client.get("/v1/services/city.education").json()
    assert view["revoked"] and view["revoked_at"] and view["scopes"] == ["queue:kindergarten:*"]
    again = problem(
        client.post("/v1/services/city.education/revoke", json={"reason": "x"}, headers=admin),
        409,
        "service-already-revoked",
    )
    assert again["evidence"] == {"service": "city.education"}

    # the log shows it and still audits clean
    integrate(ledger)
    export = client.get("/v1/export")
    assert export.status_code == 200
    path = Path(ledger.settings.data_dir) / "b.tar.gz"
    path.write_bytes(export.content)
    with tarfile.open(path) as tar:
        events = tar.extractfile("./events.jsonl").read().decode()  # type: ignore[union-attr]
    assert '"type":"service.revoked"' in events and "department merged" in events
    report = run_audit(path, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.verified, report.to_json()


def test_revoking_needs_service_admin_and_a_known_service(client: TestClient, service_key: Keys) -> None:
    admin = service_key("city.it", "service:admin")
    edu = service_key("city.education", "queue:kindergarten:*")
    body = {"reason": "compromised key"}
    problem(client.post("/v1/services/city.education/revoke", json=body), 401, "unauthenticated")
    problem(client.post("/v1/services/city.education/revoke", json=body, headers=edu), 403, "missing-scope")
    problem(client.post("/v1/services/nobody/revoke", json=body, headers=admin), 404, "not-found")
    problem(client.post("/v1/services/bad%20id/revoke", json=body, headers=admin), 422, "validation-error")
    problem(
        client.post("/v1/services/city.education/revoke", json={"reason": ""}, headers=admin), 422, "validation-error"
    )
    problem(client.post("/v1/services/city.education/revoke", json={}, headers=admin), 422, "validation-error")
    problem(client.get("/v1/services/nobody"), 404, "not-found")
    assert _queue(client, edu).status_code == 201  # nothing was revoked


def test_an_admin_key_whose_service_lost_the_scope_in_the_log_is_refused(
    client: TestClient, ledger: Ledger, service_key: Keys
) -> None:
    """The key's scope passes the API; the log's scopes are the domain's (and the verifier's) authority."""
    admin = service_key("city.it", "service:admin")
    service_key("city.education", "queue:kindergarten:*")
    stale = {"Authorization": f"Bearer {create_key(ledger.engine, 'city.it', ['service:admin'])}"}
    r = client.put("/v1/services/city.it/scopes", json={"scopes": ["petition:moderate"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["events"]] == ["service.scopes_changed"]
    problem(
        client.post("/v1/services/city.education/revoke", json={"reason": "x"}, headers=stale), 403, "missing-scope"
    )


def test_changing_scopes(client: TestClient, service_key: Keys) -> None:
    admin = service_key("city.it", "service:admin")
    edu = service_key("city.education", "queue:kindergarten:*")
    r = client.put("/v1/services/city.education/scopes", json={"scopes": ["queue:housing:*"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/v1/services/city.education").json()["scopes"] == ["queue:housing:*"]
    problem(_queue(client, edu), 403, "missing-scope")  # the key still says kindergarten; the log does not
    problem(
        client.put("/v1/services/city.education/scopes", json={"scopes": ["queue:housing:*"]}, headers=admin),
        409,
        "invalid-state",
    )
    problem(
        client.put("/v1/services/city.education/scopes", json={"scopes": ["Bad Scope"]}, headers=admin),
        422,
        "invalid-scope",
    )
    problem(client.put("/v1/services/city.education/scopes", json={"scopes": ["x"]}, headers=edu), 403, "missing-scope")
    problem(client.put("/v1/services/nobody/scopes", json={"scopes": ["x"]}, headers=admin), 404, "not-found")
