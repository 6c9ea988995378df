"""Request bodies, before anything else touches them (`create_app` installs `BodyGuard` outside the app).

* **Size.** A body is read here, streaming, and refused with 413 `payload-too-large` as soon as more than
  `HROMADA_MAX_BODY_BYTES` arrived, chunked bodies included (a `Content-Length` above the limit is refused before
  any byte is read). Nothing holds more than the limit, and the connection is closed after the refusal, so the rest
  of the body is never read. Before this, a 300 MB chunked body was buffered whole and the 401 came afterwards.
* **Nesting.** A JSON body (the media types FastAPI parses: `application/json`, `application/*+json`) is parsed
  here by pydantic-core's parser, which refuses more than 200 levels of nesting, and refused with 422
  `validation-error` when it is not JSON. The standard library's parser, which FastAPI runs next, recurses on the
  C stack: in a process where py_ecc raised the recursion limit to 100,000 (web3 imports it, and so does
  `hromada`), 100,000 nested arrays overflowed the stack (SIGSEGV) instead of raising RecursionError.

The app then receives the very bytes that were checked.
"""

from __future__ import annotations

import email.message

import pydantic_core
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ApiProblem, problem_for

#: pydantic-core's (jiter's) fixed nesting limit; documented here and in docs/api.md.
MAX_JSON_DEPTH = 200


def is_json_media_type(value: str | None) -> bool:
    """Whether FastAPI parses a body of this Content-Type as JSON (the same test as fastapi.routing's)."""
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def too_large(limit: int) -> ApiProblem:
    return ApiProblem(
        413,
        "payload-too-large",
        "Payload too large",
        f"request bodies are limited to {limit} bytes",
        headers={"Connection": "close"},
    )


def invalid_json(error: ValueError) -> ApiProblem:
    return ApiProblem(
        422,
        "validation-error",
        "Validation error",
        f"the body is not JSON nested at most {MAX_JSON_DEPTH} levels deep: {error}",
        code="validation_error",
        errors=[{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}],
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when more than `limit` bytes arrive (read no further then). A client that goes
    away mid-body raises ConnectionError."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected before the end of the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyGuard:
    """Pure ASGI middleware: the body within the limit and, if JSON, within the nesting limit; else a problem."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._checked_body(scope, receive)
        except ConnectionError:
            return  # nobody to answer, and no request to run on half a body
        except ApiProblem as refusal:
            await problem_for(refusal, scope.get("path"))(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _checked_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise too_large(self.limit)
        body = await read_body(receive, self.limit)
        if body is None:
            raise too_large(self.limit)
        content_type = _header(scope, b"content-type")
        if body and is_json_media_type(content_type.decode("latin-1") if content_type else None):
            try:
                pydantic_core.from_json(body)
            except ValueError as e:
                raise invalid_json(e) from e
        return body
