"""The witness over HTTP (c2sp.org/tlog-witness): ``POST /add-checkpoint`` and, for its operator, ``GET /``
(its verifier key and the logs it witnesses). A small Starlette app; ``serve`` runs it with uvicorn."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from witness.protocol import MAX_BODY_BYTES, Refusal, Witness


def create_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse(f"request body over {MAX_BODY_BYTES} bytes\n", status_code=413)
        try:
            # the check-and-store transaction blocks (SQLite, fsync): off the event loop
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        except Refusal as refusal:
            # exactly the media type the spec names (Starlette would append a charset to a text/* media_type)
            headers = {"Content-Type": refusal.media_type}
            return Response(refusal.body.encode(), status_code=refusal.status, headers=headers)
        return Response(lines, media_type="text/plain; charset=utf-8")

    async def info(request: Request) -> Response:
        logs = "".join(f"log {origin} {key}\n" for origin, key in sorted(witness.logs.items()))
        return PlainTextResponse(f"witness {witness.key.verifier_key()}\n{logs}")

    return Starlette(
        routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"]), Route("/", info, methods=["GET"])]
    )


def serve(witness: Witness, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(witness), host=host, port=port, log_level="warning", access_log=False)
