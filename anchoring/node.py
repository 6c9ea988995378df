"""A local anvil chain: the platform binary from tools/node_modules, on 127.0.0.1, with a state file.

The npm package's node wrapper is never used: SIGKILL of the wrapper would leave anvil running. The binary is
started directly, in its own process group, and (on Linux) asked to receive SIGTERM if the process that
started it dies, so a killed `hromada serve` does not leave an orphan chain behind.

A local chain gives NO public guarantee: whoever controls the machine can rewrite it. It exists for
development and tests; production anchors to a public chain (docs/anchoring.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from anchoring.errors import NodeError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"
ANVIL_VERSION = "1.7.1"
ANVIL_BIN_ENV = "HROMADA_ANVIL_BIN"
LOCAL_CHAIN_ID = 31337

_PLATFORMS = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "amd64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
}
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")

LOCAL_CHAIN_WARNING = (
    "LOCAL CHAIN: anchors go to a private anvil node on this machine. They give NO public guarantee: "
    "whoever controls this machine can rewrite that chain. Configure HROMADA_CHAIN_RPC_URL for a public chain."
)


def anvil_package(system: str, machine: str) -> str:
    """The npm package of anvil's binary for `sys.platform` and `platform.machine()` (the ones tools/package.json
    pins as optional dependencies: npm installs only the one whose os and cpu match)."""
    plat = _PLATFORMS.get((system, machine.lower()))
    if plat is None:
        raise NodeError(
            f"no anvil package for platform {(system, machine)}; set {ANVIL_BIN_ENV} to an anvil {ANVIL_VERSION}"
        )
    return f"@foundry-rs/anvil-{plat}"


def find_anvil_binary(tools_dir: Path = TOOLS_DIR) -> Path:
    """The anvil platform binary: $HROMADA_ANVIL_BIN, else tools/node_modules/@foundry-rs/anvil-<platform>/bin."""
    override = os.environ.get(ANVIL_BIN_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise NodeError(f"{ANVIL_BIN_ENV}={override} is not an executable file")
        return path
    package = anvil_package(sys.platform, platform.machine())
    path = tools_dir / "node_modules" / package / "bin" / "anvil"
    if not path.is_file():
        raise NodeError(
            f"anvil not found at {path}: run `make node-deps` (npm ci --prefix tools), "
            f"or set {ANVIL_BIN_ENV} to an anvil {ANVIL_VERSION} binary"
        )
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: deliver SIGTERM to the child when the thread that started it exits (PR_SET_PDEATHSIG)."""
    os.setpgrp()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


class AnvilNode:
    """One anvil process. `start()` returns once JSON-RPC answers; `stop()` sends SIGTERM (state is dumped).

    `port=0` lets anvil pick a free port (read back from its "Listening on" line): no race with other tests.
    With `state_file`, the chain is loaded from and dumped to that file (`--state`), also every
    `state_interval` seconds, so a crash of anvil itself loses at most that many seconds of chain.
    Call `start()` from the main thread: on Linux the child is tied to the starting thread's life.
    """

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        state_interval: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
        chain_id: int = LOCAL_CHAIN_ID,
        no_mining: bool = False,
        block_time: float | None = None,
        slots_in_an_epoch: int | None = None,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
        log_file: Path | None = None,
        tools_dir: Path = TOOLS_DIR,
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise NodeError(f"the local chain listens on loopback only, not {host!r}")
        self.state_file = state_file
        self.state_interval = state_interval
        self.host = host
        self.port = port
        self.chain_id = chain_id
        self.no_mining = no_mining
        self.block_time = block_time
        self.slots_in_an_epoch = slots_in_an_epoch
        self.extra_args = list(extra_args)
        self._binary = binary
        self._tools_dir = tools_dir
        self.log_file = log_file
        self._proc: subprocess.Popen[str] | None = None
        self._tail: deque[str] = deque(maxlen=200)
        self._reader: threading.Thread | None = None
        self._log_fh: IO[str] | None = None
        self._listening = threading.Event()
        self.actual_port: int | None = None

    # -- life cycle -----------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        binary = self._binary or find_anvil_binary(self._tools_dir)
        cmd = [
            str(binary),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            "0",
        ]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        if self.no_mining:
            cmd.append("--no-mining")
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.slots_in_an_epoch is not None:
            cmd += ["--slots-in-an-epoch", str(self.slots_in_an_epoch)]
        return cmd + self.extra_args

    def start(self, timeout: float = 30.0) -> AnvilNode:
        if self.is_running():
            return self
        cmd = self.command()
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = self.log_file.open("a", encoding="utf-8")
        self._listening.clear()
        self._tail.clear()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,  # needed for PR_SET_PDEATHSIG
        )
        self._reader = threading.Thread(target=self._read_output, name="anvil-output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._kill_quietly()
                raise NodeError(
                    "anvil did not start" + (" (exited)" if self._proc.returncode is not None else " in time"),
                    command=cmd,
                    output_tail="".join(self._tail),
                )
        while True:
            try:
                self.rpc("eth_chainId", [])
                break
            except (OSError, urllib.error.URLError, NodeError) as exc:
                if time.monotonic() > deadline:
                    self._kill_quietly()
                    raise NodeError(
                        f"anvil RPC not ready: {exc}", command=cmd, output_tail="".join(self._tail)
                    ) from exc
                time.sleep(0.05)
        # the LOCAL CHAIN warning is the caller's (anchoring/service.py LocalChain.start), said once
        log.info("anvil pid %d on %s", self._proc.pid, self.rpc_url)
        return self

    def _read_output(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            self._tail.append(line)
            if self._log_fh is not None:
                self._log_fh.write(line)
                self._log_fh.flush()
            if self.actual_port is None or not self._listening.is_set():
                m = _LISTENING.search(line)
                if m:
                    self.actual_port = int(m.group(2))
                    self._listening.set()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (anvil dumps its state file), wait; SIGKILL only if it does not exit within `timeout`."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("anvil pid %d ignored SIGTERM for %.0fs; killing it", proc.pid, timeout)
                proc.kill()
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(2)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        self._proc = None
        self._listening.clear()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: simulates a crash of the node (tests). The state file keeps what was last dumped."""
        self._kill_quietly()
        self._proc = None

    def _kill_quietly(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def rpc_url(self) -> str:
        if self.actual_port is None:
            raise NodeError("anvil is not started")
        return f"http://{self.host}:{self.actual_port}"

    def output_tail(self) -> str:
        return "".join(self._tail)

    # -- raw JSON-RPC (also anvil_* test methods) --------------------------------------------------------
    def rpc(self, method: str, params: list[Any], timeout: float = 10.0) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(  # noqa: S310 - the URL is our own loopback http
            self.rpc_url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback http only
            reply = json.loads(resp.read())
        if "error" in reply:
            raise NodeError(f"{method}: {reply['error']}")
        return reply.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks by empty ones (their transactions are dropped)."""
        self.rpc("anvil_reorg", [depth, []])

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
