"""The private wire between front processes and the writer (api/serving/front.py, api/serving/commands.py).

Frames on a Unix socket: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object). A
connection carries many requests at once; answers come back in any order and name the request's `id`.

Request (front → writer), for a signature or a vote the front has already authenticated::

    {"id": 7, "op": "sign" | "vote", "path": "/v1/petitions/<uuid>/signatures", "target": "<uuid>",
     "identity": {"subject": ..., "method": ..., "age": ..., "district": ...}, "issuer": "...",
     "key": <Idempotency-Key or null>, "digest": "<hex of api.idempotency.request_hash>", "body": {...}}

Answer (writer → front)::

    {"id": 7, "status": 201, "headers": [["content-type", "application/json"], ...], "body": "<latin-1 text>"}

The writer trusts the identity a front sends: the socket lives in a directory only the service's user can
enter (mode 0700), the socket itself is 0600, and nothing else listens there.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pydantic_core

MAX_FRAME = 4 * 1024 * 1024
_LEN = struct.Struct(">I")


class WireError(Exception):
    """The other side sent something that is not a frame of this protocol."""


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > MAX_FRAME:
        raise WireError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
    return _LEN.pack(len(data)) + data


async def read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream (between frames)."""
    try:
        head = await reader.readexactly(_LEN.size)
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise WireError("stream ended inside a frame header") from e
        return None
    (size,) = _LEN.unpack(head)
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    try:
        data = await reader.readexactly(size)
    except asyncio.IncompleteReadError as e:
        raise WireError("stream ended inside a frame") from e
    try:  # pydantic-core's parser refuses deep nesting; the stdlib's recurses on the C stack (api/serving/bodies.py)
        message = pydantic_core.from_json(data)
    except ValueError as e:
        raise WireError(f"frame is not JSON: {e}") from e
    if not isinstance(message, dict):
        raise WireError("frame is not a JSON object")
    return message


def body_text(body: bytes) -> str:
    """Response bytes as text that survives JSON unchanged (latin-1 maps each byte to one code point)."""
    return body.decode("latin-1")


def body_bytes(text: str) -> bytes:
    return text.encode("latin-1")
