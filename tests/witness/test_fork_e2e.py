"""End to end, a fork: a real `hromada serve` with two honest witnesses (`hromada witness serve`, processes of their
own) and a monitor (`hromada-verify monitor`, a process following the ledger's public address with the 2-of-2
witness policy), all on 127.0.0.1.

The operator forks the log: from the entries it serves it builds another history of the same size (the last
signature rewritten to another citizen's pseudonym), signs that tree's checkpoint with the log key, and
- offers it to both witnesses: each refuses with 409 (they cosigned that size with another root) and keeps it as
  evidence;
- serves it at its public address (a front it controls, in this test a proxy to the ledger that swaps
  /checkpoint): the monitor's next round is `monitor_fork`, exit 1, with both notes in DIR/evidence/;
- hands the citizen whose signature it rewrote a receipt of the forked history: its proof is valid under the log key
  alone, and the witness policy rejects it; the citizen's real receipt, checked against the forked address, is a
  `fork`."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from ledger.config import Settings
from ledger.keys import LogSigner
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.api.served import serve_env, serving
from tests.merkle import reference
from tests.ports import free_port
from tests.processes import wait_until
from tests.witness.servers import serve_in_thread
from verifier.cli import app as verify
from verifier.envelope import canonical_bytes
from verifier.note import parse_checkpoint_body, parse_note
from verifier.remote import TILE_WIDTH, entries_path, parse_entry_bundle
from witness.state import WitnessState

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def hromada(*args: str, env: dict[str, str]) -> str:
    return subprocess.run([str(BIN / "hromada"), *args], env=env, capture_output=True, text=True, check=True).stdout


class Front:
    """The operator's public address: a proxy to the ledger that serves ``forked`` at GET /checkpoint once set."""

    def __init__(self, ledger_url: str) -> None:
        self.forked: str | None = None
        self.client = httpx.Client(base_url=ledger_url)

    def app(self) -> Starlette:
        async def forward(request: Request) -> Response:
            if request.url.path == "/checkpoint" and self.forked is not None:
                return Response(self.forked, media_type="text/plain; charset=utf-8")
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            answer = self.client.get(path)
            return Response(answer.content, status_code=answer.status_code)

        return Starlette(routes=[Route("/{path:path}", forward)])


class Lines:
    """A process's stdout lines, read by a thread as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.thread.start()

    def rounds(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]


@contextmanager
def witness(name: str, tmp: Path, log_key: str, env: dict[str, str]) -> Iterator[tuple[str, str, Path]]:
    """`hromada witness serve` in a process of its own: (its URL, its verifier key, its state directory)."""
    state = tmp / name
    key = hromada("witness", "init", "--state", str(state), "--name", f"{name}.test/w", env=env).strip()
    port = free_port()
    cmd = [str(BIN / "hromada"), "witness", "serve", "--state", str(state), "--log-key", log_key, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url + "/") or proc.poll() is not None, 60, 0.2)
        assert proc.poll() is None, f"witness {name} did not start"
        yield url, key, state
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def entries(url: str, size: int) -> list[bytes]:
    out: list[bytes] = []
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        out += parse_entry_bundle(httpx.get(f"{url}/{entries_path(index, width)}").content, width)
    return out


def test_a_forked_checkpoint_is_refused_by_both_witnesses_caught_by_the_monitor_and_fails_the_receipt(
    tmp_path: Path,
) -> None:
    data = tmp_path / "ledger"
    with Ledger(Settings(data_dir=data, database_url=f"sqlite:///{data / 'ledger.db'}")) as ledger:
        council = {"Authorization": "Bearer " + add_service(ledger, "city.council", ["petition:*"])}
        publish_statutes(ledger)
        log_key = ledger.signer.verifier_key
        signer: LogSigner = ledger.signer  # the operator holds the log key
    env = serve_env(tmp_path)
    with (
        witness("alpha", tmp_path, log_key, env) as (alpha_url, alpha_key, alpha_state),
        witness("beta", tmp_path, log_key, env) as (beta_url, beta_key, beta_state),
    ):
        witnesses = [
            {"name": "alpha", "url": alpha_url, "key": alpha_key},
            {"name": "beta", "url": beta_url, "key": beta_key},
        ]
        policy = ["--witness", f"alpha={alpha_key}", "--witness", f"beta={beta_key}"]
        with serving(
            data,
            HROMADA_WITNESSES=json.dumps(witnesses),
            HROMADA_CHECKPOINT_EVERY_SECONDS="0.2",
            HROMADA_WITNESS_POLL_SECONDS="0.2",
        ) as served:
            front = Front(served.url)
            with serve_in_thread(front.app(), free_port()) as public:
                urls = {"alpha": alpha_url, "beta": beta_url}
                _fork(served.url, public, front, council, DevIssuer(data), log_key, signer, policy, urls, tmp_path)
        # each witness kept the forked request as evidence
        for state in (alpha_state, beta_state):
            [(_, reason, request)] = WitnessState(state).evidence()
            assert "was cosigned with root" in reason and request.endswith(front.forked or "?")


def _fork(
    url: str,
    public: str,
    front: Front,
    council: dict[str, str],
    issuer: DevIssuer,
    log_key: str,
    signer: LogSigner,
    policy: list[str],
    witness_urls: dict[str, str],
    tmp: Path,
) -> None:
    # the city: a petition, three signatures; each citizen keeps the receipt of their signature
    author = {"Authorization": f"Bearer {issuer.issue('author')}"}
    petition = httpx.post(url + "/v1/petitions", json={"title": "Сквер", "text": "x"}, headers=author)
    assert petition.status_code == 201, petition.text
    pid = petition.json()["petition_id"]
    assert httpx.post(f"{url}/v1/petitions/{pid}/publish", headers=council).status_code == 200
    receipt_url = ""
    for i in range(3):
        r = httpx.post(
            f"{url}/v1/petitions/{pid}/signatures", headers={"Authorization": f"Bearer {issuer.issue(str(i))}"}
        )
        assert r.status_code == 201, r.text
        receipt_url = r.json()["events"][-1]["receipt"]
    size = 1 + 4 + 2 + 3  # the service registration, the statutes (4), created + published, three signatures

    def cosigned_by_both() -> bool:
        note = httpx.get(url + "/checkpoint").text
        return f"\n{size}\n" in note and "— alpha.test/w " in note and "— beta.test/w " in note

    wait_until(cosigned_by_both, 60, 0.2)
    receipt = httpx.get(url + receipt_url).json()
    assert receipt["status"] == "proved" and receipt["leaf_index"] == size - 1

    # the monitor follows the public address, with the 2-of-2 witness policy; its first round accepts the log
    state = tmp / "monitor"
    monitor = subprocess.Popen(
        [str(BIN / "hromada-verify"), "monitor", public, "--state", str(state), "--key", log_key, *policy,
         "--interval", "0.2"],
        env=serve_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    out = Lines(monitor)
    try:
        wait_until(lambda: len(out.rounds()) >= 2 or monitor.poll() is not None, 60, 0.1)
        first = out.rounds()[0]
        assert first["ok"] and first["size"] == size, out.lines
        kept_note = json.loads((state / "state.json").read_text())["checkpoint"]

        # the fork: the same entries but the last signature's, which now names another pseudonym
        honest = entries(url, size)
        event = json.loads(honest[-1])
        assert event["type"] == "petition.signed"
        event["actor"]["id"] = "f" * len(event["actor"]["id"])
        forked_entries = [*honest[:-1], canonical_bytes(event)]
        origin = parse_checkpoint_body(parse_note(kept_note).text).origin
        root = reference.mth(forked_entries)
        forked = signer.sign(f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n")
        assert root != reference.mth(honest)

        # both witnesses refuse it: they cosigned this size with another root
        for w, w_url in witness_urls.items():
            answer = httpx.post(f"{w_url}/add-checkpoint", content=f"old {size}\n\n{forked}".encode())
            assert answer.status_code == 409, (w, answer.text)
            assert answer.text == f"{size}\n"

        # the operator serves the fork at its public address: the monitor alerts and stops
        front.forked = forked
        assert monitor.wait(timeout=60) == 1, out.lines
        out.thread.join(timeout=10)
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait(timeout=10)
    last = out.rounds()[-1]
    assert last["ok"] is False and [f["code"] for f in last["findings"]] == ["monitor_fork"], last
    [finding] = last["findings"]
    assert finding["expected"] == parse_checkpoint_body(parse_note(kept_note).text).root.hex()
    assert finding["found"] == root.hex()
    kept_file, new_file = sorted(Path(p) for p in finding["evidence"])
    assert kept_file.name.endswith("-kept.note") and kept_file.read_text() == kept_note
    assert new_file.name.endswith("-new.note") and new_file.read_text() == forked
    assert sorted(p.name for p in (state / "evidence").iterdir()) == sorted([kept_file.name, new_file.name])

    runner = CliRunner()
    # the citizen's real receipt, checked against the forked public address: two roots for one size
    real = tmp / "receipt.json"
    real.write_text(json.dumps(receipt))
    result = runner.invoke(verify, ["receipt", str(real), "--key", log_key, "--offline", "--json", "--ledger", public])
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["error"]["code"] == "fork", result.output
    # the receipt the operator hands out for the forked history: valid under the log key alone...
    fake = {
        **{k: v for k, v in receipt.items() if k != "leaf_hash"},
        "event": event,
        "inclusion_proof": [h.hex() for h in reference.path(size - 1, forked_entries)],
        "checkpoint": forked,
    }
    path = tmp / "forked-receipt.json"
    path.write_text(json.dumps(fake))
    alone = runner.invoke(verify, ["receipt", str(path), "--key", log_key, "--offline", "--json"])
    assert alone.exit_code == 0, alone.output
    # ...and rejected by the witness policy: no witness cosigned it
    result = runner.invoke(verify, ["receipt", str(path), "--key", log_key, "--offline", "--json", *policy])
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["verified"] is False, result.output
    [w] = doc["witnesses"]["findings"]
    assert w["code"] == "witness_cosignatures_insufficient" and doc["witnesses"]["cosigned_by"] == []
