"""A front process: terminates HTTP on the public port and keeps the writer's one core for deciding.

`hromada serve --fronts N` runs N of these beside the writer (api/serving/fronts.py). Each one:

* verifies the citizen's ID token of a signature (`POST /v1/petitions/{id}/signatures`) or a vote
  (`POST /v1/ballots/{id}/votes`) and hands the request to the writer's command server as a verified command
  (api/serving/commands.py), which runs the very function the route runs;
* passes every other request, and every signature or vote it does not take (a service key, a token it cannot
  verify, a body that is not a valid vote, an unusual path or header), through to the writer's HTTP app on a
  Unix socket, unchanged except for `X-Forwarded-For`/`X-Forwarded-Proto`, which it sets from the connection.

So every answer, refusals included, comes from the writer's code: the front only decides which door a request
takes. The front holds no state that matters: no rate limit, no cache, no database connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from api.auth.keys import looks_like_key
from api.auth.tokens import NeedsFetch, TokenVerifier
from api.idempotency import MAX_KEY_CHARS, request_hash
from api.problems import ApiProblem, problem_for, problem_response
from api.routers.ballots_models import Vote
from api.serving import wire
from api.serving.bodies import read_body, too_large
from api.settings import ApiSettings
from ledger.worker import die_with_parent

log = logging.getLogger("hromada.api.front")

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_FAST = re.compile(rf"^/v1/(petitions/(?P<petition>{_UUID})/signatures|ballots/(?P<ballot>{_UUID})/votes)$")
#: Not forwarded either way: they describe one connection, or (X-Forwarded-*) we set them ourselves.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer", b"proxy-connection"}
_DROP_IN = _HOP | {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}


class WriterUnavailable(Exception):
    """The writer's command socket or HTTP socket did not answer."""


class CommandClient:
    """One multiplexed connection to the writer's command server; reconnects after a failure."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def _connect(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, writer = await asyncio.open_unix_connection(str(self.path))
                except OSError as e:
                    raise WriterUnavailable(f"cannot reach the writer at {self.path}: {e}") from e
                self._writer = writer
                self._reader = asyncio.get_running_loop().create_task(self._read(reader, writer))  # keep a reference
            return self._writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        error = "the writer closed the connection"
        try:
            while (message := await wire.read(reader)) is not None:
                future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
                if future is not None and not future.done():
                    future.set_result(message)
        except (wire.WireError, ConnectionError) as e:
            error = f"connection to the writer failed: {e}"
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(WriterUnavailable(error))

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        writer = await self._connect()
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            writer.write(wire.encode({**message, "id": message_id}))
            await writer.drain()
        except ConnectionError as e:
            self._pending.pop(message_id, None)
            raise WriterUnavailable(f"connection to the writer failed: {e}") from e
        return await future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [v for k, v in headers if k.lower() == name]


class FrontApp:
    """The ASGI app of a front process."""

    def __init__(self, settings: ApiSettings, data_dir: Path, writer_http: Path, writer_commands: Path) -> None:
        self.settings = settings
        self.tokens = TokenVerifier(settings, data_dir)
        self.commands = CommandClient(writer_commands)
        self.http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(writer_http)),
            base_url="http://writer",
            timeout=httpx.Timeout(None, connect=5.0),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            return
        try:  # within the limit, streaming, as the writer's BodyGuard reads it (the writer checks JSON nesting)
            body = await read_body(receive, self.settings.max_body_bytes)
        except ConnectionError:
            return  # the client left mid-body: nothing to pass on
        if body is None:
            await problem_for(too_large(self.settings.max_body_bytes), scope["path"])(scope, receive, send)
            return
        try:
            command = await self.fast_command(scope, body)
            if command is not None:
                await self._send_answer(await self.commands.call(command), send)
            else:
                await self._proxy(scope, body, send)
        except WriterUnavailable as e:
            log.warning("%s", e)
            await problem_response(
                503,
                "writer-unavailable",
                "Writer unavailable",
                "the ledger's writer process is not answering; retry (with the same Idempotency-Key for writes)",
                instance=scope["path"],
                headers={"Retry-After": "1"},
            )(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.commands.close()
                await self.http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def fast_command(self, scope: Scope, body: bytes) -> dict[str, Any] | None:
        """The command for a signature or vote this front may hand over, or None to pass the request through."""
        if scope["method"] != "POST":
            return None
        match = _FAST.fullmatch(scope["path"])
        if match is None:
            return None
        headers = scope["headers"]
        auth = _header(headers, b"authorization")
        if len(auth) != 1:
            return None
        scheme, _, token = auth[0].decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token or looks_like_key(token):
            return None
        keys = _header(headers, b"idempotency-key")
        if len(keys) > 1:
            return None
        key = keys[0].decode("latin-1") if keys else None
        if key is not None and not (0 < len(key) <= MAX_KEY_CHARS and key.isprintable()):
            return None
        vote: Vote | None = None
        if match.group("ballot"):
            types = _header(headers, b"content-type")
            if len(types) != 1 or types[0].split(b";")[0].strip().lower() != b"application/json":
                return None
            try:
                vote = Vote.model_validate_json(body)
            except ValidationError:
                return None
        try:
            try:
                identity, issuer = self.tokens.verify(token, may_fetch=False)
            except NeedsFetch:
                identity, issuer = await run_in_threadpool(self.tokens.verify, token)
        except ApiProblem:
            return None  # the writer refuses it with its own words
        path = scope["path"]
        return {
            "op": "vote" if vote is not None else "sign",
            "path": path,
            "target": match.group("ballot") or match.group("petition"),
            "identity": {
                "subject": identity.subject,
                "method": identity.method,
                "age": identity.age,
                "district": identity.district,
            },
            "issuer": issuer,
            "key": key,
            "digest": request_hash("POST", path, vote).hex(),
            "body": vote.model_dump(mode="json") if vote is not None else None,
        }

    async def _send_answer(self, answer: dict[str, Any], send: Send) -> None:
        body = wire.body_bytes(answer["body"])
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer["headers"]]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": int(answer["status"]), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _proxy(self, scope: Scope, body: bytes, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _DROP_IN]
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode()))
        headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self.http.build_request(
            scope["method"], "http://writer" + target.decode("latin-1"), headers=headers, content=body
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as e:
            raise WriterUnavailable(f"cannot reach the writer's HTTP socket: {e}") from e
        try:
            out = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                message: Message = {"type": "http.response.body", "body": chunk, "more_body": True}
                await send(message)
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - run as a child process by api/serving/fronts.py
    """A front of `hromada serve --fronts N`: its API settings are the writer's, read as JSON from stdin."""
    import argparse
    import socket
    import sys

    import uvicorn

    from api.serving.fronts import freeze_startup_heap, public_protocol

    parser = argparse.ArgumentParser(description="A Hromada front process (started by `hromada serve --fronts N`).")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--writer-http", type=Path, required=True)
    parser.add_argument("--writer-commands", type=Path, required=True)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--parent", type=int, help="The writer's pid: this front stops when the writer is gone")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    settings = ApiSettings.model_validate_json(sys.stdin.buffer.read())  # the writer's, validated at its start
    app = FrontApp(settings, args.data_dir, args.writer_http, args.writer_commands)
    config = uvicorn.Config(
        app, log_level=args.log_level, access_log=False, lifespan="on", http=public_protocol(settings)
    )
    listener = socket.create_server((args.host, args.port), reuse_port=True, backlog=2048)
    freeze_startup_heap()
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":  # pragma: no cover
    main()
