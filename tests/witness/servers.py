"""Witness servers for the ledger-side and end-to-end tests: a lying witness (a valid key, cosignatures over
something else) and a uvicorn server on 127.0.0.1 in a thread of the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.processes import wait_until
from verifier.note import parse_checkpoint_body, parse_note
from witness.keys import WitnessKey


def lying_app(key: WitnessKey) -> Starlette:
    """Answers every add-checkpoint with a well-formed cosignature line by `key`, over the checkpoint of the same
    origin one leaf larger (what a witness colluding in a split view, or a broken one, could send)."""

    async def add_checkpoint(request: Request) -> Response:
        note = (await request.body()).decode().split("\n\n", 1)[1]
        cp = parse_checkpoint_body(parse_note(note).text)
        other = f"{cp.origin}\n{cp.size + 1}\n{cp.body.split(chr(10))[2]}\n"
        return Response(key.cosign(other, int(time.time())), media_type="text/plain")

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


def hanging_app() -> Starlette:
    """Accepts the connection and never answers in time (a witness that is overloaded or wedged)."""

    async def add_checkpoint(request: Request) -> Response:
        await asyncio.sleep(3600)
        return Response("", status_code=500)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


@contextmanager
def serve_in_thread(app: Starlette, port: int) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 20, 0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
