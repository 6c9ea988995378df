"""Request heads within limits (api/serving/headlimit.py), on a real uvicorn with the protocol `hromada serve` uses:
header fields counted, head bytes counted as they arrive (bodies are not), keep-alive and pipelined requests
counted each on their own, and refusals as problems."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from api.serving.headlimit import head_limited
from tests.ports import free_port

MAX_HEADERS, MAX_BYTES = 20, 2048


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps({"headers": len(scope["headers"]), "body": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(answer))]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=head_limited(MAX_HEADERS, MAX_BYTES), log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _talk(port: int, data: bytes, answers: int = 1) -> list[tuple[int, dict]]:
    """Send `data`, read `answers` responses (status, JSON body); fewer if the server closes first."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        buf = b""
        while len(out) < answers:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = int(
                next(v for k, v in (h.split(b": ", 1) for h in head.split(b"\r\n")[1:]) if k == b"content-length")
            )
            while len(buf) < length:
                buf += s.recv(65536)
            out.append((int(head.split()[1]), json.loads(buf[:length])))
            buf = buf[length:]
    return out


def _request(n_headers: int = 0, pad: int = 0, body: bytes = b"") -> bytes:
    fields = [b"Host: x"] + [b"X-%d: v" % i for i in range(n_headers)]
    if pad:
        fields.append(b"X-Pad: " + b"p" * pad)
    fields.append(b"Content-Length: %d" % len(body))
    return b"POST / HTTP/1.1\r\n" + b"\r\n".join(fields) + b"\r\n\r\n" + body


def test_header_fields_are_counted(port):
    assert _talk(port, _request(MAX_HEADERS - 2))[0] == (200, {"headers": MAX_HEADERS, "body": 0})
    ((status, problem),) = _talk(port, _request(MAX_HEADERS - 1))
    assert status == 431 and problem["type"].endswith("/header-fields-too-large")
    assert f"limited to {MAX_HEADERS} header fields" in problem["detail"]


def test_head_bytes_are_counted_and_bodies_are_not(port):
    fixed = len(_request(pad=1)) - 1
    assert _talk(port, _request(pad=MAX_BYTES - fixed))[0][0] == 200  # exactly the budget
    ((status, problem),) = _talk(port, _request(pad=MAX_BYTES - fixed + 1))
    assert status == 431 and f"limited to {MAX_BYTES} bytes" in problem["detail"]
    ((status, problem),) = _talk(port, _request(pad=10 * MAX_BYTES))
    assert status == 431
    assert _talk(port, _request(body=b"b" * (20 * MAX_BYTES)))[0] == (200, {"headers": 2, "body": 20 * MAX_BYTES})


def test_a_field_that_never_ends_is_cut_off_at_the_budget(port):
    ((status, problem),) = _talk(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"e" * (10 * MAX_BYTES))
    assert status == 431 and problem["type"].endswith("/header-fields-too-large")


def test_each_request_of_a_connection_has_its_own_budget(port):
    fixed = len(_request(pad=1)) - 1
    near = _request(MAX_HEADERS - 3, pad=MAX_BYTES - fixed - 200)
    assert len(near) > MAX_BYTES // 2
    answers = _talk(port, near + near + near, answers=3)  # pipelined in one write
    assert [a[0] for a in answers] == [200, 200, 200]


def test_what_httptools_cannot_parse_is_a_400_problem(port):
    ((status, problem),) = _talk(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and problem["type"].endswith("/bad-request")
