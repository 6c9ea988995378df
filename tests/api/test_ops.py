"""Operations endpoints and the receipt page's static files."""

from __future__ import annotations

from tests.api.conftest import integrate, problem


def test_health_ready_metrics(client, ledger, citizen):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["tree_size"] == 0
    client.post("/v1/petitions", json={"title": "T", "text": "t"}, headers=citizen("a"))
    integrate(ledger)
    text = client.get("/metrics").text
    for name in (
        "hromada_http_requests_total",
        "hromada_http_request_duration_seconds_bucket",
        'hromada_events_written_total{type="petition.created"} 1',
        "hromada_log_tree_size 5.0",  # the statutes (4, tests/api/conftest.py) and the petition
        "hromada_integration_lag_seconds",
        "hromada_last_anchor_age_seconds",
        "hromada_up 1.0",
    ):
        assert name in text, name
    assert 'route="/v1/petitions",status="201"' in text


def test_unknown_paths_and_methods_are_problems(client):
    problem(client.get("/nope"), 404, "not-found")
    problem(client.delete("/v1/petitions"), 405, "method-not-allowed")
    big = b"{" + b" " * (300 * 1024) + b"}"
    problem(
        client.post("/v1/petitions", content=big, headers={"content-type": "application/json"}),
        413,
        "payload-too-large",
    )


def test_metrics_label_openapi_by_its_route(client):
    """Issue #17: FastAPI's own Starlette routes (/openapi.json, /docs) are labelled by their path, not
    "unmatched"; a path no route serves still is."""
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    client.get("/nope")
    text = client.get("/metrics").text
    assert 'route="/openapi.json",status="200"' in text
    assert 'route="/docs",status="200"' in text
    assert 'route="unmatched",status="404"' in text
