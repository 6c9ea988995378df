"""Request heads within limits: uvicorn's httptools protocol, counting header fields and head bytes as they arrive.

uvicorn limits the head only with h11 (`h11_max_incomplete_event_size`); with httptools, which `uvicorn[standard]`
installs and `hromada serve` uses, it accepted 2,000 header fields, and a head of any size (httptools buffers a
header field until it is complete). Here a request whose request line and header fields exceed
`HROMADA_MAX_HEADER_BYTES`, or whose header fields exceed `HROMADA_MAX_HEADERS` in number, is answered 431
`header-fields-too-large` and its connection closed, before the app sees it. httptools is fed at most the byte
budget of a head, so no more than that is ever buffered. A request httptools cannot parse gets uvicorn's 400, as
a problem too (`bad-request`).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import API_PROBLEMS, problem_body


def problem_message(status: int, slug: str, detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 problem response that closes the connection (written before any app runs)."""
    body = json.dumps(problem_body(status, slug, API_PROBLEMS[slug][1], detail)).encode()
    head = [STATUS_LINE[status]]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [
        b"content-type: application/problem+json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop httptools."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with a limit on the number of header fields and on the bytes of a request head.

    Two counts: the request target and header fields as httptools completes them (exact, per request, pipelined
    or not), and the bytes fed to httptools since the previous request ended, which bounds what httptools buffers
    of a field that never ends. When a request ends inside a read, the next head's share of that read is not
    counted by the second count, so httptools may buffer one read more of a pipelined head's unfinished field."""

    max_headers = 100
    max_head_bytes = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._fed = 0  # bytes fed to httptools since the previous request ended
        self._ended = 0  # requests ended on this connection
        self._field_bytes = 0
        self._header_count = 0
        self._refusal: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        if not self._in_head or len(data) <= self.max_head_bytes - self._fed:
            if self._in_head:
                self._fed += len(data)
            super().data_received(data)
            return
        room, ended = self.max_head_bytes - self._fed, self._ended
        self._fed = self.max_head_bytes
        if room > 0:
            super().data_received(data[:room])
        if self._refusal is not None or self.transport.is_closing():
            return
        if self._in_head and self._ended == ended:
            self._refuse(f"the request line and header fields are limited to {self.max_head_bytes} bytes")
            return
        self.data_received(data[room:])  # a body, or the next request's head

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._field_bytes = 0
        self._header_count = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._stop(f"requests are limited to {self.max_headers} header fields")
        self._count(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._field_bytes += n
        if self._field_bytes > self.max_head_bytes:
            self._stop(f"the request line and header fields are limited to {self.max_head_bytes} bytes")

    def _stop(self, refusal: str) -> None:
        self._refusal = refusal
        raise HeadTooLarge(refusal)  # httptools stops; uvicorn calls send_400_response

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._fed = 0
        self._ended += 1

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            self._refuse(self._refusal)
            return
        self._close_with(problem_message(400, "bad-request", msg, self.server_state.default_headers))

    def _refuse(self, detail: str) -> None:
        self._refusal = detail
        self._close_with(problem_message(431, "header-fields-too-large", detail, self.server_state.default_headers))

    def _close_with(self, message: bytes) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # a pipelined request behind one still answering: let that answer finish, then close
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        if not self.transport.is_closing():
            self.transport.write(message)
            self.transport.close()


def head_limited(max_headers: int, max_head_bytes: int) -> type[HeadLimitedProtocol]:
    """The protocol class for `uvicorn.Config(http=...)` with these limits."""

    class Limited(HeadLimitedProtocol):
        pass

    Limited.max_headers = max_headers
    Limited.max_head_bytes = max_head_bytes
    return Limited
