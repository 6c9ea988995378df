"""A tiny Ethereum JSON-RPC stand-in on 127.0.0.1 for the receipt page's chain checks: it answers eth_chainId,
eth_getTransactionReceipt and eth_getBlockByNumber from what a test put on its "chain" (``put_anchor``), with the
CORS headers a browser needs to ask it from another origin. Anything else is a JSON-RPC error."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.ports import free_port

ANCHORED_TOPIC = "0xbea4d11b910aad40d2df2a90d97a3329219b6389f85777c99daad7eb5fafd439"


class RpcStub:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.receipts: dict[str, dict[str, Any]] = {}
        self.blocks: dict[int, str] = {}
        self.calls: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "content-type")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = {"jsonrpc": "2.0", "id": body.get("id"), **stub.answer(body["method"], body.get("params", []))}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "eth_getTransactionReceipt":
            return {"result": self.receipts.get(str(params[0]).lower())}
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            h = self.blocks.get(number)
            return {"result": None if h is None else {"number": hex(number), "hash": h}}
        return {"error": {"code": -32601, "message": f"method {method} not served by the stub"}}

    def put_anchor(self, origin: str, size: int, root: bytes, contract: str, *, block: int = 7) -> dict[str, Any]:
        """Mine a transaction emitting Anchored(SHA-256(origin), size, root) from ``contract``; returns the
        receipt's ``anchor`` object as the ledger would give it."""
        tx = "0x" + hashlib.sha256(f"{origin}/{size}/{root.hex()}/{contract}".encode()).hexdigest()
        block_hash = "0x" + hashlib.sha256(f"block {block}".encode()).hexdigest()
        self.blocks[block] = block_hash
        log = {
            "address": contract,
            "topics": [ANCHORED_TOPIC, "0x" + hashlib.sha256(origin.encode()).hexdigest()],
            "data": "0x" + size.to_bytes(32, "big").hex() + root.hex(),
            "transactionHash": tx,
            "blockNumber": hex(block),
            "blockHash": block_hash,
            "logIndex": "0x0",
        }
        self.receipts[tx] = {
            "transactionHash": tx,
            "status": "0x1",
            "blockNumber": hex(block),
            "blockHash": block_hash,
            "logs": [log],
        }
        return {
            "tree_size": size,
            "root": root.hex(),
            "chain_id": self.chain_id,
            "contract": contract,
            "tx": tx,
            "block": block,
            "block_hash": block_hash,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
