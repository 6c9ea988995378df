"""Gas of anchoring, measured on a real anvil: one `anchor` and `anchorBatch` of 100 logs.

Gas is deterministic for given calldata (the zero bytes of tree sizes and roots change it by a few gas), so
random roots and realistic tree sizes are used and the median of several transactions is reported. The
issue's bounds: about 24.3k gas per single anchor, about 3.5k gas per log in a batch of 100.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from anchoring.chain import AnchorItem, ChainClient, ChainConfig, SenderKey, encode_anchor_call
from anchoring.node import LOCAL_CHAIN_ID, AnvilNode

SINGLE_BOUND = 24_300
PER_LOG_BOUND = 3_500


def measure(rounds: int = 5, batch: int = 100) -> dict[str, Any]:
    """Deploy on a fresh anvil and return {'deploy', 'single': [gas...], 'batch': gas, 'batch_size'}."""
    with tempfile.TemporaryDirectory() as tmp, AnvilNode() as node:
        key = SenderKey.generate_file(Path(tmp) / "k")
        node.set_balance(key.address, 10**21)
        cfg = ChainConfig(rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, local=True)
        address, _, deploy_tx = ChainClient(cfg, key).deploy()
        client = ChainClient(
            ChainConfig(rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, contract=address, local=True), key
        )
        deploy_gas = _gas(client, deploy_tx)

        def send(items: list[AnchorItem]) -> int:
            gas = client.estimate_anchor_gas(encode_anchor_call(items))
            raw, tx = client.sign_anchor_tx(items, nonce=client.nonce("pending"), fees=client.fees(), gas=gas)
            client.send_raw(raw)
            return _gas(client, tx)

        single = [send([AnchorItem(os.urandom(32), 1_000_000 + i, os.urandom(32))]) for i in range(rounds)]
        items = [AnchorItem(os.urandom(32), 1_000_000 + i, os.urandom(32)) for i in range(batch)]
        batch_gas = send(items)
        return {"deploy": deploy_gas, "single": single, "batch": batch_gas, "batch_size": batch}


def _gas(client: ChainClient, tx: str, timeout: float = 10.0) -> int:
    """Gas used by `tx`, waiting for anvil to mine it (automining answers the send before the block is in)."""
    deadline = time.monotonic() + timeout
    r = client.receipt(tx)
    while r is None and time.monotonic() < deadline:
        time.sleep(0.05)
        r = client.receipt(tx)
    if r is None or r.status != 1:
        raise RuntimeError(f"transaction {tx} not mined within {timeout} s, or reverted")
    return r.gas_used


def run(rounds: int = 5) -> list[dict[str, Any]]:
    m = measure(rounds=rounds)
    single = int(statistics.median(m["single"]))
    per_log = m["batch"] / m["batch_size"]
    return [
        {
            "system": "HromadaAnchor (anvil)",
            "operation": "anchor() one log",
            "n": rounds,
            "value": single,
            "unit": "gas/tx",
            "note": f"median; issue bound ~{SINGLE_BOUND:,}",
        },
        {
            "system": "HromadaAnchor (anvil)",
            "operation": f"anchorBatch() {m['batch_size']} logs",
            "n": m["batch_size"],
            "value": round(per_log, 1),
            "unit": "gas/log",
            "note": f"{m['batch']:,} gas/tx; issue bound ~{PER_LOG_BOUND:,}",
        },
        {
            "system": "HromadaAnchor (anvil)",
            "operation": "deploy",
            "n": 1,
            "value": m["deploy"],
            "unit": "gas",
            "note": "once per chain",
        },
    ]
