"""The ledger watches itself through the API: a changed row fails /readyz and the metrics after a self-audit round,
and the receipt endpoint never answers "proved" with a proof that does not verify (ledger/watch.py)."""

from __future__ import annotations

from sqlalchemy import text

from tests.api.conftest import integrate, problem


def test_a_changed_row_fails_readiness_and_receipts(client, ledger, citizen):
    created = client.post("/v1/petitions", json={"title": "Сквер", "text": "t"}, headers=citizen("a"))
    assert created.status_code == 201, created.text
    receipt_url = created.json()["events"][0]["receipt"]
    integrate(ledger)
    assert ledger.watch_round().ok
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["self_audit_checked_size"] == 5 and ready["self_audit_complete_at"]
    assert client.get(receipt_url).json()["status"] == "proved"
    assert "hromada_self_audit_ok 1.0" in client.get("/metrics").text

    table = ledger.integrator.events.name
    with ledger.engine.begin() as conn:
        state = bytes(conn.execute(text(f"SELECT state FROM {table} WHERE id = 5")).scalar_one())
        conn.execute(
            text(f"UPDATE {table} SET state = :s WHERE id = 5"), {"s": state.replace("Сквер".encode(), b"Parking")}
        )

    # the receipt endpoint checks its own proof: no "proved" for the changed row, even before the next round
    body = problem(client.get(receipt_url), 503, "storage-tampered")
    assert body["evidence"]["where"] == "leaf 4"

    assert not ledger.watch_round().ok
    body = problem(client.get("/readyz"), 503, "storage-tampered")
    assert body["evidence"]["where"] == "leaf 4" and body["evidence"]["expected"] != body["evidence"]["found"]
    assert "hromada_self_audit_ok 0.0" in client.get("/metrics").text
