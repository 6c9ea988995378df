"""`hromada serve --fronts 2` as an operator runs it (SQLite, no chain): the fronts serve the port, the
integrator/checkpointer process integrates, a killed front is replaced, and SIGTERM stops the writer and every
child and removes the private sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.ports import free_port
from tests.processes import alive, wait_until


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return {int(x) for x in out.split()}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(180)
def test_serve_with_fronts_serves_restarts_a_dead_front_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HROMADA_")}
    env.update(HROMADA_DATA_DIR=str(tmp_path), HROMADA_CITIZEN_BURST="100")
    with Ledger(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'ledger.db'}")) as ledger:
        council = {"Authorization": "Bearer " + add_service(ledger, "city.council", ["petition:*"])}
        publish_statutes(ledger)
    issuer = DevIssuer(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hromada"), "serve", "--no-chain", "--fronts", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _ready(url) or proc.poll() is not None, 60, poll=0.2)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        children = _children(proc.pid)
        fronts = {p for p in children if "api.serving.front" in _cmdline(p)}
        workers = {p for p in children if "ledger.worker" in _cmdline(p)}
        assert len(fronts) == 2 and len(workers) == 1, [_cmdline(p) for p in children]
        author = {"Authorization": f"Bearer {issuer.issue('author')}"}
        pid = httpx.post(url + "/v1/petitions", json={"title": "T", "text": "x"}, headers=author).json()["petition_id"]
        assert httpx.post(f"{url}/v1/petitions/{pid}/publish", headers=council).status_code == 200
        for i in range(6):
            r = httpx.post(
                f"{url}/v1/petitions/{pid}/signatures", headers={"Authorization": f"Bearer {issuer.issue(f's{i}')}"}
            )
            assert r.status_code == 201, r.text
        assert httpx.get(f"{url}/v1/petitions/{pid}").json()["signatures"] == 6
        # 1 service registration + created + published + 6 signatures, integrated by the worker process
        wait_until(lambda: httpx.get(url + "/readyz").json()["tree_size"] >= 9, 30, poll=0.2)
        assert httpx.get(url + "/readyz").json()["pending_events"] == 0

        victim = min(fronts)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(_children(proc.pid) - {victim}) == 3 and not alive(victim), 30, poll=0.2)
        wait_until(lambda: _ready(url), 30, poll=0.2)
        now = _children(proc.pid)
        r = httpx.post(
            f"{url}/v1/petitions/{pid}/signatures", headers={"Authorization": f"Bearer {issuer.issue('late')}"}
        )
        assert r.status_code == 201 and r.json()["signatures"] == 7
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, out
    wait_until(lambda: not any(alive(p) for p in now | children), 20, poll=0.2)
    rundirs = [
        line.split("unix socket ")[1].split("/http.sock")[0] for line in out.splitlines() if "unix socket" in line
    ]
    assert rundirs and not any(Path(d).exists() for d in rundirs)
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


@pytest.mark.timeout(120)
def test_serve_in_one_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """Plain `uvicorn.run` re-raises SIGTERM after stopping, which killed the process before its cleanup (chain,
    writer lock, ledger) ran; `serve` now returns and exits 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HROMADA_")}
    env["HROMADA_DATA_DIR"] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hromada"), "serve", "--no-chain", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}") or proc.poll() is not None, 60, poll=0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out


@pytest.mark.parametrize("fronts", ["0", "2"])
def test_serve_on_a_port_in_use_exits_2_with_a_diagnosis(tmp_path: Path, fronts: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HROMADA_")}
    env["HROMADA_DATA_DIR"] = str(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "hromada"),
                "serve",
                "--no-chain",
                "--fronts",
                fronts,
                "--port",
                str(port),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
