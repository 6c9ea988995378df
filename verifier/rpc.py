"""A minimal Ethereum JSON-RPC client over httpx, for reading anchors back (no web3 needed).

Two kinds of trouble, kept apart on purpose:

* :class:`RpcRefused` - the node answered but would not serve the request (a JSON-RPC error object, an HTTP
  error status, a timeout). Reading logs reacts by asking for a smaller block range.
* :class:`~verifier.errors.NetworkError` - the node cannot be reached at all (connection refused, DNS, TLS).
  Nothing can be checked: the CLI exits 2.

Everything else talks to the node through an :data:`Rpc` callable ``rpc(method, params) -> result``, so tests
can hand in a fake provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

from verifier.errors import BadArgument, NetworkError

__all__ = ["HttpRpc", "Rpc", "RpcError", "RpcHttpStatus", "RpcRefused", "RpcTimeout", "display_url"]

Rpc = Callable[[str, list[Any]], Any]


class RpcRefused(Exception):
    """The node answered but did not serve the request."""

    def __init__(self, method: str, message: str) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.message = message


class RpcError(RpcRefused):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, error: Any) -> None:
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        super().__init__(method, f"{message} (code {code})")
        self.code = code


class RpcHttpStatus(RpcRefused):
    """The node answered with an HTTP error status (providers use 413/429/5xx for oversized requests)."""


class RpcTimeout(RpcRefused):
    """The node did not answer in time."""


def display_url(url: str) -> str:
    """``scheme://host[:port]/…``: providers put API keys in the path or query, so never print those."""
    parts = urlsplit(url)
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{rest}"


class HttpRpc:
    """``rpc(method, params) -> result`` over HTTP(S) JSON-RPC. Use as a context manager or call close()."""

    def __init__(self, url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise BadArgument(f"--rpc must be an http:// or https:// URL, not {display_url(url)!r}")
        self.url = url
        self.display = display_url(url)
        import httpx  # here, not at module level: an offline audit (and its worker processes) never loads it

        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._id = 0

    def __call__(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        import httpx

        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise RpcTimeout(method, f"no answer from {self.display} in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"cannot reach the chain RPC at {self.display} ({method}): {type(exc).__name__}: {exc}; "
                "check --rpc, or pass --offline to skip the chain checks"
            ) from exc
        if response.status_code != 200:
            raise RpcHttpStatus(method, f"HTTP {response.status_code} from {self.display}")
        try:
            reply = response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise RpcRefused(method, f"the answer from {self.display} is not JSON") from exc
        if not isinstance(reply, dict):
            raise RpcRefused(method, f"the answer from {self.display} is not a JSON-RPC object")
        if reply.get("error") is not None:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
