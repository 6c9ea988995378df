"""Front processes (api/serving/front.py) against a real writer (the HTTP app on a Unix socket plus its command server),
on SQLite and PostgreSQL: signatures and votes handed over as verified commands answer exactly as the app does,
every refusal too; everything else passes through; a spoofed X-Forwarded-For changes nothing; a missing writer
is a 503 problem. The writer and the direct `client` share one app, so both doors see the same state."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.serving.front import FrontApp
from api.settings import ApiSettings
from tests.api.conftest import integrate, problem
from tests.api.test_petitions import _published
from tests.api.writer_server import writer


@pytest.fixture
def front(client: TestClient, api_settings: ApiSettings, tmp_path: Path) -> Iterator[TestClient]:
    with writer(client.app) as (http_sock, cmd_sock, commands):
        app = FrontApp(api_settings, tmp_path, http_sock, cmd_sock)
        with TestClient(app, raise_server_exceptions=False) as c:
            c.commands = commands  # type: ignore[attr-defined]
            yield c


def _ballot(client: TestClient, svc: dict[str, str], clock: Any) -> str:
    body = {
        "title": "Що збудувати?",
        "kind": "poll",
        "options": [{"id": "park", "title": "Парк"}, {"id": "pool", "title": "Басейн"}],
        "method": {"type": "single"},
        "opens_at": clock.now.isoformat(),
        "closes_at": (clock.now + timedelta(days=7)).isoformat(),
    }
    r = client.post("/v1/ballots", json=body, headers=svc)
    assert r.status_code == 201, r.text
    return str(r.json()["ballot_id"])


def _same_problem(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers["content-type"] == b.headers["content-type"]
    ja, jb = a.json(), b.json()
    assert ja == jb, (ja, jb)


def test_a_signature_through_a_front_is_decided_by_the_writer(front, client, service_key, citizen, ledger, rule_set):
    council = service_key("city.council", "petition:*")
    pid = _published(front, council, citizen, rule_set, threshold=2)  # create and publish pass through
    assert front.commands.answered == 0
    r1 = front.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s1"))
    assert r1.status_code == 201, r1.text
    assert r1.json()["signatures"] == 1 and r1.json()["petition_id"] == pid
    assert r1.headers["content-type"] == "application/json"
    r2 = front.post(f"/v1/petitions/{pid}/signatures", headers=citizen("s2"))
    assert [e["type"] for e in r2.json()["events"]] == ["petition.signed", "petition.threshold_reached"]
    assert front.commands.answered == 2  # both went the command way, not through the writer's HTTP
    assert client.get(f"/v1/petitions/{pid}").json()["signatures"] == 2  # the writer's state
    integrate(ledger)
    receipt = front.get(r1.json()["events"][0]["receipt"])
    assert receipt.status_code == 200 and receipt.json()["leaf_index"] >= 0
    metrics = front.get("/metrics").text  # counted by the command server under the route's template
    assert 'route="/v1/petitions/{petition_id}/signatures",status="201"' in metrics


def test_every_refusal_of_a_signature_is_the_apps_own(front, client, service_key, citizen, rule_set):
    council = service_key("city.council", "petition:*")
    pid = _published(client, council, citizen, rule_set, threshold=50)
    assert front.post(f"/v1/petitions/{pid}/signatures", headers=citizen("twice")).status_code == 201
    unknown = "00000000-0000-4000-8000-000000000000"
    cases = [
        (f"/v1/petitions/{pid}/signatures", citizen("twice")),  # duplicate (409), decided by the writer
        (f"/v1/petitions/{unknown}/signatures", citizen("x")),  # unknown petition (404)
        (f"/v1/petitions/{pid}/signatures", council),  # a service key: passed through (403)
        (f"/v1/petitions/{pid}/signatures", {"Authorization": "Bearer not.a.jwt"}),  # passed through (401)
        (f"/v1/petitions/{pid}/signatures", {}),  # no credentials (401)
        (f"/v1/petitions/{pid.upper()}/signatures", citizen("y")),  # not the canonical form: passed through
        ("/v1/petitions/not-a-uuid/signatures", citizen("z")),  # 422
        (f"/v1/petitions/{pid}/signatures", {**citizen("k"), "Idempotency-Key": "k" * 201}),  # 422
    ]
    commanded = []
    for path, headers in cases:
        before = front.commands.answered
        via_front, direct = front.post(path, headers=headers), client.post(path, headers=headers)
        commanded.append(front.commands.answered - before)
        if path.endswith(f"{pid.upper()}/signatures"):  # a real signature: each door signs once for its citizen
            assert via_front.status_code == 201 and direct.status_code == 409
            continue
        _same_problem(via_front, direct)
    assert commanded == [1, 1, 0, 0, 0, 0, 0, 0]  # verified citizens with a canonical path go the command way
    problem(front.post(f"/v1/petitions/{pid}/signatures", headers=citizen("twice")), 409, "duplicate-signature")


def test_votes_and_their_refusals_through_a_front(front, client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    bid = _ballot(client, svc, clock)
    v1 = front.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=citizen("v"))
    assert front.commands.answered == 1
    assert v1.status_code == 201, v1.text
    assert not v1.json()["revote"]
    v2 = front.post(f"/v1/ballots/{bid}/votes", json={"selection": ["pool"]}, headers=citizen("v"))
    assert v2.status_code == 201 and v2.json()["revote"]
    mine = front.get(f"/v1/ballots/{bid}/votes/{v2.json()['tracker']}", headers=citizen("v"))  # passed through
    assert mine.status_code == 200 and mine.json()["counted"]
    for body, extra in [
        ({"selection": []}, {}),  # schema: passed through, the app's 422
        ({"selection": ["nope"]}, {}),  # the domain's refusal, via the command server
        ({"selection": ["park", "pool"]}, {}),  # single choice
    ]:
        _same_problem(
            front.post(f"/v1/ballots/{bid}/votes", json=body, headers={**citizen("w"), **extra}),
            client.post(f"/v1/ballots/{bid}/votes", json=body, headers={**citizen("w"), **extra}),
        )
    text = front.post(
        f"/v1/ballots/{bid}/votes",
        content=b'{"selection":["park"]}',
        headers={**citizen("t"), "Content-Type": "text/plain"},
    )
    same = client.post(
        f"/v1/ballots/{bid}/votes",
        content=b'{"selection":["park"]}',
        headers={**citizen("u"), "Content-Type": "text/plain"},
    )
    assert text.status_code == same.status_code


def test_idempotent_retries_through_a_front(front, service_key, citizen, client, rule_set):
    pid = _published(client, service_key("city.council", "petition:*"), citizen, rule_set, threshold=50)
    headers = {**citizen("idem"), "Idempotency-Key": "retry-1"}
    first = front.post(f"/v1/petitions/{pid}/signatures", headers=headers)
    again = front.post(f"/v1/petitions/{pid}/signatures", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotency-Replayed"] == "true"
    # the same key on another request: refused, via the front as directly
    other = f"/v1/petitions/{_published(client, service_key('c2', 'petition:*'), citizen, rule_set)}/signatures"
    problem(front.post(other, headers=headers), 422, "idempotency-key-reused")


def test_rate_limits_hold_through_fronts_and_spoofed_forwarding_headers_change_nothing(
    ledger, clock, citizen, service_key, tmp_path
):
    from api.app import create_app

    settings = ApiSettings(citizen_rate=0.001, citizen_burst=2, anonymous_rate=0.001, anonymous_burst=3)
    app = create_app(ledger, settings=settings, clock=clock, create_tables=False)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        writer(app) as (http_sock, cmd_sock, _),
        TestClient(FrontApp(settings, tmp_path, http_sock, cmd_sock), raise_server_exceptions=False) as front,
    ):
        pid = _published(client, service_key("city.council", "petition:*"), citizen, lambda threshold: "hradyzk")
        who = citizen("busy")
        assert front.post(f"/v1/petitions/{pid}/signatures", headers=who).status_code == 201
        problem(front.post(f"/v1/petitions/{pid}/signatures", headers=who), 409, "duplicate-signature")
        limited = problem(front.post(f"/v1/petitions/{pid}/signatures", headers=who), 429, "rate-limited")
        assert limited["instance"] == f"/v1/petitions/{pid}/signatures"
        # anonymous reads are limited per client address; a client cannot pick its address with a header
        codes = [
            front.get("/v1/petitions", headers={"X-Forwarded-For": f"10.0.0.{i}", "Forwarded": f"for=10.1.0.{i}"})
            for i in range(4)
        ]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]


def test_without_a_writer_a_front_answers_503_problems(api_settings, tmp_path, citizen):
    gone = Path(tempfile.mkdtemp(prefix="hf-"))
    app = FrontApp(api_settings, tmp_path, gone / "http.sock", gone / "commands.sock")
    with TestClient(app, raise_server_exceptions=False) as front:
        pid = "00000000-0000-4000-8000-000000000000"
        for r in (front.post(f"/v1/petitions/{pid}/signatures", headers=citizen("a")), front.get("/healthz")):
            body = problem(r, 503, "writer-unavailable")
            assert r.headers["Retry-After"] == "1" and body["instance"] in (
                f"/v1/petitions/{pid}/signatures",
                "/healthz",
            )
    shutil.rmtree(gone)


def test_oversized_bodies_are_refused_by_the_front(front, citizen):
    r = front.post("/v1/petitions", content=b"x" * (256 * 1024 + 1), headers=citizen("big"))
    problem(r, 413, "payload-too-large")
