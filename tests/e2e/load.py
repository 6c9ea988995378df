"""A bounded load on a real `hromada serve` process (loopback), shared by the load and crash tests.

Concurrent clients sign a petition, vote and revote on a ballot (many revotes of one voter at once: the case that
made an honest log fail its own audit with `time_backwards`), through the API as a city portal would. Every
acknowledged write is remembered with its event id, so a test can check that none was lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.ports import free_port
from tests.processes import wait_until

BIN = Path(sys.executable).parent


def hromada(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hromada"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class City:
    """A data directory (and database) with a registered service, served by `hromada serve` processes."""

    data_dir: Path
    database_url: str
    fronts: int = 0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        with Ledger(Settings(data_dir=self.data_dir, database_url=self.database_url)) as ledger:
            self.council = {
                "Authorization": "Bearer " + add_service(ledger, "city.council", ["petition:*", "ballot:*"])
            }
            publish_statutes(ledger)
        self.issuer = DevIssuer(self.data_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HROMADA_")}
        env.update(
            HROMADA_DATA_DIR=str(self.data_dir),
            HROMADA_DATABASE_URL=self.database_url,
            HROMADA_CITIZEN_BURST="1000",
            HROMADA_CITIZEN_RATE="1000",
        )
        return env

    @property
    def log(self) -> Path:
        """The servers' output (a file: a pipe nobody drains would block the server once its access log fills it)."""
        return self.data_dir.parent / f"{self.data_dir.name}.serve.log"

    def start(self) -> None:
        args = [str(BIN / "hromada"), "serve", "--no-chain", "--port", str(self.port), "--fronts", str(self.fronts)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        proc = self.proc
        wait_until(lambda: _ready(self.url) or proc.poll() is not None, 90, poll=0.2)
        assert proc.poll() is None, self.log.read_text()[-5000:]

    def kill(self) -> None:
        """SIGKILL the writer (its fronts and worker notice and exit by themselves)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.returncode == 0, self.log.read_text()[-5000:]
        self.proc = None

    def citizen(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(name)}"}

    def open_petition_and_ballot(self, client: httpx.Client) -> tuple[str, str]:
        r = client.post("/v1/petitions", json={"title": "Load", "text": "x"}, headers=self.citizen("author"))
        assert r.status_code == 201, r.text
        petition = r.json()["petition_id"]
        assert client.post(f"/v1/petitions/{petition}/publish", headers=self.council).status_code == 200
        now = datetime.now(UTC)
        body = {
            "title": "Load poll",
            "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}],
            "method": {"type": "single"},
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
        }
        r = client.post("/v1/ballots", json=body, headers=self.council)
        assert r.status_code == 201, r.text
        return petition, r.json()["ballot_id"]

    def audit(self, out: Path) -> dict[str, object]:
        """Stop nothing: sign a checkpoint over everything committed, export it and audit it offline."""
        cp = hromada("checkpoint", env=self.env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        ex = hromada("export", "--out", str(out), env=self.env)
        assert ex.returncode == 0, ex.stdout + ex.stderr
        key = hromada("init", env=self.env).stdout.split("verifier key", 1)[1].split()[0]
        audit = subprocess.run(
            [str(BIN / "hromada-verify"), "audit", str(out), "--key", key, "--offline", "--json"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        report: dict[str, object] = json.loads(audit.stdout)
        report["exit_code"] = audit.returncode
        return report


@dataclass
class Acknowledged:
    """Event ids the ledger acknowledged (2xx), and the statuses seen."""

    event_ids: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code in (200, 201):
                for ref in response.json().get("events", []):
                    self.event_ids.add(ref["id"])


def load(
    city: City,
    petition: str,
    ballot: str,
    *,
    signers: range,
    voters: range,
    revotes: int,
    acknowledged: Acknowledged,
    workers: int = 16,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Sign with every signer, vote with every voter, and let one voter revote `revotes` times at once."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=city.url, timeout=60)
        c: httpx.Client = local.client
        return c

    def sign(i: int) -> None:
        acknowledged.record(client().post(f"/v1/petitions/{petition}/signatures", headers=city.citizen(f"s{i}")))

    def vote(i: int, voter: str) -> None:
        body = {"selection": ["abc"[i % 3]]}
        acknowledged.record(client().post(f"/v1/ballots/{ballot}/votes", json=body, headers=city.citizen(voter)))

    def guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except httpx.HTTPError as e:  # the writer was killed under us: not acknowledged, so not counted
            if on_error is None:
                raise
            on_error(e)

    jobs: list[Callable[[], None]] = []
    for k in range(max(len(signers), len(voters))):
        if k < len(signers):
            jobs.append(lambda i=signers[k]: sign(i))
        if k < len(voters):
            jobs.append(lambda i=voters[k]: vote(i, f"v{i}"))
    middle = len(jobs) // 2  # one voter's revotes in one burst, amid the rest
    jobs[middle:middle] = [lambda i=k: vote(i, "revoter") for k in range(revotes)]
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(guarded, job) for job in jobs]:
            f.result()
