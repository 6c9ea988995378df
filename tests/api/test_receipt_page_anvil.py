"""The receipt page against a real chain: a local anvil (tools/package.json, `make node-deps`) with the
HromadaAnchor contract deployed, asked by the browser itself over JSON-RPC (anvil allows any origin by CORS).
The receipt's checkpoint anchored there is found on chain, and the page says that a development chain proves
nothing; an anchor whose root the chain does not carry fails."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import AnchorItem, ChainClient, ChainConfig, SenderKey, encode_anchor_call
from anchoring.node import LOCAL_CHAIN_ID, AnvilNode, find_anvil_binary
from tests.api.receipt_site import ORIGIN, Site, check_page


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilNode, ChainClient]]:
    try:
        find_anvil_binary()
    except Exception as exc:
        pytest.fail(f"anvil missing: run `make node-deps` ({exc})")
    d: Path = tmp_path_factory.mktemp("anvil")
    node = AnvilNode()
    node.start()
    try:
        key = SenderKey.generate_file(d / "sender.key")
        node.set_balance(key.address, 10**21)
        cfg = ChainConfig(rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, key_file=d / "sender.key", local=True)
        address, block, _ = ChainClient(cfg, key).deploy()
        cfg = ChainConfig(
            rpc_url=node.rpc_url,
            chain_id=LOCAL_CHAIN_ID,
            contract=address,
            deploy_block=block,
            key_file=d / "sender.key",
            local=True,
        )
        yield node, ChainClient(cfg, key)
    finally:
        node.stop()


def _anchor(client: ChainClient, size: int, root: bytes) -> dict[str, Any]:
    item = AnchorItem(hashlib.sha256(ORIGIN.encode()).digest(), size, root)
    gas = client.estimate_anchor_gas(encode_anchor_call([item]))
    raw, tx = client.sign_anchor_tx([item], nonce=client.nonce("pending"), fees=client.fees(), gas=gas)
    client.send_raw(raw)
    deadline = time.monotonic() + 20
    while (receipt := client.receipt(tx)) is None:
        assert time.monotonic() < deadline, f"anchor tx {tx} not mined"
        time.sleep(0.05)
    return {
        "tree_size": size,
        "root": root.hex(),
        "chain_id": LOCAL_CHAIN_ID,
        "contract": client.config.contract,
        "tx": receipt.tx_hash,
        "block": receipt.block_number,
        "block_hash": receipt.block_hash,
    }


def test_an_anchor_on_anvil_is_found_and_warned_about(browser: Any, tmp_path: Path, anvil: Any) -> None:
    node, client = anvil
    site = Site(tmp_path)
    try:
        site.pin(log_key=site.log_key, rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, contract=client.config.contract)
        # the server claims an anchor of another root: anvil carries only what was sent
        other = _anchor(client, site.size, b"\x11" * 32)
        status, text = check_page(browser, site.url, {**site.receipt, "anchor": {**other, "root": site.root.hex()}})
        assert status == "fail" and "the server's claim differs from the chain" in text, text
        anchor = _anchor(client, site.size, site.root)
        status, text = check_page(browser, site.url, {**site.receipt, "anchor": anchor, "status": "anchored"})
        assert "Root found on chain (chain 31337" in text, text
        assert "The checkpoint is consistent with the anchored root" in text
        assert status == "partial" and "local development chain: this anchor proves nothing" in text, text
    finally:
        site.close()
