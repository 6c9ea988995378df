"""End to end: a real `hromada serve` sends its checkpoints to four witnesses on 127.0.0.1: an honest one
(`hromada witness serve`, a process of its own), one that is down (its key is known, nothing listens), one that
lies (a real HTTP server answering with a valid key's cosignature over another checkpoint) and one that hangs (it
accepts the request and never answers). The ledger keeps serving
writes, GET /checkpoint carries the honest cosignature only, and `hromada-verify` applies the auditor's policy: 1 of
{honest, liar} passes, 2 of them fails naming the liar, 2 of {honest, down} fails naming the one that is down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.api.served import serve_env, serving
from tests.ports import free_port
from tests.processes import wait_until
from tests.witness.servers import hanging_app, lying_app, serve_in_thread
from verifier.cli import app as verify
from witness.keys import WitnessKey

HROMADA = str(Path(sys.executable).parent / "hromada")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def hromada(*args: str, env: dict[str, str]) -> str:
    return subprocess.run([HROMADA, *args], env=env, capture_output=True, text=True, check=True).stdout


def test_a_ledger_with_an_honest_a_down_a_lying_and_a_hanging_witness(tmp_path: Path) -> None:
    data = tmp_path / "ledger"
    with Ledger(Settings(data_dir=data, database_url=f"sqlite:///{data / 'ledger.db'}")) as ledger:
        council = {"Authorization": "Bearer " + add_service(ledger, "city.council", ["petition:*"])}
        publish_statutes(ledger)
        log_key = ledger.signer.verifier_key
    env = serve_env(tmp_path)
    honest_key = hromada("witness", "init", "--state", str(tmp_path / "honest"), "--name", "honest.test/w", env=env)
    down_key = hromada("witness", "init", "--state", str(tmp_path / "down"), "--name", "down.test/w", env=env)
    liar = WitnessKey("liar.test/w", bytes(range(32)))
    honest_port, down_port, liar_port, hanging_port = free_port(), free_port(), free_port(), free_port()
    hanging = WitnessKey("hanging.test/w", bytes([7]) * 32)
    state = str(tmp_path / "honest")
    honest = subprocess.Popen(
        [HROMADA, "witness", "serve", "--state", state, "--log-key", log_key, "--port", str(honest_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{honest_port}/") or honest.poll() is not None, 60, 0.2)
        assert honest.poll() is None, honest.stdout.read().decode() if honest.stdout else ""
        with (
            serve_in_thread(lying_app(liar), liar_port) as liar_url,
            serve_in_thread(hanging_app(), hanging_port) as hanging_url,
        ):
            witnesses = [
                {"name": "honest", "url": f"http://127.0.0.1:{honest_port}", "key": honest_key.strip()},
                {"name": "down", "url": f"http://127.0.0.1:{down_port}", "key": down_key.strip()},
                {"name": "liar", "url": liar_url, "key": str(liar.verifier_key())},
                {"name": "hanging", "url": hanging_url, "key": str(hanging.verifier_key())},
            ]
            settings = {
                "HROMADA_WITNESSES": json.dumps(witnesses),
                "HROMADA_CHECKPOINT_EVERY_SECONDS": "0.2",
                "HROMADA_WITNESS_POLL_SECONDS": "0.2",
                "HROMADA_WITNESS_TIMEOUT_SECONDS": "2",
                "HROMADA_WITNESS_RETRY_MAX_SECONDS": "1",
            }
            with serving(data, **settings) as served:
                keys = (log_key, honest_key.strip(), down_key.strip())
                _check(served.url, council, DevIssuer(data), keys, liar, tmp_path / "receipt.json")
    finally:
        honest.terminate()
        honest.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _check(
    url: str, council: dict[str, str], issuer: DevIssuer, keys: tuple[str, str, str], liar: WitnessKey, path: Path
) -> None:
    log_key, honest, down = keys
    author = {"Authorization": f"Bearer {issuer.issue('author')}"}
    petition = httpx.post(url + "/v1/petitions", json={"title": "Сквер", "text": "x"}, headers=author)
    assert petition.status_code == 201, petition.text
    pid = petition.json()["petition_id"]
    assert httpx.post(f"{url}/v1/petitions/{pid}/publish", headers=council).status_code == 200
    receipt_url = ""
    for i in range(3):  # writes go on while one witness is down, one lies and one hangs
        signer = {"Authorization": f"Bearer {issuer.issue(str(i))}"}
        r = httpx.post(f"{url}/v1/petitions/{pid}/signatures", headers=signer)
        assert r.status_code == 201, r.text
        receipt_url = r.json()["events"][-1]["receipt"]
    size = 1 + 4 + 2 + 3  # the service registration, the statutes (4), created + published, three signatures

    def cosigned_at_size() -> bool:
        note = httpx.get(url + "/checkpoint").text
        return f"\n{size}\n" in note and "— honest.test/w " in note

    wait_until(cosigned_at_size, 60, 0.2)
    note = httpx.get(url + "/checkpoint").text
    assert "— liar.test/w " not in note and "— down.test/w " not in note  # the lie was not stored
    assert httpx.get(url + "/readyz").status_code == 200
    wait_until(lambda: "hromada_witnesses_failing 3" in httpx.get(url + "/metrics").text, 30, 0.2)
    assert "hromada_witnesses_cosigned_latest 1" in httpx.get(url + "/metrics").text

    runner = CliRunner()

    def audit(*policy: str) -> tuple[int, str]:
        result = runner.invoke(verify, ["audit", url, "--key", log_key, "--offline", "--no-rules", *policy])
        return result.exit_code, result.output

    one_of_two = ["--witness", f"honest={honest}", "--witness", f"liar={liar.verifier_key()}"]
    code, out = audit(*one_of_two, "--witness-threshold", "1")
    assert code == 0, out
    assert f"witness policy 1 of 2 (honest, liar) at tree size {size}: passed (cosigned by honest)" in out
    code, out = audit(*one_of_two, "--witness-threshold", "2")
    assert code == 1 and "witness_cosignatures_insufficient" in out and "missing or invalid: liar" in out, out
    code, out = audit("--witness", f"honest={honest}", "--witness", f"down={down}")
    assert code == 1 and "missing or invalid: down" in out, out

    receipt = httpx.get(url + receipt_url).json()
    assert receipt["status"] == "proved" and "— honest.test/w " in receipt["checkpoint"]
    path.write_text(json.dumps(receipt))
    args = ["receipt", str(path), "--key", log_key, "--offline", "--json", "--witness", f"honest={honest}"]
    result = runner.invoke(verify, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["witnesses"]["cosigned_by"] == ["honest"]
    result = runner.invoke(verify, [*args, "--witness", f"down={down}"])
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["verified"] is False
    assert doc["witnesses"]["findings"][0]["code"] == "witness_cosignatures_insufficient"
