"""Reading anchors back from a chain: `eth_getLogs` paged over block ranges, halving a refused range.

Dependency-light on purpose (standard library only): the verifier keeps its own copy of this file and must
not import the ledger. Everything talks to the node through `rpc(method, params) -> result`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: keccak256("Anchored(bytes32,uint64,bytes32)"), topic0 of HromadaAnchor's event (checked in the tests).
ANCHORED_TOPIC = "0xbea4d11b910aad40d2df2a90d97a3329219b6389f85777c99daad7eb5fafd439"

Rpc = Callable[[str, list[Any]], Any]


class RpcError(Exception):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, error: Any) -> None:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        super().__init__(f"{method}: {message} (code {code})")
        self.code = code
        self.message = message


class LogRangeError(Exception):
    """eth_getLogs failed even for a one-block range."""

    def __init__(self, from_block: int, to_block: int, cause: Exception) -> None:
        super().__init__(f"eth_getLogs {from_block}..{to_block} failed: {cause}")
        self.from_block = from_block
        self.to_block = to_block
        self.cause = cause


@dataclass(frozen=True)
class AnchorLog:
    """One `Anchored(logId, treeSize, root)` event as found on chain."""

    log_id: bytes
    tree_size: int
    root: bytes
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int


def http_rpc(url: str, timeout: float = 30.0) -> Rpc:
    """A JSON-RPC caller over HTTP(S) with urllib."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("only http(s) RPC URLs are supported")

    def call(method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
            reply = json.loads(resp.read())
        if reply.get("error") is not None:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    return call


def _num(v: Any) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


def _hex(v: Any) -> str:
    if isinstance(v, bytes | bytearray):
        return "0x" + bytes(v).hex()
    text = str(v).lower()
    return text if text.startswith("0x") else "0x" + text


def decode_anchor_log(raw: dict[str, Any]) -> AnchorLog:
    """Decode one eth_getLogs entry of an Anchored event (topics: [topic0, logId]; data: treeSize ‖ root)."""
    topics = [_hex(t) for t in raw["topics"]]
    if len(topics) != 2 or topics[0] != ANCHORED_TOPIC:
        raise ValueError(f"not an Anchored event: topics {topics}")
    data = bytes.fromhex(_hex(raw["data"])[2:])
    if len(data) != 64:
        raise ValueError(f"Anchored data must be 64 bytes, got {len(data)}")
    size_word = data[:32]
    if any(size_word[:24]):
        raise ValueError("treeSize does not fit in uint64")
    return AnchorLog(
        log_id=bytes.fromhex(topics[1].removeprefix("0x")),
        tree_size=int.from_bytes(size_word, "big"),
        root=data[32:],
        contract=_hex(raw["address"]),
        tx_hash=_hex(raw["transactionHash"]),
        block_number=_num(raw["blockNumber"]),
        block_hash=_hex(raw["blockHash"]),
        log_index=_num(raw["logIndex"]),
    )


def block_number(rpc: Rpc, tag: str = "latest") -> int:
    if tag == "latest":
        return _num(rpc("eth_blockNumber", []))
    block = rpc("eth_getBlockByNumber", [tag, False])
    if block is None:
        raise ValueError(f"no {tag} block")
    return _num(block["number"])


def iter_anchor_logs(
    rpc: Rpc,
    contract: str,
    *,
    log_id: bytes | None = None,
    from_block: int = 0,
    to_block: int | None = None,
    max_range: int = 10_000,
) -> Iterator[AnchorLog]:
    """Yield Anchored events of `contract` (optionally only of `log_id`) in chain order.

    Pages [from_block, to_block] in windows of at most `max_range` blocks. When the provider refuses a window
    (range too large, too many results, timeout: any error), the window is halved and retried; a refused
    one-block window raises LogRangeError. After a success the window grows back (doubling, up to max_range).
    Removed logs (reorged out) are skipped.
    """
    if to_block is None:
        to_block = block_number(rpc)
    topics: list[Any] = [ANCHORED_TOPIC]
    if log_id is not None:
        topics.append("0x" + log_id.hex())
    window = max(1, max_range)
    start = from_block
    while start <= to_block:
        end = min(to_block, start + window - 1)
        try:
            raw_logs = rpc(
                "eth_getLogs",
                [{"address": contract, "fromBlock": hex(start), "toBlock": hex(end), "topics": topics}],
            )
        except (RpcError, OSError, ValueError) as exc:
            if end == start:
                raise LogRangeError(start, end, exc) from exc
            window = max(1, (end - start + 1) // 2)
            continue
        for raw in sorted(raw_logs, key=_order):
            if raw.get("removed"):
                continue
            yield decode_anchor_log(raw)
        start = end + 1
        window = min(max_range, window * 2)


def get_anchor_logs(
    rpc: Rpc,
    contract: str,
    *,
    log_id: bytes | None = None,
    from_block: int = 0,
    to_block: int | None = None,
    max_range: int = 10_000,
) -> list[AnchorLog]:
    """All Anchored events of `contract` in [from_block, to_block]; see iter_anchor_logs."""
    return list(
        iter_anchor_logs(rpc, contract, log_id=log_id, from_block=from_block, to_block=to_block, max_range=max_range)
    )


def _order(raw: dict[str, Any]) -> tuple[int, int]:
    return _num(raw["blockNumber"]), _num(raw["logIndex"])
