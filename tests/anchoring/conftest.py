"""Fixtures of the anchoring tests: a real anvil on 127.0.0.1 (slow tests), a funded random key, a DB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert

from anchoring.anchorer import Anchorer, AnchorerConfig, checkpoints_source
from anchoring.chain import ChainClient, ChainConfig, SenderKey
from anchoring.node import LOCAL_CHAIN_ID, AnvilNode, find_anvil_binary
from ledger.db.schema import checkpoints, metadata

ORIGIN = "test.hromada.local/anchoring"


def anvil_available() -> bool:
    try:
        find_anvil_binary()
    except Exception:
        return False
    return True


needs_anvil = pytest.mark.skipif(not anvil_available(), reason="anvil binary missing: run `make node-deps`")


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    metadata.create_all(eng)
    yield eng
    eng.dispose()


def add_checkpoint(engine: Engine, size: int) -> bytes:
    root = os.urandom(32)
    with engine.begin() as conn:
        conn.execute(
            insert(checkpoints).values(tree_size=size, root=root, note=f"{ORIGIN}\n{size}\n…\n", created_at="t")
        )
    return root


@dataclass
class Chain:
    node: AnvilNode
    key: SenderKey
    config: ChainConfig

    def client(self) -> ChainClient:
        return ChainClient(self.config, self.key)

    def restart(self) -> None:
        """Stop anvil (SIGTERM, state dumped) and start it again on the same port from its state file."""
        port = self.node.actual_port
        self.node.stop()
        self.node.port = port or 0
        self.node.actual_port = None
        self.node.start()


def make_chain(tmp_path: Path, *, no_mining: bool = False) -> Chain:
    node = AnvilNode(state_file=tmp_path / "anvil-state.json", state_interval=1, no_mining=no_mining)
    node.start()
    key = SenderKey.generate_file(tmp_path / "sender.key")
    node.set_balance(key.address, 10**21)
    cfg0 = ChainConfig(rpc_url=node.rpc_url, chain_id=LOCAL_CHAIN_ID, key_file=tmp_path / "sender.key", local=True)
    client = ChainClient(cfg0, key)
    if no_mining:
        import threading

        done = threading.Event()

        def miner() -> None:
            while not done.wait(0.2):
                try:
                    node.mine(1)
                except Exception:
                    return

        t = threading.Thread(target=miner, daemon=True)
        t.start()
        try:
            address, block, _ = client.deploy()
        finally:
            done.set()
            t.join()
    else:
        address, block, _ = client.deploy()
    cfg = ChainConfig(
        rpc_url=node.rpc_url,
        chain_id=LOCAL_CHAIN_ID,
        contract=address,
        deploy_block=block,
        key_file=tmp_path / "sender.key",
        local=True,
    )
    return Chain(node, key, cfg)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = make_chain(tmp_path)
    yield c
    c.node.stop()


@pytest.fixture
def chain_no_mining(tmp_path: Path) -> Iterator[Chain]:
    c = make_chain(tmp_path, no_mining=True)
    yield c
    c.node.stop()


def make_anchorer(engine: Engine, chain: Chain, clock: Clock, **cfg: object) -> Anchorer:
    defaults: dict[str, object] = {
        "every_seconds": 600.0,
        "confirmations": 3,
        "finality": "confirmations",
        "stuck_after_seconds": 60.0,
    }
    defaults.update(cfg)
    config = AnchorerConfig(**defaults)  # type: ignore[arg-type]
    a = Anchorer(engine, chain.client(), [checkpoints_source(engine, ORIGIN)], config, clock=clock)
    a.acquire()
    return a
