"""`hromada trustee init|join|commit|verify|decrypt` against the API (its HTTP calls go to the test client): a
3-of-5 ceremony, the end, three trustees decrypt and the ballot closes; the state file is 0600, never overwritten,
refused when readable by others; a non-trustee and a step out of order exit non-zero with the reason."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import hromada.trustee
from hromada.cli import app as cli
from hromada.vote import VoteError, encrypt_ballot
from tests.api.test_secret_ballots import TRUSTEES, _start

URL = "http://ledger.test"


@pytest.fixture
def through(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def http(method: str, url: str, token: str | None, body: Any = None) -> Any:
        assert url.startswith(URL)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = client.request(method, url[len(URL) :], json=body, headers=headers)
        if r.status_code >= 400:
            raise VoteError(f"{method} {url}: HTTP {r.status_code}: {r.text}")
        return r.json()

    monkeypatch.setattr(hromada.trustee, "_http", http)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["trustee", *args])


def test_five_trustees_run_the_ceremony_and_three_decrypt(client, service_key, citizen, clock, tmp_path, through):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    keys = [service_key(t, "ballot:trustee")["Authorization"].split()[1] for t in TRUSTEES]
    bid = _start(client, svc, clock)
    states = [tmp_path / f"t{i}.json" for i in range(1, 6)]
    for t, state in zip(TRUSTEES, states, strict=True):
        r = run("init", "--ledger", URL, "--ballot", bid, "--service", t, "--state", str(state))
        assert r.exit_code == 0, r.output
        assert (os.stat(state).st_mode & 0o777) == 0o600
    again = run("init", "--ledger", URL, "--ballot", bid, "--service", TRUSTEES[0], "--state", str(states[0]))
    assert again.exit_code == 1 and "never overwritten" in again.output
    outsider = run("init", "--ledger", URL, "--ballot", bid, "--service", "nobody", "--state", str(tmp_path / "x"))
    assert outsider.exit_code == 1 and "not a trustee" in outsider.output
    early = run("commit", "--ledger", URL, "--ballot", bid, "--api-key", keys[0], "--state", str(states[0]))
    assert early.exit_code == 1 and "ceremony-out-of-order" in early.output
    for step in ("join", "commit", "verify"):
        for key, state in zip(keys, states, strict=True):
            r = run(step, "--ledger", URL, "--ballot", bid, "--api-key", key, "--state", str(state))
            assert r.exit_code == 0, r.output
    assert client.post(f"/v1/ballots/{bid}/open", headers=svc).status_code == 201
    who = citizen("v", district="podil")
    manifest = client.get(f"/v1/ballots/{bid}").json()
    body, _ = encrypt_ballot(manifest, client.get(f"/v1/ballots/{bid}/voter", headers=who).json(), ["gym"])
    assert client.post(f"/v1/ballots/{bid}/ballots", json=body, headers=who).status_code == 201
    clock.advance(days=8)
    assert client.post(f"/v1/ballots/{bid}/end", headers=svc).status_code == 200
    os.chmod(states[1], 0o644)
    loose = run("decrypt", "--ledger", URL, "--ballot", bid, "--api-key", keys[1], "--state", str(states[1]))
    assert loose.exit_code == 1 and "0600" in loose.output
    for i in (0, 2, 4):
        r = run("decrypt", "--ledger", URL, "--ballot", bid, "--api-key", keys[i], "--state", str(states[i]))
        assert r.exit_code == 0, r.output
    closed = client.post(f"/v1/ballots/{bid}/close", headers=svc).json()["tally"]
    assert closed["counts"]["gym"] == 1 and closed["decrypted_by"] == [1, 3, 5]
    assert "encryption_secret" not in json.dumps(client.get(f"/v1/ballots/{bid}/ceremony").json())


def test_a_bad_share_makes_verify_complain_and_exit_non_zero(client, service_key, clock, tmp_path, through):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    keys = [service_key(t, "ballot:trustee")["Authorization"].split()[1] for t in TRUSTEES]
    bid = _start(client, svc, clock, closes_at=(clock.now + timedelta(days=7)).isoformat())
    states = [tmp_path / f"t{i}.json" for i in range(1, 6)]
    for t, state in zip(TRUSTEES, states, strict=True):
        assert run("init", "--ledger", URL, "--ballot", bid, "--service", t, "--state", str(state)).exit_code == 0
    for step in ("join", "commit"):
        for key, state in zip(keys, states, strict=True):
            assert run(step, "--ledger", URL, "--ballot", bid, "--api-key", key, "--state", str(state)).exit_code == 0
    # trustee 2 lost its secrets and made new ones: the shares sealed to its old key no longer open
    raw = json.loads(Path(states[1]).read_text())
    raw["secrets"]["encryption_secret"] = "11" * 32
    states[1].write_text(json.dumps(raw))
    os.chmod(states[1], 0o600)
    r = run("verify", "--ledger", URL, "--ballot", bid, "--api-key", keys[1], "--state", str(states[1]))
    assert r.exit_code == 1 and "complaint posted" in r.output
    assert client.get(f"/v1/ballots/{bid}/ceremony").json()["status"] == "dead"
