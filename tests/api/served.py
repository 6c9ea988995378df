"""A real `hromada serve --no-chain [--fronts N]` process for tests and benchmarks that must see what an operator
runs: the CLI imports web3 (whose py_ecc raises the recursion limit to 100,000), uvicorn with httptools, the fronts.
The in-process TestClient sees none of that."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.ports import free_port
from tests.processes import alive, wait_until

HROMADA = str(Path(sys.executable).parent / "hromada")


def children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return {int(x) for x in out.split()}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without the caller's HROMADA_* settings, with `data_dir` and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HROMADA_")}
    env.update(HROMADA_DATA_DIR=str(data_dir), **extra)
    return env


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    fronts: int
    log: Path
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serving_pids(self) -> list[int]:
        """The processes that parse requests: the writer and, with fronts, each front."""
        fronts = [p for p in children(self.proc.pid) if "api.serving.front" in cmdline(p)]
        return [self.proc.pid, *sorted(fronts)]

    def reset_peak_rss(self) -> None:
        """Reset each serving process's peak RSS (VmHWM) to its current RSS (Linux: /proc/<pid>/clear_refs)."""
        self.pids = self.serving_pids()
        for pid in self.pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def rss_kib(self) -> int:
        return sum(_status_kib(pid, "VmRSS") for pid in self.pids or self.serving_pids())

    def peak_growth_kib(self, baseline: int) -> int:
        """Sum of the serving processes' peak RSS since `reset_peak_rss`, minus `baseline` (their RSS then)."""
        return sum(_status_kib(pid, "VmHWM") for pid in self.pids) - baseline

    def alive(self) -> bool:
        return self.proc.poll() is None and all(alive(p) for p in self.pids)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(data_dir: Path, *, fronts: int = 0, port: int | None = None, **env: str) -> Served:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = data_dir / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [HROMADA, "serve", "--no-chain", "--fronts", str(fronts), "--port", str(port)],
            env=serve_env(data_dir, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(proc, port, data_dir, fronts, log)
    url = served.url
    try:
        wait_until(
            lambda: proc.poll() is not None or (ready(url) and len(served.serving_pids()) == fronts + 1), 90, 0.2
        )
    except AssertionError:
        stop(served)
        raise AssertionError(f"hromada serve did not become ready:\n{served.output()}") from None
    if proc.poll() is not None:
        raise AssertionError(f"hromada serve exited with {proc.returncode}:\n{served.output()}")
    served.pids = served.serving_pids()
    return served


def stop(served: Served) -> int | None:
    """SIGTERM, then SIGKILL after 30 s; the exit code (negative: the signal that ended it)."""
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGTERM)
        try:
            served.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()
    return served.proc.returncode


@contextmanager
def serving(data_dir: Path, *, fronts: int = 0, **env: str) -> Iterator[Served]:
    served = start(data_dir, fronts=fronts, **env)
    try:
        yield served
    finally:
        stop(served)
