"""The hostile-input cases of the API (`tests/vectors/hostile/api/<case>.json`) and a raw HTTP/1.1 client that can
send what well-behaved clients refuse to: thousands of headers, a body nested 100,000 deep, 300 MB chunked.

A case file::

    {"description": "...",
     "request": {"method": "POST", "path": "/v1/petitions",
                 "headers": {"Content-Type": "application/json"},     # sent as given
                 "generated_headers": [{"name": "x-filler-{i}", "value": "x", "count": 2000}],
                 "auth": "citizen" | {"claims": {...}},                 # a development token of the server
                 "body": {"nest": 100000} | {"chunked_bytes": 300000000} | {"filler_bytes": N} | {"json": ...},
                 "query_bytes": 102400,                                 # ?q=aaa... appended to the path
                 "source": "127.0.0.11",                                # the client address (its own rate limits)
                 "repeat": 200},                                        # the same request on one connection
     "server": {"fronts": [0, 2], "env": {"HROMADA_ANONYMOUS_BURST": "20"}},
     "expect": {"status": 422, "type": "validation-error", "first_status": 200, "max_sent_bytes": 33554432},
     "limits": {"seconds": 5, "rss_mib": 256}}

Bodies and headers are generated, never stored: the files stay small. `expect` applies to the last answer of a
repeated request (`first_status` to the first); `max_sent_bytes` bounds what the client could send before the
server answered and closed (the mechanism of a body limit); `limits` are the benchmark's bounds
(bench/hostile_api.py), not the test's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import jwt

from api.auth.tokens import DevIssuer
from api.settings import DEV_AUDIENCE, DEV_ISSUER

CASES = Path(__file__).resolve().parents[1] / "vectors" / "hostile" / "api"
PROBLEMS = "https://hromada.example/problems/"
CHUNK = 64 * 1024
STREAM_ABOVE = 1024 * 1024  # bodies larger than this are sent while the answer is read (the server may cut them off)


@dataclass(frozen=True)
class Case:
    name: str
    spec: dict[str, Any]

    @property
    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = self.spec["request"]
        return request

    @property
    def expect(self) -> dict[str, Any]:
        expect: dict[str, Any] = self.spec["expect"]
        return expect

    @property
    def fronts(self) -> list[int]:
        return [int(n) for n in self.spec.get("server", {}).get("fronts", [0])]

    @property
    def env(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.spec.get("server", {}).get("env", {}).items()}

    @property
    def limits(self) -> dict[str, float]:
        return {"seconds": 5.0, "rss_mib": 256.0, **self.spec.get("limits", {})}


def load_cases(directory: Path = CASES) -> list[Case]:
    return [Case(p.stem, json.loads(p.read_text())) for p in sorted(directory.glob("*.json"))]


def server_groups(cases: list[Case]) -> dict[tuple[int, tuple[tuple[str, str], ...]], list[Case]]:
    """Cases by the server they need (front processes, environment): one server per group."""
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[Case]] = {}
    for case in cases:
        for fronts in case.fronts:
            groups.setdefault((fronts, tuple(sorted(case.env.items()))), []).append(case)
    return groups


# -- the request -----------------------------------------------------------------------------------------------
def _token(data_dir: Path, auth: Any) -> str:
    issuer = DevIssuer(data_dir)
    if auth == "citizen":
        return issuer.issue("hostile-suite")
    now = int(time.time())
    claims: dict[str, Any] = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "hostile", "iat": now, "exp": now + 600}
    claims.update(auth["claims"])
    return jwt.encode(claims, issuer.private_key, algorithm="EdDSA")


def headers_of(request: dict[str, Any], data_dir: Path) -> list[tuple[str, str]]:
    headers = [("Host", "127.0.0.1")] + [(str(k), str(v)) for k, v in request.get("headers", {}).items()]
    if request.get("auth"):
        headers.append(("Authorization", "Bearer " + _token(data_dir, request["auth"])))
    for gen in request.get("generated_headers", []):
        if "value_bytes" in gen:
            headers.append((gen["name"], "x" * int(gen["value_bytes"])))
        else:
            headers += [(gen["name"].format(i=i), gen["value"]) for i in range(int(gen["count"]))]
    return headers


@dataclass(frozen=True)
class Body:
    """Bytes with a Content-Length; or `filler` bytes of x with a Content-Length; or `chunked` bytes of x sent
    with Transfer-Encoding: chunked."""

    data: bytes = b""
    filler: int = 0
    chunked: int = 0

    def frames(self) -> Iterator[bytes]:
        if self.filler:
            block = b"x" * CHUNK
            for i in range(0, self.filler, CHUNK):
                yield block[: min(CHUNK, self.filler - i)]
            return
        if not self.chunked:
            for i in range(0, len(self.data), CHUNK):
                yield self.data[i : i + CHUNK]
            return
        full = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
        left = self.chunked
        while left >= CHUNK:
            yield full
            left -= CHUNK
        if left:
            yield b"%x\r\n" % left + b"x" * left + b"\r\n"
        yield b"0\r\n\r\n"

    @property
    def size(self) -> int:
        return self.chunked or self.filler or len(self.data)


def body_of(spec: dict[str, Any] | None) -> Body:
    if not spec:
        return Body()
    if "nest" in spec:
        n = int(spec["nest"])
        return Body(b"[" * n + b"]" * n)
    if "chunked_bytes" in spec:
        return Body(chunked=int(spec["chunked_bytes"]))
    if "filler_bytes" in spec:
        return Body(filler=int(spec["filler_bytes"]))
    if "json" in spec:
        return Body(json.dumps(spec["json"], ensure_ascii=False).encode())
    return Body(str(spec["text"]).encode())


# -- the exchange ----------------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int | None  # None: the connection ended without an answer
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    def problem_type(self) -> str | None:
        try:
            value = json.loads(self.body).get("type")
        except (ValueError, AttributeError):
            return None
        return str(value)[len(PROBLEMS) :] if isinstance(value, str) and value.startswith(PROBLEMS) else value


@dataclass
class Exchange:
    answers: list[Answer]
    sent_body_bytes: int
    seconds: float

    @property
    def first(self) -> Answer:
        return self.answers[0]

    @property
    def last(self) -> Answer:
        return self.answers[-1]


def _read_answer(sock: socket.socket, conn: h11.Connection) -> Answer:
    answer = Answer(None)
    chunks: list[bytes] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            answer.error = f"bad answer: {e}"
            return answer
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(CHUNK)
            except OSError as e:
                answer.error = f"{type(e).__name__}: {e}"
                return answer
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            answer.status = event.status_code
            answer.headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            answer.body = b"".join(chunks)
            return answer
        elif isinstance(event, h11.ConnectionClosed):
            answer.error = "connection closed before the end of the answer"
            return answer


def exchange(port: int, request: dict[str, Any], data_dir: Path, *, timeout: float = 60.0) -> Exchange:
    """Send the case's request (`repeat` times on one connection) and read each answer."""
    headers = headers_of(request, data_dir)
    body = body_of(request.get("body"))
    if body.chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(body.size)))
    method, target = request.get("method", "GET"), request["path"]
    if request.get("query_bytes"):
        target += "?q=" + "a" * int(request["query_bytes"])
    started = time.perf_counter()
    answers: list[Answer] = []
    sent = 0
    source = (str(request["source"]), 0) if request.get("source") else None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=source) as sock:
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=1024 * 1024)
        for _ in range(int(request.get("repeat", 1))):
            head = conn.send(h11.Request(method=method, target=target, headers=headers))
            assert head is not None
            if body.size > STREAM_ABOVE or len(head) > STREAM_ABOVE:
                # a server may refuse a huge head or body (431, 413) and close while the client still writes:
                # write from a thread and read the answer here, or the answer is lost to a broken pipe
                sent, answer = _streamed(sock, conn, head, body)
                answers.append(answer)
                break  # h11 does not know what the sender wrote: one request per connection
            payload = b"".join(body.frames())
            data = conn.send(h11.Data(data=payload)) if payload else b""
            end = conn.send(h11.EndOfMessage())
            try:
                sock.sendall(head + (data or b"") + (end or b""))
            except OSError as e:
                answer = _read_answer(sock, conn)  # a refusal may already be on its way back
                answers.append(answer if answer.status is not None else Answer(None, error=f"{type(e).__name__}: {e}"))
                break
            sent = len(payload)
            answer = _read_answer(sock, conn)
            answers.append(answer)
            if answer.status is None or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                break
            conn.start_next_cycle()
    return Exchange(answers, sent, time.perf_counter() - started)


def _streamed(sock: socket.socket, conn: h11.Connection, head: bytes, body: Body) -> tuple[int, Answer]:
    """Send the body from a thread while the answer is read here: a server that enforces a limit answers (and
    closes) long before a 300 MB body ends. Returns the body bytes the client could write, and the answer."""
    sent = 0
    done = threading.Event()

    def sender() -> None:
        nonlocal sent
        try:
            sock.sendall(head)
            for frame in body.frames():
                if done.is_set():
                    return
                sock.sendall(frame)
                sent += len(frame)
        except OSError:
            return  # the server closed the connection: what it does after a refusal

    thread = threading.Thread(target=sender, name="hostile-sender", daemon=True)
    thread.start()
    answer = _read_answer(sock, conn)
    done.set()
    thread.join(timeout=60)
    return sent, answer


# -- the verdict -----------------------------------------------------------------------------------------------
def failures(case: Case, ex: Exchange) -> list[str]:
    """What in the exchange contradicts the case's `expect` (empty: as expected)."""
    expect, last = case.expect, ex.last
    out = []
    if last.status != expect["status"]:
        out.append(f"status {last.status} ({last.error or last.body[:200]!r}), expected {expect['status']}")
    elif "type" in expect and last.problem_type() != expect["type"]:
        out.append(f"problem type {last.problem_type()!r}, expected {expect['type']!r}")
    elif "type" in expect and not last.headers.get("content-type", "").startswith("application/problem+json"):
        out.append(f"content type {last.headers.get('content-type')!r}, expected application/problem+json")
    if "first_status" in expect and ex.first.status != expect["first_status"]:
        out.append(f"first status {ex.first.status}, expected {expect['first_status']}")
    if "max_sent_bytes" in expect and ex.sent_body_bytes > expect["max_sent_bytes"]:
        out.append(f"the client sent {ex.sent_body_bytes:,} body bytes, expected at most {expect['max_sent_bytes']:,}")
    return out


def healthy(port: int) -> bool:
    """The server answers /healthz (from 127.0.0.2: a client address whose anonymous bucket no case emptied)."""
    import httpx

    try:
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10) as client:
            return client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.HTTPError:
        return False
