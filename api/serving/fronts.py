"""`hromada serve --fronts N`: the writer process serves its HTTP app and its command server on private Unix
sockets, and N front processes (api/serving/front.py) share the public listening socket.

Why: one process decides every write (the ordering guards, the petition/ballot cache, the rate limits and the
group commit live there; see docs/api.md), and under load its core was spent more on HTTP parsing, routing and
ID-token signatures than on deciding. Fronts move that work to other cores; the writer keeps only the deciding.

Each front listens on the public port with SO_REUSEPORT, so the kernel spreads connections evenly over the fronts
(one inherited socket would let whichever front is awake accept nearly all of them). The writer first binds
the port itself without listening, so a port in use fails before anything starts and stays reserved. A front
that dies is restarted; stopping the writer stops the fronts first.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from api.serving.headlimit import head_limited
from api.settings import ApiSettings
from ledger.config import Settings as LedgerSettings

log = logging.getLogger("hromada.api.fronts")


class ListenError(Exception):
    """The public address cannot be bound (in use, or not ours)."""


@dataclass(frozen=True)
class Child:
    """A child process to run: its command line and what it reads on stdin at start (its validated part of the
    settings tree, as JSON: children never read the environment for their settings)."""

    command: list[str]
    stdin: bytes = b""


class ChildSupervisor:
    """Starts child processes and starts another in place of any that exits while serving."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.commands = [c.command for c in children]
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hromada-children", daemon=True)

    @staticmethod
    def _spawn(child: Child) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(child.command, close_fds=True, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died at once: the watcher starts another
            proc.stdin.write(child.stdin)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        return proc

    def start(self) -> None:
        self.procs = [self._spawn(c) for c in self.children]
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for i, proc in enumerate(self.procs):
                code = proc.poll()
                if code is not None and not self._stop.is_set():
                    log.error(
                        "child process %d (%s) exited with %s; starting another", proc.pid, self.commands[i][2], code
                    )
                    if self._stop.wait(1.0):  # no busy loop if a child cannot start at all
                        return
                    self.procs[i] = self._spawn(self.children[i])

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def child_commands(
    n: int,
    host: str,
    port: int,
    data_dir: Path,
    writer_http: Path,
    commands: Path,
    *,
    settings: ApiSettings,
    worker: LedgerSettings | None,
) -> list[Child]:
    """N fronts (given the writer's API settings) and, with `worker` (the ledger's settings), the
    integrator/checkpointer process."""
    parent = ["--parent", str(os.getpid())]
    front = [sys.executable, "-m", "api.serving.front", "--host", host, "--port", str(port)]
    front += ["--data-dir", str(data_dir), "--writer-http", str(writer_http), "--writer-commands", str(commands)]
    front += parent
    fronts = [Child(front, settings.model_dump_json().encode())] * n
    if worker is None:
        return fronts
    return [*fronts, Child([sys.executable, "-m", "ledger.worker", *parent], worker.model_dump_json().encode())]


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after it stops, which would end the process before the fronts are
    stopped and the sockets removed; here a signal only asks the server to exit, and the cleanup runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def exit_on_signals(self) -> None:
        """From the running loop: SIGTERM and SIGINT ask the server to exit (a second SIGINT forces it)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, the app, the projections rebuilt from the log) out of the
    collector's reach. Otherwise each full collection walks all of it again: measured under load, single pauses
    of 75-110 ms in the writer and a p99 of 90-130 ms, against 40-60 ms with this (bench/api.py, --fronts 2)."""
    gc.collect()
    gc.freeze()


def _run(main: Coroutine[Any, Any, None]) -> None:
    freeze_startup_heap()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency; plain asyncio works too
        asyncio.run(main)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)


def public_protocol(settings: ApiSettings, *, behind_front: bool = False) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the settings' header limits (api/serving/headlimit.py). Behind a front, which
    adds X-Forwarded-* and its HTTP client's own fields to a head it already limited, a little more is allowed."""
    extra_headers, extra_bytes = (32, 4096) if behind_front else (0, 0)
    return head_limited(settings.max_headers + extra_headers, settings.max_header_bytes + extra_bytes)


def serve_alone(app: Any, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve `app` (from `create_app`) in this process until SIGTERM or SIGINT, then return (so the caller's
    cleanup runs: plain `uvicorn.run` re-raises SIGTERM after stopping, which ends the process before any
    `finally`)."""
    http = public_protocol(app.state.api.settings)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, http=http))

    async def run() -> None:
        server.exit_on_signals()
        await server.serve()

    try:
        _run(run())
    except SystemExit as e:  # uvicorn exits when it cannot bind, after logging why
        if server.started:
            raise
        raise ListenError(f"cannot listen on {host}:{port} (see the error above)") from e


RUNDIR_PREFIX = "hromada-serve-"


def remove_stale_rundirs(tmp: Path | None = None) -> list[Path]:
    """Remove the private socket directories of writers that are gone (this user's ``hromada-serve-<pid>-*`` whose
    pid runs no process); returns them. A reused pid keeps its directory: the safe way to be wrong."""
    removed: list[Path] = []
    for d in Path(tmp or tempfile.gettempdir()).glob(f"{RUNDIR_PREFIX}*-*"):
        pid_text = d.name[len(RUNDIR_PREFIX) :].split("-", 1)[0]
        try:
            st = d.lstat()
            if not pid_text.isdigit() or st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        except OSError:  # PermissionError: a live process of another user; or the directory vanished
            continue
    return removed


def serve_with_fronts(
    app: Any, *, data_dir: Path, host: str, port: int, fronts: int, worker: bool = True, log_level: str = "info"
) -> None:
    """Serve `app` (the writer's FastAPI app, from `create_app`) behind `fronts` front processes until SIGTERM or
    SIGINT; then stop the fronts and remove the private sockets. With `worker`, the integrator/checkpointer runs
    as a child process too (ledger/worker.py); the caller must not also run `ledger.start_worker()`."""
    from api.serving.commands import CommandServer

    reserved = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR as the fronts' listeners (socket.create_server) and uvicorn have it: without it bind() is refused
    # while connections of a killed server wait out TIME_WAIT (about a minute); a listening socket still refuses it
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserved.bind((host, port))  # bound, never listening: it receives no connections
    except OSError as e:
        reserved.close()
        raise ListenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    remove_stale_rundirs()
    # mode 0700: the trust boundary of the command socket; the pid in the name lets a later start clean up after a
    # writer that was killed (SIGKILL leaves no chance to remove it)
    rundir = Path(tempfile.mkdtemp(prefix=f"{RUNDIR_PREFIX}{os.getpid()}-"))
    writer_http, commands_path = rundir / "http.sock", rundir / "commands.sock"
    commands = CommandServer(app.state.api, commands_path)
    state = app.state.api
    supervisor = ChildSupervisor(
        child_commands(
            fronts,
            host,
            port,
            data_dir,
            writer_http,
            commands_path,
            settings=state.settings,
            worker=state.ledger.settings if worker else None,
        )
    )
    config = uvicorn.Config(
        app,
        uds=str(writer_http),
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips="*",
        lifespan="on",
        http=public_protocol(app.state.api.settings, behind_front=True),
    )
    server = _Server(config)

    async def run() -> None:
        server.exit_on_signals()
        await commands.start()
        starting = asyncio.create_task(server.serve())
        while not server.started and not starting.done():
            await asyncio.sleep(0.05)
        if server.started:
            supervisor.start()
            log.info("%d front processes on http://%s:%d", fronts, host, port)
        try:
            await starting
        finally:
            supervisor.stop()
            await commands.stop()

    try:
        _run(run())
    finally:
        supervisor.stop()
        reserved.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(rundir)
