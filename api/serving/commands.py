"""The writer's command server: signatures and votes that a front process has authenticated (api/serving/front.py).

It answers each one with exactly what the HTTP route would answer, because it calls the same function the route
calls (`petitions.sign_petition`, `ballots.cast_vote`) after the same rate limit (`auth.deps.enforce_rate_limit`), and
maps errors with the same `problems.problem_for`. What it saves the writer is the HTTP parsing, the routing and
the token check: those ran in a front process, on another core. Wire format: api/serving/wire.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi.responses import Response

from api.auth.deps import enforce_rate_limit
from api.auth.principals import CitizenPrincipal
from api.problems import problem_for
from api.routers.ballots import cast_vote
from api.routers.ballots_models import Vote
from api.routers.petitions import sign_petition
from api.serving import wire
from api.state import ApiState
from domain.identity import CitizenIdentity

log = logging.getLogger("hromada.api.commands")

#: op -> the route template it stands for (metrics label the requests by it, as the HTTP app does).
ROUTES = {
    "sign": "/v1/petitions/{petition_id}/signatures",
    "vote": "/v1/ballots/{ballot_id}/votes",
}


class BadCommand(Exception):
    """A frame that names no known command or lacks its fields (a front of another version, or a bug)."""


def _principal(message: dict[str, Any]) -> CitizenPrincipal:
    identity = message.get("identity")
    issuer = message.get("issuer")
    if not isinstance(identity, dict) or not isinstance(issuer, str):
        raise BadCommand("identity and issuer are required")
    try:
        return CitizenPrincipal(CitizenIdentity(**identity), issuer)
    except (TypeError, ValueError) as e:
        raise BadCommand(f"bad identity: {e}") from e


def _call(state: ApiState, message: dict[str, Any]) -> Callable[[], Response]:
    """The route function to run for `message` (raises BadCommand, or ApiProblem for the rate limit)."""
    op, key, digest = message.get("op"), message.get("key"), message.get("digest")
    if op not in ROUTES or not isinstance(digest, str) or not (key is None or isinstance(key, str)):
        raise BadCommand(f"unknown command {op!r} or missing fields")
    try:
        target = UUID(str(message.get("target")))
        digest_bytes = bytes.fromhex(digest)
    except ValueError as e:
        raise BadCommand(f"bad target or digest: {e}") from e
    citizen = _principal(message)
    enforce_rate_limit(state, citizen)
    if op == "sign":
        return lambda: sign_petition(state, citizen, target, key, digest_bytes)
    body = Vote.model_validate(message.get("body"))
    return lambda: cast_vote(state, citizen, target, body, key, digest_bytes)


def answer(message_id: Any, response: Response) -> dict[str, Any]:
    headers = [
        [k.decode("latin-1"), v.decode("latin-1")] for k, v in response.raw_headers if k.lower() != b"content-length"
    ]
    return {
        "id": message_id,
        "status": response.status_code,
        "headers": headers,
        "body": wire.body_text(bytes(response.body)),
    }


class _Threads:
    """A fixed set of threads taking calls from one C-level queue and handing results back to the event loop.

    Commands block until their group commit, so many must run at once; the handoffs are a real share of the
    writer's CPU per signature, and this is the least Python between the loop and a thread and back (no capacity
    limiter or cancel scopes, no Condition per call)."""

    def __init__(self, n: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]] | None]
        self._calls = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"hromada-command-{i}", daemon=True) for i in range(n)
        ]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, loop, future = call
            try:
                result = fn()
            except BaseException as e:  # delivered to the awaiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, e)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._calls.put((fn, loop, future))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._calls.put(None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class CommandServer:
    """Listens on a Unix socket (mode 0600) in the writer's event loop and runs each command on one of its own
    threads (a command blocks until its group commit, so concurrent commands share transactions, also with the
    HTTP routes' writes)."""

    def __init__(self, state: ApiState, path: Path, threads: int = 64) -> None:
        self.state = state
        self.path = path
        self._threads = _Threads(threads)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered = 0  # commands answered (any status), for tests and diagnostics

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._connection, path=str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._threads.stop()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (message := await wire.read(reader)) is not None:
                task = asyncio.create_task(self._answer(message, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (wire.WireError, ConnectionError) as e:
            log.warning("dropping a front connection: %s", e)
        finally:
            writer.close()

    async def _answer(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        start = time.perf_counter()
        path = str(message.get("path", ""))
        route = ROUTES.get(str(message.get("op")), "unmatched")
        try:
            response = await self._threads.run(_call(self.state, message))
        except BadCommand as e:
            log.error("bad command from a front: %s", e)
            response = problem_for(e, path)  # logged and answered as an internal error (500)
        except Exception as e:  # every error becomes its problem response, as in the HTTP app
            response = problem_for(e, path)
        self.state.metrics.observe("POST", route, response.status_code, time.perf_counter() - start)
        self.answered += 1
        if writer.is_closing():
            return
        try:
            writer.write(wire.encode(answer(message.get("id"), response)))
            await writer.drain()
        except ConnectionError:
            log.warning("a front went away before its answer (the write itself is committed)")
