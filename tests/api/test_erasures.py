"""Erasure of personal data through the API (issue #15): `POST /v1/erasures` (service `pii:erase`) records
`personal_data.erased` and shreds the vault subject; the entry view and `GET /v1/erasures/{subject}` say "erased";
the exported bundle audits clean afterwards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ledger.runtime import Ledger
from tests.api.conftest import integrate, problem
from verifier.audit import run_audit
from verifier.note import parse_verifier_key

Headers = Callable[..., dict[str, str]]
CHILD = {"name": "Марія", "birth_date": "2023-04-01"}


def _entry(client: TestClient, edu: dict[str, str], parent: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    r = client.post("/v1/queues", json={"name": "Дитсадки", "institutions": ["ds-1"]}, headers=edu)
    assert r.status_code == 201, r.text
    qid = r.json()["queue_id"]
    body = {"child_key": "CERT-1", "child_data": CHILD, "birth_year": 2023, "institutions": ["ds-1"]}
    r = client.post(f"/v1/queues/{qid}/entries", json=body, headers=parent)
    assert r.status_code == 201, r.text
    return qid, r.json()["entry"], r.json()


def test_erasure_is_logged_shown_and_the_bundle_audits_clean(
    client: TestClient, ledger: Ledger, service_key: Headers, citizen: Headers, tmp_path: Path
) -> None:
    edu = service_key("city.education", "queue:kindergarten:*")
    dpo = service_key("city.privacy", "pii:erase")
    qid, entry, registered = _entry(client, edu, citizen("mom"))
    subject = f"kindergarten.{entry}"
    view = client.get(f"/v1/queues/{qid}/entries/{entry}/position").json()
    assert view["personal_data"] == {"status": "kept", "erased_at": None, "reason": None}
    problem(client.get(f"/v1/erasures/{subject}"), 404, "record-not-found")

    r = client.post("/v1/erasures", json={"subject": subject, "reason": "subject_request"}, headers=dpo)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["subject"] == subject and done["reason"] == "subject_request" and done["erased_at"]
    assert [e["type"] for e in done["events"]] == ["personal_data.erased"]
    assert not ledger.app.vault.holds(subject)

    assert client.get(f"/v1/erasures/{subject}").json() == {k: done[k] for k in ("subject", "reason", "erased_at")}
    view = client.get(f"/v1/queues/{qid}/entries/{entry}/position").json()
    assert view["personal_data"] == {"status": "erased", "erased_at": done["erased_at"], "reason": "subject_request"}
    assert view["status"] == "waiting"  # the entry itself stays in the queue; only the data behind it is gone

    again = client.post("/v1/erasures", json={"subject": subject, "reason": "subject_request"}, headers=dpo)
    problem(again, 410, "subject-erased")

    integrate(ledger)
    bundle = tmp_path / "after-erasure.tar.gz"
    bundle.write_bytes(client.get("/v1/export").content)
    report = run_audit(bundle, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.verified, report.to_json()
    # the receipt of the entry's registration still verifies, its commitment unchanged
    receipt = client.get(registered["events"][0]["receipt"]).json()
    assert receipt["event"]["data"]["child_commitment"].startswith("sha256:") and receipt["inclusion_proof"] is not None


def test_erasure_needs_pii_erase_and_a_known_subject(
    client: TestClient, service_key: Headers, citizen: Headers
) -> None:
    edu = service_key("city.education", "queue:kindergarten:*")
    dpo = service_key("city.privacy", "pii:erase")
    _, entry, _ = _entry(client, edu, citizen("mom"))
    body = {"subject": f"kindergarten.{entry}", "reason": "court_order"}
    problem(client.post("/v1/erasures", json=body), 401, "unauthenticated")
    problem(client.post("/v1/erasures", json=body, headers=edu), 403, "missing-scope")
    problem(client.post("/v1/erasures", json=body, headers=citizen("mom")), 403, "forbidden")
    unknown = {"subject": "kindergarten.00000000-0000-5000-8000-000000000000", "reason": "court_order"}
    problem(client.post("/v1/erasures", json=unknown, headers=dpo), 404, "record-not-found")
    for bad in (
        {"subject": "petition.x", "reason": "court_order"},
        {"subject": f"kindergarten.{entry}", "reason": "her mother Olena asked"},  # free text never enters the log
        {"subject": f"kindergarten.{entry}"},
    ):
        problem(client.post("/v1/erasures", json=bad, headers=dpo), 422, "validation-error")
    problem(client.get("/v1/erasures/petition.x"), 422, "validation-error")
    assert client.post("/v1/erasures", json=body, headers=dpo).status_code == 201  # nothing was erased before
