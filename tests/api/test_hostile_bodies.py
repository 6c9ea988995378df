"""Bodies before anything else touches them (api/serving/bodies.py), in process; tests/api/test_hostile_api.py sends the
same attacks to a real `hromada serve`, where the stdlib's JSON parser would overflow the C stack."""

from __future__ import annotations

import asyncio
import struct

import pytest

from api.serving import wire
from api.serving.bodies import BodyGuard, is_json_media_type
from tests.api.conftest import problem

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("path", ["/v1/petitions", "/v1/petitions/00000000-0000-4000-8000-000000000000/signatures"])
def test_deep_json_is_a_422_before_routing_and_authentication(client, path):
    r = client.post(path, content=DEEP, headers={"content-type": "application/json"})
    body = problem(r, 422, "validation-error")
    assert "nested at most 200 levels" in body["detail"] and body["errors"][0]["type"] == "json_invalid"


def test_json_media_types_are_the_ones_fastapi_parses():
    assert is_json_media_type("application/json") and is_json_media_type("Application/JSON; charset=utf-8")
    assert is_json_media_type("application/problem+json")
    assert not is_json_media_type("text/plain") and not is_json_media_type(None) and not is_json_media_type("")


def _run_guard(messages: list[dict], limit: int = 1024) -> tuple[list[dict], list[dict], int]:
    """Run BodyGuard over `messages`; return what the app received, what was sent, and how many were read."""
    seen: list[dict] = []
    sent: list[dict] = []
    read = 0

    async def app(scope, receive, send):
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        nonlocal read
        read += 1
        return messages[read - 1]

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(BodyGuard(app, limit)(scope, receive, send))
    return seen, sent, read


def test_a_chunked_body_is_cut_off_once_past_the_limit():
    chunk = {"type": "http.request", "body": b"x" * 400, "more_body": True}
    seen, sent, read = _run_guard([chunk] * 1000)  # 400 kB chunked, no Content-Length
    assert seen == [] and read == 3  # 1,200 bytes > 1,024: nothing more is read
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]


def test_the_app_receives_the_checked_bytes():
    parts = [b'{"a": ', b"[1, 2]", b"}"]
    seen, sent, _ = _run_guard([{"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(parts)])
    assert seen == [{"type": "http.request", "body": b'{"a": [1, 2]}', "more_body": False}] and sent[0]["status"] == 204


def test_a_client_that_leaves_mid_body_runs_nothing():
    seen, sent, _ = _run_guard([{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}])
    assert seen == [] and sent == []


def test_a_deep_wire_frame_is_a_wire_error():
    async def read() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack(">I", len(DEEP)) + DEEP)
        reader.feed_eof()
        await wire.read(reader)

    with pytest.raises(wire.WireError):
        asyncio.run(read())
