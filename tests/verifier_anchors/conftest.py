"""A real anvil with a deployed HromadaAnchor for the verifier's anchor checks (step 3, receipts).

Only the tests import ``anchoring`` (to run the chain and send anchors); the verifier reads them back with its
own JSON-RPC client. One chain per module: every test uses its own origin, hence its own logId, so the anchors
of one test are invisible to another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import AnchorItem, ChainClient, ChainConfig, SenderKey, encode_anchor_call
from anchoring.node import LOCAL_CHAIN_ID, AnvilNode, find_anvil_binary
from tests.verifier import factory


def anvil_available() -> bool:
    try:
        find_anvil_binary()
    except Exception:
        return False
    return True


needs_anvil = pytest.mark.skipif(not anvil_available(), reason="anvil binary missing: run `make node-deps`")


@dataclass
class Chain:
    node: AnvilNode
    client: ChainClient
    contract: str
    deploy_block: int

    @property
    def url(self) -> str:
        return self.node.rpc_url

    def anchor(self, origin: str, size: int, root: bytes, *, log_id: bytes | None = None) -> dict[str, Any]:
        """Send anchor(logId, size, root), wait for it to be mined; returns the anchors.jsonl entry."""
        item = AnchorItem(log_id or hashlib.sha256(origin.encode()).digest(), size, root)
        gas = self.client.estimate_anchor_gas(encode_anchor_call([item]))
        raw, tx = self.client.sign_anchor_tx(
            [item], nonce=self.client.nonce("pending"), fees=self.client.fees(), gas=gas
        )
        self.client.send_raw(raw)
        deadline = time.monotonic() + 20
        while (receipt := self.client.receipt(tx)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"anchor tx {tx} not mined")
            time.sleep(0.05)
        assert receipt.status == 1
        return {
            "tree_size": size,
            "root": root.hex(),
            "chain_id": LOCAL_CHAIN_ID,
            "contract": self.contract,
            "tx": receipt.tx_hash,
            "block": receipt.block_number,
            "block_hash": receipt.block_hash,
        }

    def another_contract(self) -> Chain:
        """A second HromadaAnchor on the same chain, deployed by the same key (as an operator could deploy one
        of its own at any time), as a Chain that anchors into it."""
        address, block, _ = self.client.deploy()
        cfg = dataclasses.replace(self.client.config, contract=address, deploy_block=block)
        return Chain(self.node, ChainClient(cfg, self.client.key), address, block)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    d = tmp_path_factory.mktemp("anvil")
    node = AnvilNode()
    node.start()
    try:
        key = SenderKey.generate_file(d / "sender.key")
        node.set_balance(key.address, 10**21)
        cfg0 = ChainConfig(rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, key_file=d / "sender.key", local=True)
        node.mine(3)  # so that the deployment is not at block 0
        address, block, _ = ChainClient(cfg0, key).deploy()
        cfg = ChainConfig(
            rpc_url=node.rpc_url,
            chain_id=LOCAL_CHAIN_ID,
            contract=address,
            deploy_block=block,
            key_file=d / "sender.key",
            local=True,
        )
        yield Chain(node, ChainClient(cfg, key), address, block)
    finally:
        node.stop()


@dataclass
class Anchored:
    """A factory bundle whose checkpoints at ``anchored`` sizes are anchored on the chain."""

    info: factory.BundleInfo
    chain: Chain
    entries: list[dict[str, Any]]

    @property
    def path(self) -> Path:
        return self.info.path

    def write_anchors(self, entries: list[dict[str, Any]]) -> None:
        with (self.path / "anchors.jsonl").open("w") as f:
            for e in entries:
                f.write(json.dumps(e, sort_keys=True) + "\n")

    def set_chain(self, **chain: Any) -> None:
        log = json.loads((self.path / "log.json").read_text())
        log["chain"] = {"chain_id": LOCAL_CHAIN_ID, "contract": self.chain.contract,
                        "deploy_block": self.chain.deploy_block, **chain}  # fmt: skip
        (self.path / "log.json").write_text(json.dumps(log, indent=2))


def make_anchored(path: Path, chain: Chain, *, n: int = 40, anchored: tuple[int, ...] = (10, 30)) -> Anchored:
    origin = f"test.hromada.example/{uuid.uuid4().hex[:12]}"
    info = factory.write_bundle(path, n=n, checkpoint_sizes=[10, 20, 30, n], origin=origin)
    entries = [chain.anchor(origin, s, factory.mth(info.leaves[:s])) for s in anchored]
    a = Anchored(info, chain, entries)
    a.write_anchors(entries)
    a.set_chain()
    return a


@pytest.fixture
def anchored(tmp_path: Path, chain: Chain) -> Anchored:
    return make_anchored(tmp_path / "bundle", chain)
