"""HTTP API benchmark: `wrk` (Debian package) drives the running server over loopback.

Rows, for SQLite and PostgreSQL:
- ceiling: a minimal FastAPI endpoint (same uvicorn, same machine) that only INSERTs one row per request;
- petition signatures: POST /v1/petitions/{id}/signatures, every request a different citizen (its own dev ID
  token, verified per request), group commit on (and, in the full run, off for comparison);
- votes: POST /v1/ballots/{id}/votes, every request a different citizen.
Each scenario reports requests/s, p50 and p99 latency and the number of non-2xx answers. The ledger server runs
as `hromada serve` does: one process, the integrator/checkpointer worker on, uvicorn with uvloop + httptools;
and again as `hromada serve --fronts 2` (two front processes beside the writer, api/serving/fronts.py).

Usage beside the other suites: `python -m bench --only api [--quick]`; alone: `python -m bench.api`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

Row = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]

LUA = r"""
local counter = 0
local tokens = nil
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
local file = os.getenv("BENCH_TOKENS")
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
function init(args)
  tokens = {}
  if file and file ~= "" then
    for line in io.lines(file) do tokens[#tokens + 1] = line end
  end
end
function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if #tokens > 0 then
    local i = (counter - 1) * nthreads + tid
    headers["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1]
  end
  return wrk.format("POST", path, headers, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True, check=False)
        found = shutil.which("wrk")
    return found


# -- servers (run in a child process: `python -m bench.api serve|minimal ...`) ---------------------------------
def serve_ledger(port: int) -> None:

    from api.app import create_app
    from api.serving.fronts import serve_alone, serve_with_fronts
    from hromada.settings import load
    from ledger.runtime import Ledger

    tree = load()  # HROMADA_* as `hromada serve` reads them
    ledger = Ledger(tree.ledger)
    settings = tree.api
    if not settings.fronts:
        ledger.start_worker()
    app = create_app(ledger, settings=settings)
    if settings.fronts:  # as `hromada serve --fronts N`
        serve_with_fronts(
            app,
            data_dir=ledger.settings.data_dir,
            host="127.0.0.1",
            port=port,
            fronts=settings.fronts,
            log_level="warning",
        )
    else:
        serve_alone(app, host="127.0.0.1", port=port, log_level="warning")


def serve_minimal(port: int, url: str) -> None:
    """The ceiling: FastAPI + SQLAlchemy, one INSERT and one COMMIT per request, nothing else."""
    import uvicorn
    from fastapi import FastAPI
    from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert

    from ledger.db.engine import make_engine

    engine = make_engine(url)
    rows = Table("bench_rows", MetaData(), Column("id", Integer, primary_key=True), Column("body", LargeBinary))
    rows.metadata.create_all(engine)
    app = FastAPI()

    @app.post("/row", status_code=201)
    def row() -> dict[str, int]:
        with engine.begin() as conn:
            rid = conn.execute(insert(rows).values(body=b"x" * 200)).inserted_primary_key
        return {"id": int(rid[0]) if rid else 0}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.api", *args, str(port)], cwd=ROOT, env={**os.environ, **env}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code in (200, 404):
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server {args} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- load ----------------------------------------------------------------------------------------------------
def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", value.strip())
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000, "m": n * 60_000}[unit]


def drive(
    wrk: str, url: str, path: str, body: str, tokens: Path | None, *, connections: int, seconds: int, threads: int = 2
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
        script = f.name
    env = {
        **os.environ,
        "BENCH_THREADS": str(threads),
        "BENCH_PATH": path,
        "BENCH_BODY": body,
        "BENCH_TOKENS": str(tokens) if tokens else "",
    }
    out = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", script, url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M))
    return {
        "rps": rps,
        "p50": _ms(pct.get("50", "nan")),
        "p99": _ms(pct.get("99", "nan")),
        "requests": total,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


# -- scenarios -----------------------------------------------------------------------------------------------
def prepare(data_dir: Path, url: str, n_tokens: int) -> dict[str, Any]:
    """A petition published and a ballot open, plus `n_tokens` citizen tokens (one per request)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth.keys import add_service
    from api.auth.tokens import DevIssuer
    from hromada.settings import load
    from ledger.runtime import Ledger

    tree = load()
    with Ledger(tree.ledger) as ledger:
        app = create_app(ledger, settings=tree.api)
        key = {"Authorization": f"Bearer {add_service(ledger, 'bench.council', ['petition:*', 'ballot:*'])}"}
        issuer = DevIssuer(data_dir)
        with TestClient(app) as c:
            author = {"Authorization": f"Bearer {issuer.issue('bench-author')}"}
            pid = c.post(
                "/v1/petitions", json={"title": "Bench", "text": "t", "rule_set": "kyiv"}, headers=author
            ).json()["petition_id"]
            assert c.post(f"/v1/petitions/{pid}/publish", headers=key).status_code == 200
            now = datetime.now(UTC)
            bid = c.post(
                "/v1/ballots",
                headers=key,
                json={
                    "title": "Bench",
                    "kind": "poll",
                    "method": {"type": "single"},
                    "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
                    "opens_at": (now - timedelta(minutes=1)).isoformat(),
                    "closes_at": (now + timedelta(days=1)).isoformat(),
                },
            ).json()["ballot_id"]
    files = {}
    for name in ("sign", "vote"):
        path = data_dir / f"tokens-{name}.txt"
        with path.open("w") as f:
            for i in range(n_tokens):
                f.write(issuer.issue(f"{name}-{i}", hours=2) + "\n")
        files[name] = path
    return {"petition": pid, "ballot": bid, "tokens": files}


def _pg_url(server: Any) -> str:
    from tests.pg import create_database

    return create_database(server.url).replace("postgresql://", "postgresql+psycopg://")


def run(
    quick: bool = False,
    connections: int = 32,
    seconds: int | None = None,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
) -> list[Row]:
    wrk = ensure_wrk()
    if wrk is None:
        return [{"system": "api", "operation": "skipped", "note": "wrk not installed (apt-get install wrk)"}]
    seconds = seconds or (4 if quick else 10)
    n_tokens = 6000 * seconds
    rows: list[Row] = []
    pg = None
    try:
        for backend in backends:
            if backend == "postgres":
                from tests.pg import PostgresServer

                pg = PostgresServer()
                pg.start()
            rows += _backend(wrk, backend, pg, quick, connections, seconds, n_tokens)
    finally:
        if pg is not None:
            pg.stop()
    return rows


def _backend(wrk: str, backend: str, pg: Any, quick: bool, connections: int, seconds: int, n_tokens: int) -> list[Row]:
    rows: list[Row] = []

    def row(system: str, operation: str, r: dict[str, float], note: str = "") -> None:
        base = {"system": system, "operation": operation, "n": int(r["requests"]), "note": note}
        rows.append({**base, "value": r["rps"], "unit": "req/s"})
        rows.append({**base, "operation": f"{operation} p50", "value": r["p50"], "unit": "ms"})
        rows.append({**base, "operation": f"{operation} p99", "value": r["p99"], "unit": "ms"})
        if r["non2xx"]:
            rows[-3]["note"] = (note + f"; {int(r['non2xx'])} non-2xx").strip("; ")

    with tempfile.TemporaryDirectory(prefix="hromada-bench-api-") as tmp:
        d = Path(tmp)
        url = f"sqlite:///{d / 'minimal.db'}" if backend == "sqlite" else _pg_url(pg)
        srv = Server(["minimal", url], {}, _free_port())
        try:
            drive(wrk, srv.url, "/row", "{}", None, connections=connections, seconds=1)  # warm-up
            row(
                f"minimal FastAPI ({backend})",
                "one-row INSERT (ceiling)",
                drive(wrk, srv.url, "/row", "{}", None, connections=connections, seconds=seconds),
            )
        finally:
            srv.stop()
        # (label, group commit, front processes): `hromada serve` as one process, and with `--fronts 2`
        modes = [("on", True, 0), ("on, 2 fronts", True, 2)]
        if not quick:
            modes.append(("off", False, 0))
        for label, group, fronts in modes:
            data = d / f"ledger-{len(rows)}"
            data.mkdir()
            db = f"sqlite:///{data / 'ledger.db'}" if backend == "sqlite" else _pg_url(pg)
            env = {
                "HROMADA_DATA_DIR": str(data),
                "HROMADA_DATABASE_URL": db,
                "HROMADA_ORIGIN": "bench.hromada.local/api",
                "HROMADA_GROUP_COMMIT": "true" if group else "false",
                "HROMADA_CITIZEN_BURST": "100",
                "HROMADA_FRONTS": str(fronts),
            }
            old = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                prep = prepare(data, db, n_tokens)
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            srv = Server(["serve"], env, _free_port())
            try:
                system = f"hromada ({backend}, group commit {label})"
                sig = drive(
                    wrk,
                    srv.url,
                    f"/v1/petitions/{prep['petition']}/signatures",
                    "",
                    prep["tokens"]["sign"],
                    connections=connections,
                    seconds=seconds,
                )
                row(system, f"petition signatures, c={connections}", sig)
                if group:
                    vote = drive(
                        wrk,
                        srv.url,
                        f"/v1/ballots/{prep['ballot']}/votes",
                        json.dumps({"selection": ["a"]}),
                        prep["tokens"]["vote"],
                        connections=connections,
                        seconds=seconds,
                    )
                    row(system, f"votes, c={connections}", vote)
                batches = _group_commit_stats(srv.url)
                if batches:
                    rows[-3]["note"] = (rows[-3]["note"] + f"; {batches}").strip("; ")
            finally:
                srv.stop()
    return rows


def _group_commit_stats(url: str) -> str:
    text = httpx.get(url + "/metrics", timeout=10).text
    commits = re.search(r"^hromada_group_commits_total (\d+)", text, re.M)
    writes = re.search(r"^hromada_group_commit_writes_total (\d+)", text, re.M)
    if not commits or not writes or not int(commits.group(1)):
        return ""
    return f"{int(writes.group(1)) / int(commits.group(1)):.1f} writes per transaction (this server, all scenarios)"


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve_ledger(int(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "minimal":
        serve_minimal(int(sys.argv[3]), sys.argv[2])
    else:
        quick = "--quick" in sys.argv
        for r in run(quick=quick, backends=("sqlite",) if "--sqlite" in sys.argv else ("sqlite", "postgres")):
            print(json.dumps(r, ensure_ascii=False))
