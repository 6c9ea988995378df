"""End to end over loopback: a real uvicorn server with the ledger's background worker; services get keys with
`hromada service add`, citizens get tokens from `hromada dev-token`; a petition, a ballot and a kindergarten queue
are driven only through HTTP; receipts are verified and the audit bundle is downloaded and audited."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api.app import create_app
from api.serving.front import FrontApp
from api.settings import ApiSettings
from hromada.cli.service import dev_token, service_app
from hromada.settings import load
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.api.writer_server import writer
from tests.ports import free_port
from verifier.audit import run_audit
from verifier.note import parse_verifier_key
from verifier.receipt import verify_receipt


@pytest.fixture(params=["one process", "fronts"])
def server(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The app served on a TCP port: directly (`hromada serve`), or behind a front (`hromada serve --fronts N`:
    the app and its command server on Unix sockets, a front on the port)."""
    monkeypatch.setenv("HROMADA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HROMADA_DATABASE_URL", database_url)
    monkeypatch.setenv("HROMADA_ORIGIN", "e2e.hromada.local/city")
    settings = load(ledger={"checkpoint_every_events": 5, "checkpoint_every_seconds": 0.2}).ledger  # and the env's
    ledger = Ledger(settings)
    publish_statutes(ledger)
    api_settings = ApiSettings(group_commit=True)
    app = create_app(ledger, settings=api_settings)
    port = free_port()
    with contextlib.ExitStack() as stack:
        served: Any = app
        if request.param == "fronts":
            http_sock, cmd_sock, _ = stack.enter_context(writer(app, lifespan="on"))
            served = FrontApp(api_settings, tmp_path, http_sock, cmd_sock)
        srv = uvicorn.Server(uvicorn.Config(served, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        ledger.start_worker(idle_sleep=0.02)
        deadline = time.monotonic() + 20
        while not srv.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "ledger": ledger, "data_dir": tmp_path}
        finally:
            srv.should_exit = True
            thread.join(timeout=10)
    ledger.close()


def _cli_key(*args: str) -> dict[str, str]:
    result = CliRunner().invoke(service_app, ["add", *args])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def _cli_token(sub: str, *extra: str) -> dict[str, str]:
    import typer

    cli = typer.Typer()
    cli.command()(dev_token)
    result = CliRunner().invoke(cli, ["--sub", sub, *extra])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip()}"}


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_city_end_to_end(server: dict[str, Any], tmp_path: Path) -> None:
    council = _cli_key("city.council", "--scope", "petition:*", "--scope", "ballot:*", "--name", "Міська рада")
    edu = _cli_key("city.education", "--scope", "queue:kindergarten:*")
    citizens = [_cli_token(f"citizen-{i}", "--age", "30", "--district", "podil") for i in range(4)]
    from domain.petitions.rules import HRADYZK

    legal = _cli_key("city.legal.e2e", "--scope", "rules:admin")
    with httpx.Client(base_url=server["url"], timeout=30) as http:
        # -- the city's rule set: the Hradyzk statute with a threshold of 3, published by its legal department
        small = {"ruleset": "hradyzk-3", "version": 1, "applies_to": "petition", "rules": {**HRADYZK, "threshold": 3}}
        _ok(http.post("/v1/rule-sets", json={**small, "source": "a test statute"}, headers=legal), 201)
        # -- petition: created by a citizen, published, signed to its threshold, answered
        pid = _ok(
            http.post(
                "/v1/petitions",
                json={"title": "Сквер", "text": "Облаштувати сквер.", "rule_set": "hradyzk-3"},
                headers=citizens[0],
            ),
            201,
        )["petition_id"]
        _ok(http.post(f"/v1/petitions/{pid}/publish", headers=council))
        receipts = []
        for i, c in enumerate(citizens[:3]):
            signed = _ok(http.post(f"/v1/petitions/{pid}/signatures", headers={**c, "Idempotency-Key": f"s{i}"}), 201)
            receipts.append(signed["events"][0]["receipt"])
        again = http.post(f"/v1/petitions/{pid}/signatures", headers={**citizens[0], "Idempotency-Key": "s0"})
        assert again.headers.get("idempotency-replayed") == "true"
        assert http.post(f"/v1/petitions/{pid}/signatures", headers=citizens[0]).status_code == 409
        p = _ok(http.get(f"/v1/petitions/{pid}"))
        assert p["signatures"] == 3 and p["threshold_reached"] and p["response_due"]
        _ok(http.post(f"/v1/petitions/{pid}/response", json={"response": "Сквер буде."}, headers=council))
        # -- ballot: open for a few seconds, votes and a revote, close, tally
        now = datetime.now(UTC)
        closes = now + timedelta(seconds=3)
        bid = _ok(
            http.post(
                "/v1/ballots",
                json={
                    "title": "Назва скверу",
                    "kind": "poll",
                    "method": {"type": "single"},
                    "options": [{"id": "lypa", "title": "Липовий"}, {"id": "kashtan", "title": "Каштановий"}],
                    "opens_at": now.isoformat(),
                    "closes_at": closes.isoformat(),
                },
                headers=council,
            ),
            201,
        )["ballot_id"]
        trackers = {}
        for i, c in enumerate(citizens):
            trackers[i] = _ok(http.post(f"/v1/ballots/{bid}/votes", json={"selection": ["lypa"]}, headers=c), 201)[
                "tracker"
            ]
        revote = _ok(http.post(f"/v1/ballots/{bid}/votes", json={"selection": ["kashtan"]}, headers=citizens[3]), 201)
        assert revote["revote"] and revote["tracker"] != trackers[3]
        mine = _ok(http.get(f"/v1/ballots/{bid}/votes/{trackers[3]}", headers=citizens[3]))
        assert mine["counted"] is False
        time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.1)
        tally = _ok(http.post(f"/v1/ballots/{bid}/close", headers=council))["tally"]
        assert tally == {"voters": 4, "counts": {"lypa": 3, "kashtan": 1}, "funded": None}
        # -- kindergarten queue: registrations, a benefit, an offer declined and one accepted
        qid = _ok(
            http.post("/v1/queues", json={"name": "Садочки", "institutions": ["ds-7", "ds-9"]}, headers=edu), 201
        )["queue_id"]
        benefit = _ok(http.get(f"/v1/queues/{qid}"))["benefits"][0]["code"]
        entries = []
        for i, c in enumerate(citizens[:3]):
            entries.append(
                _ok(
                    http.post(
                        f"/v1/queues/{qid}/entries",
                        headers=c,
                        json={
                            "child_key": f"I-БК-{i}",
                            "child_data": {"name": f"Дитина {i}"},
                            "birth_year": 2023,
                            "institutions": ["ds-7", "ds-9"],
                        },
                    ),
                    201,
                )["entry"]
            )
        _ok(
            http.post(
                f"/v1/queues/{qid}/entries/{entries[2]}/benefits",
                json={"code": benefit, "document": {"n": "1"}},
                headers=edu,
            ),
            201,
        )
        order = [
            x["entry"]
            for x in _ok(http.get(f"/v1/queues/{qid}/list", params={"institution": "ds-7", "birth_year": 2023}))
        ]
        assert order == [entries[2], entries[0], entries[1]]
        offer = _ok(
            http.post(
                f"/v1/queues/{qid}/offers", json={"institution": "ds-7", "birth_year": 2023, "place": "g1"}, headers=edu
            ),
            201,
        )["offer"]
        _ok(http.post(f"/v1/queues/{qid}/offers/{offer}/decline", headers=citizens[2]))
        offer2 = _ok(
            http.post(
                f"/v1/queues/{qid}/offers", json={"institution": "ds-7", "birth_year": 2023, "place": "g1"}, headers=edu
            ),
            201,
        )["offer"]
        _ok(http.post(f"/v1/queues/{qid}/offers/{offer2}/accept", headers=citizens[0]))
        pos = _ok(http.get(f"/v1/queues/{qid}/entries/{entries[1]}/position"))
        assert pos["positions"] == {"ds-7": 1, "ds-9": 2}
        _ok(
            http.put(
                f"/v1/queues/{qid}/entries/{entries[1]}/preferences",
                json={"institutions": ["ds-9"]},
                headers=citizens[1],
            )
        )
        _ok(http.post(f"/v1/queues/{qid}/entries/{entries[1]}/withdraw", headers=citizens[1]))
        # -- receipts upgrade to "proved" once the worker integrated and signed, and verify
        key = parse_verifier_key(_ok(http.get("/v1/log"))["verifier_key"])
        deadline = time.monotonic() + 30
        while True:
            rc = _ok(http.get(receipts[0]))
            if rc["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert rc["status"] in ("proved", "anchored"), rc
        verify_receipt(rc, key, ledger_url=server["url"])
        # -- the bundle at the latest checkpoint audits clean
        deadline = time.monotonic() + 30
        while _ok(http.get("/v1/log"))["checkpoint_size"] != 27 and time.monotonic() < deadline:
            time.sleep(0.1)  # 2 registrations + 7 petition + 7 ballot + 11 queue events
        r = http.get("/v1/export")
        assert r.status_code == 200, r.text
        bundle = tmp_path / "bundle.tar.gz"
        bundle.write_bytes(r.content)
        report = run_audit(bundle, key, offline=True)
        assert report.verified, report.to_json()
        assert int(r.headers["x-tree-size"]) == 33  # 27 + the statutes (4) + the test rule set and its service
        metrics = http.get("/metrics").text
        assert "hromada_group_commits_total" in metrics


def test_group_commit_under_concurrency(server: dict[str, Any]) -> None:
    """Concurrent signatures share transactions; every write is answered after commit; duplicates are refused."""
    from concurrent.futures import ThreadPoolExecutor

    from api.auth.tokens import DevIssuer

    council = _cli_key("city.council", "--scope", "petition:*")
    issuer = DevIssuer(server["data_dir"])
    tokens = [{"Authorization": f"Bearer {issuer.issue(f'signer-{i}')}"} for i in range(120)]
    with httpx.Client(base_url=server["url"], timeout=60) as http:
        pid = _ok(
            http.post("/v1/petitions", json={"title": "t", "text": "t", "rule_set": "sumy"}, headers=tokens[0]), 201
        )["petition_id"]
        _ok(http.post(f"/v1/petitions/{pid}/publish", headers=council))

        def sign(h: dict[str, str]) -> int:
            with httpx.Client(base_url=server["url"], timeout=60) as c:
                return c.post(f"/v1/petitions/{pid}/signatures", headers=h).status_code

        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(sign, tokens + tokens[:20]))  # 20 duplicates, concurrently
        assert sorted(set(statuses)) == [201, 409] and statuses.count(201) == 120 and statuses.count(409) == 20
        assert _ok(http.get(f"/v1/petitions/{pid}"))["signatures"] == 120
        metrics = http.get("/metrics").text
        line = next(x for x in metrics.splitlines() if x.startswith("hromada_group_commits_total "))
        writes = next(x for x in metrics.splitlines() if x.startswith("hromada_group_commit_writes_total "))
        # every write went through the group committer, and some shared a transaction
        assert int(writes.split()[1]) >= 122 and int(line.split()[1]) < int(writes.split()[1])
