"""The verifier's own eth_getLogs pager against fake providers (no chain needed): range halving, refusal of a
single block, an unreachable node, and the same decoding as the ledger's copy (anchoring/logs.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from anchoring import logs as ledger_logs
from verifier.anchors import ANCHORED_TOPIC, LogRangeError, decode_anchor_log, get_anchor_logs
from verifier.errors import NetworkError
from verifier.rpc import HttpRpc, RpcError, RpcHttpStatus, RpcTimeout, display_url

CONTRACT = "0x" + "aa" * 20
LOG_ID = hashlib.sha256(b"fake.example/log").digest()


def raw_log(block: int, size: int, index: int = 0, log_id: bytes = LOG_ID) -> dict[str, Any]:
    return {
        "address": CONTRACT,
        "topics": [ANCHORED_TOPIC, "0x" + log_id.hex()],
        "data": "0x" + size.to_bytes(32, "big").hex() + hashlib.sha256(str(size).encode()).hexdigest(),
        "transactionHash": "0x" + f"{block:064x}",
        "blockNumber": hex(block),
        "blockHash": "0x" + f"{block + 1:064x}",
        "logIndex": hex(index),
        "removed": False,
    }


class RangeLimitedProvider:
    """Refuses eth_getLogs over more than ``limit`` blocks, like public providers do."""

    def __init__(self, logs: list[dict[str, Any]], limit: int, latest: int, error: type[Exception] = RpcError):
        self.logs, self.limit, self.latest, self.error = logs, limit, latest, error
        self.windows: list[tuple[int, int, bool]] = []

    def __call__(self, method: str, params: list[Any]) -> Any:
        if method == "eth_blockNumber":
            return hex(self.latest)
        assert method == "eth_getLogs"
        f = params[0]
        lo, hi = int(f["fromBlock"], 16), int(f["toBlock"], 16)
        ok = hi - lo + 1 <= self.limit
        self.windows.append((lo, hi, ok))
        if not ok:
            if self.error is RpcError:
                raise RpcError(method, {"code": -32005, "message": "query returned more than 10000 results"})
            raise self.error(method, "refused")
        assert f["address"] == CONTRACT and f["topics"] == [ANCHORED_TOPIC, "0x" + LOG_ID.hex()]
        return [r for r in self.logs if lo <= int(r["blockNumber"], 16) <= hi and r["topics"][1] == f["topics"][1]]


@pytest.mark.parametrize("error", [RpcError, RpcHttpStatus, RpcTimeout])
def test_range_is_halved_until_the_provider_accepts_and_grows_back(error: type[Exception]) -> None:
    logs = [raw_log(b, b) for b in (105, 230, 231, 999, 5000)] + [raw_log(300, 1, log_id=b"\x01" * 32)]
    fake = RangeLimitedProvider(logs, limit=300, latest=6000, error=error)
    found = get_anchor_logs(fake, CONTRACT, log_id=LOG_ID, from_block=100, max_range=1000)
    assert [a.tree_size for a in found] == [105, 230, 231, 999, 5000]
    refused = [w for w in fake.windows if not w[2]]
    assert refused[0] == (100, 1099, False) and (100, 599, False) in refused
    accepted = [(lo, hi) for lo, hi, ok in fake.windows if ok]
    assert accepted[0] == (100, 349) and accepted[-1][1] == 6000  # 1000 → 500 → 250 accepted, then grows again
    # every block in [100, 6000] was covered exactly once by the accepted windows
    covered = [b for lo, hi in accepted for b in range(lo, hi + 1)]
    assert covered == list(range(100, 6001))
    assert max(hi - lo + 1 for lo, hi in accepted) <= 300


def test_a_refused_single_block_cannot_verify() -> None:
    fake = RangeLimitedProvider([], limit=0, latest=50)
    with pytest.raises(LogRangeError, match=r"even for block 10\.\.10") as exc:
        get_anchor_logs(fake, CONTRACT, log_id=LOG_ID, from_block=10)
    assert exc.value.code == "log_range_refused"


def test_unreachable_node_fails_at_once_without_halving() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    rpc = HttpRpc("https://rpc.example/v2/SECRET-KEY", transport=httpx.MockTransport(refuse))
    with rpc, pytest.raises(NetworkError) as exc:
        get_anchor_logs(rpc, CONTRACT, log_id=LOG_ID, from_block=0, to_block=100_000)
    assert calls == 1
    assert "https://rpc.example/…" in exc.value.message and "SECRET" not in exc.value.message
    assert display_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_http_rpc_maps_answers() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        import json

        method = json.loads(request.content)["method"]
        if method == "eth_chainId":
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": "0x7a69"})
        if method == "eth_getLogs":
            return httpx.Response(413, text="too large")
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "nope"}})

    with HttpRpc("http://node.example", transport=httpx.MockTransport(answer)) as rpc:
        assert rpc("eth_chainId", []) == "0x7a69"
        with pytest.raises(RpcHttpStatus, match="HTTP 413"):
            rpc("eth_getLogs", [{}])
        with pytest.raises(RpcError, match="nope"):
            rpc("eth_foo", [])


def test_decoding_agrees_with_the_ledgers_copy() -> None:
    raw = raw_log(77, 12345, index=3)
    mine, theirs = decode_anchor_log(raw), ledger_logs.decode_anchor_log(raw)
    assert (mine.log_id, mine.tree_size, mine.root, mine.tx_hash, mine.block_number, mine.block_hash) == (
        theirs.log_id, theirs.tree_size, theirs.root, theirs.tx_hash, theirs.block_number, theirs.block_hash,
    )  # fmt: skip
    assert ANCHORED_TOPIC == ledger_logs.ANCHORED_TOPIC
    bad = dict(raw, data="0x" + "ff" * 64)
    with pytest.raises(ValueError, match="uint64"):
        decode_anchor_log(bad)
