"""A writer for tests: the HTTP app on a Unix socket and its command server beside it, in a thread, as
`hromada serve --fronts N` runs them (api/serving/fronts.py), so front processes' code can be tested in-process."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import uvicorn

from api.serving.commands import CommandServer


@contextmanager
def writer(app: Any, lifespan: Literal["on", "off"] = "off") -> Iterator[tuple[Path, Path, CommandServer]]:
    """Serve `app` on a Unix socket and its command server beside it, in a thread; yield both socket paths and
    the command server."""
    rundir = Path(tempfile.mkdtemp(prefix="hf-"))  # short: Unix socket paths are limited to ~107 bytes
    http_sock, cmd_sock = rundir / "http.sock", rundir / "commands.sock"
    config = uvicorn.Config(
        app, uds=str(http_sock), lifespan=lifespan, log_level="warning", proxy_headers=True, forwarded_allow_ips="*"
    )
    server = uvicorn.Server(config)  # in a thread: it installs no signal handlers
    commands = CommandServer(app.state.api, cmd_sock)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def run() -> None:
        await commands.start()
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        ready.set()
        await task
        await commands.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    assert ready.wait(20) and server.started, "writer did not start"
    try:
        yield http_sock, cmd_sock, commands
    finally:
        server.should_exit = True
        thread.join(20)
        loop.close()
        shutil.rmtree(rundir, ignore_errors=True)
