"""What `hromada serve` starts: the chain (a local anvil when none is configured) and the anchorer.

    service = AnchoringService(engine, origin=ledger_settings.origin, data_dir=ledger_settings.data_dir,
                               chain=settings.chain.config(), policy=settings.anchoring)
    service.start()      # starts anvil if no chain is configured (HROMADA_CHAIN_RPC_URL), deploys once, anchors
    ...
    service.stop()       # stops the anchorer, then anvil with SIGTERM (its state file is dumped)

Local chain files, all under <data_dir>/chain/: `anvil-state.json` (the chain, `--state`), `anvil.log`,
`dev-sender.key` (a random key generated here, mode 0600, funded with anvil_setBalance - never one of
anvil's well-known keys), `deployment.json` (chain id, contract, deploy block, owner) and `rpc.json`
(where the running node listens, for `hromada anchor` commands while serve runs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from anchoring.anchorer import Anchorer, AnchorerConfig, anchor_status, checkpoints_source
from anchoring.chain import ChainClient, ChainConfig, SenderKey
from anchoring.config import AnchorerSettings
from anchoring.contract import expected_runtime_code
from anchoring.errors import NodeError
from anchoring.node import LOCAL_CHAIN_ID, LOCAL_CHAIN_WARNING, AnvilNode
from anchoring.schema import TABLES

log = logging.getLogger("hromada.anchoring")

DEV_FUNDS_WEI = 1000 * 10**18


@dataclass
class LocalChainFiles:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "anvil-state.json"

    @property
    def log(self) -> Path:
        return self.root / "anvil.log"

    @property
    def key(self) -> Path:
        return self.root / "dev-sender.key"

    @property
    def deployment(self) -> Path:
        return self.root / "deployment.json"

    @property
    def rpc(self) -> Path:
        return self.root / "rpc.json"

    @property
    def port(self) -> Path:
        """The chain's port, chosen free at the first start and kept: its RPC address stays the same."""
        return self.root / "port"

    def stable_port(self) -> int:
        """The kept port, 0 (any free one) before the first start."""
        try:
            port = int(self.port.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return 0
        return port if 0 < port < 65536 else 0

    def rpc_url(self) -> str | None:
        """The chain's stable RPC address (http://127.0.0.1:PORT), None before its first start."""
        port = self.stable_port()
        return f"http://127.0.0.1:{port}" if port else None


class LocalChain:
    """A private anvil chain kept in <data_dir>/chain. NO public guarantee: development only."""

    def __init__(self, data_dir: Path, *, state_interval: int = 2) -> None:
        self.files = LocalChainFiles(Path(data_dir) / "chain")
        self.node = AnvilNode(
            state_file=self.files.state,
            state_interval=state_interval,
            log_file=self.files.log,
            chain_id=LOCAL_CHAIN_ID,
            port=self.files.stable_port(),
        )
        self.config: ChainConfig | None = None

    def start(self) -> ChainConfig:
        """Start anvil (loading its state file), make sure our contract is deployed, return the config."""
        self.files.root.mkdir(parents=True, exist_ok=True)
        try:
            self.node.start()
        except NodeError:
            if not self.node.port:
                raise
            log.warning("the local chain's port %d is taken; starting it on another one", self.node.port)
            self.node.port = 0
            self.node.start()
        self.files.port.write_text(f"{self.node.actual_port}\n", encoding="utf-8")
        key = (
            SenderKey.from_file(self.files.key) if self.files.key.exists() else SenderKey.generate_file(self.files.key)
        )
        if int(self.node.rpc("eth_getBalance", [key.address, "latest"]), 16) < DEV_FUNDS_WEI // 2:
            self.node.set_balance(key.address, DEV_FUNDS_WEI)
        deployment = self._load_deployment()
        contract = deployment.get("contract") if deployment else None
        if contract:
            code = bytes.fromhex(str(self.node.rpc("eth_getCode", [contract, "latest"])).removeprefix("0x"))
            if code != expected_runtime_code(key.address):
                log.warning("local chain lost contract %s (state file reset?); deploying a new one", contract)
                contract = None
        if not contract:
            cfg = ChainConfig(rpc_url=self.node.rpc_url, chain_id=LOCAL_CHAIN_ID, key_file=self.files.key, local=True)
            address, block, tx = ChainClient(cfg, key).deploy()
            deployment = {"chain_id": LOCAL_CHAIN_ID, "contract": address, "deploy_block": block, "deploy_tx": tx}
            deployment["owner"] = key.address
            self.files.deployment.write_text(json.dumps(deployment, indent=2) + "\n", encoding="utf-8")
            log.info("deployed HromadaAnchor at %s (block %d) on the local chain", address, block)
        assert deployment is not None
        self.config = ChainConfig(
            rpc_url=self.node.rpc_url,
            chain_id=LOCAL_CHAIN_ID,
            contract=str(deployment["contract"]),
            deploy_block=int(deployment["deploy_block"]),
            key_file=self.files.key,
            local=True,
        )
        self.files.rpc.write_text(
            json.dumps({"rpc_url": self.node.rpc_url, "pid": self.node.pid}) + "\n", encoding="utf-8"
        )
        log.warning("%s (anvil pid %s on %s)", LOCAL_CHAIN_WARNING, self.node.pid, self.node.rpc_url)
        return self.config

    def _load_deployment(self) -> dict[str, Any] | None:
        if not self.files.deployment.exists():
            return None
        data: dict[str, Any] = json.loads(self.files.deployment.read_text(encoding="utf-8"))
        return data

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.files.rpc.unlink()
        self.node.stop()


def running_local_chain(data_dir: Path) -> ChainConfig | None:
    """The local chain of a running `hromada serve` on this data dir, if any (read from chain/rpc.json)."""
    files = LocalChainFiles(Path(data_dir) / "chain")
    try:
        rpc = json.loads(files.rpc.read_text(encoding="utf-8"))
        dep = json.loads(files.deployment.read_text(encoding="utf-8"))
        os.kill(int(rpc["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return ChainConfig(
        rpc_url=str(rpc["rpc_url"]),
        chain_id=int(dep["chain_id"]),
        contract=str(dep["contract"]),
        deploy_block=int(dep["deploy_block"]),
        key_file=files.key,
        local=True,
    )


class AnchoringService:
    """The chain + anchorer pair `hromada serve` runs. start() never raises for chain trouble at runtime:
    the anchorer retries in the background; configuration errors do raise."""

    def __init__(
        self,
        engine: Engine,
        *,
        origin: str,
        data_dir: Path,
        chain: ChainConfig | None = None,
        policy: AnchorerSettings | None = None,
        config: AnchorerConfig | None = None,
    ) -> None:
        """`chain`: the configured chain (`ChainSettings.config()`), None for the local one; `policy`: the
        anchorer's settings; `config`, when given, is used as it is instead."""
        self.engine = engine
        self.origin = origin
        self.data_dir = Path(data_dir)
        self.chain_config = chain
        self.local: LocalChain | None = None
        self._policy = policy or AnchorerSettings()
        self._config = config
        self.anchorer: Anchorer | None = None

    def start(self) -> Anchorer:
        for t in TABLES:  # no-op when the migration created them
            t.create(self.engine, checkfirst=True)
        cfg = self.chain_config
        if cfg is None:
            self.local = LocalChain(self.data_dir)
            cfg = self.local.start()
            self.chain_config = cfg
        config = self._config or self._policy.config(local=cfg.local)
        client = ChainClient(cfg, cfg.load_key())
        if not cfg.local:
            client.check()  # wrong chain id / contract / owner: refuse to start
        self.anchorer = Anchorer(self.engine, client, [checkpoints_source(self.engine, self.origin)], config)
        self.anchorer.start_background()
        return self.anchorer

    def status(self) -> dict[str, Any]:
        cfg = self.chain_config
        st = anchor_status(
            self.engine,
            chain_id=cfg.chain_id if cfg else None,
            contract=cfg.contract if cfg else None,
            local=bool(cfg and cfg.local),
        )
        st["chain"] = (
            {
                "chain_id": cfg.chain_id,
                "contract": cfg.contract,
                "deploy_block": cfg.deploy_block,
                "rpc": cfg.rpc_display,
            }
            if cfg
            else None
        )
        st["last_error"] = self.anchorer.last_error if self.anchorer else None
        return st

    def stop(self) -> None:
        if self.anchorer is not None:
            self.anchorer.stop_background()
            self.anchorer.release()
            self.anchorer = None
        if self.local is not None:
            self.local.stop()
            self.local = None
