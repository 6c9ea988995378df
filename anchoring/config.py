"""The anchoring package's parts of the settings tree: the chain (HROMADA_CHAIN_*) and the anchorer's policy
(HROMADA_ANCHOR_*).

They read no environment: the composition root (hromada/settings.py) reads the variables once, validates the
whole tree at start and hands these parts down. Field `x` of `ChainSettings` is HROMADA_CHAIN_<X>, field `x` of
`AnchorerSettings` is HROMADA_ANCHOR_<X>; an empty value counts as unset, as it always did.

| variable | meaning |
|---|---|
| `HROMADA_CHAIN_RPC_URL` | JSON-RPC endpoint; unset = local anvil started by `hromada serve` |
| `HROMADA_CHAIN_ID` | expected chain id (checked against `eth_chainId`) |
| `HROMADA_CHAIN_CONTRACT` | HromadaAnchor address (checked against the committed runtime code) |
| `HROMADA_CHAIN_DEPLOY_BLOCK` | block of the deployment (where reading anchors back starts) |
| `HROMADA_CHAIN_KEY_FILE` | file holding the sender's private key (hex), mode 0600 |
| `HROMADA_CHAIN_KEY` | the sender's private key itself (hex), when no file is used |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from anchoring.anchorer import AnchorerConfig
from anchoring.chain import ChainConfig, SenderKey
from anchoring.errors import ChainConfigError

#: The anchorer's policy on the local development chain, where settings leave a field unset.
LOCAL_DEFAULTS: dict[str, Any] = {"confirmations": 1, "finality": "confirmations", "every_seconds": 60.0}


def _unset_blanks(data: Any) -> Any:
    """Blank values count as unset (the variables were always read that way)."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}


class ChainSettings(BaseModel):
    """A public (or any remote) chain to anchor to; without `rpc_url` the local anvil chain is used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpc_url: str | None = Field(default=None, description="JSON-RPC endpoint; unset: the local anvil chain.")
    id: int | None = Field(default=None, description="Expected chain id (checked against eth_chainId).")
    contract: str | None = Field(default=None, description="HromadaAnchor address (checked against its code).")
    deploy_block: int = Field(default=0, description="Block of the deployment (reading anchors starts there).")
    key_file: Path | None = Field(default=None, description="File holding the sender's private key (hex), 0600.")
    key: SecretStr | None = Field(default=None, description="The sender's private key itself (hex), without a file.")

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        data = _unset_blanks(data)
        if not isinstance(data, dict) or data.get("rpc_url") is None:
            return {}  # the local chain: the other HROMADA_CHAIN_* variables mean nothing without a URL
        url = str(data["rpc_url"]).strip()
        if not url.startswith(("http://", "https://")):
            raise ChainConfigError("HROMADA_CHAIN_RPC_URL must be an http(s) URL", setting="rpc_url")
        try:
            chain_id = int(data["id"])
        except (KeyError, TypeError, ValueError):
            raise ChainConfigError(
                "HROMADA_CHAIN_ID (an integer) is required with HROMADA_CHAIN_RPC_URL", setting="chain_id"
            ) from None
        if data.get("key_file") is not None and data.get("key") is not None:
            raise ChainConfigError("set HROMADA_CHAIN_KEY_FILE or HROMADA_CHAIN_KEY, not both", setting="key")
        return {**data, "rpc_url": url, "id": chain_id}

    @model_validator(mode="after")
    def _check(self) -> ChainSettings:
        self.config()  # an address that is not one, a key that is not 64 hex digits: refused at start
        return self

    def config(self) -> ChainConfig | None:
        """The configured chain, or None when HROMADA_CHAIN_RPC_URL is unset (the local chain)."""
        if self.rpc_url is None or self.id is None:
            return None
        key = self.key.get_secret_value() if self.key is not None else None
        return ChainConfig(
            rpc_url=self.rpc_url,
            chain_id=self.id,
            contract=self.contract.strip() if self.contract else None,
            deploy_block=self.deploy_block,
            key_file=Path(str(self.key_file).strip()) if self.key_file is not None else None,
            key=SenderKey.from_hex(key) if key is not None else None,
        )


class AnchorerSettings(BaseModel):
    """The anchorer's policy (anchoring.anchorer.AnchorerConfig); unset fields take its defaults, or on the local
    chain `LOCAL_DEFAULTS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_seconds: float | None = Field(default=None, description="Anchor at most this often (600 s).")
    every_minutes: float | None = Field(default=None, description="The same in minutes; wins when both are set.")
    poll_seconds: float | None = Field(default=None, description="How often a sent transaction is followed (5).")
    confirmations: int | None = Field(default=None, description="Confirmations before `final` (12).")
    finality: str | None = Field(default=None, description="auto | confirmations | finalized (auto).")
    stuck_after_seconds: float | None = Field(default=None, description="Replace a tx not mined this long (180).")
    fee_bump: float | None = Field(default=None, description="Fee increase of a replacement, >= 0.125 (0.125).")
    max_fee_cap: int | None = Field(default=None, description="Never offer more wei per gas (no cap).")
    backoff_max: float | None = Field(default=None, description="Longest retry wait while the RPC is down (300).")

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        return _unset_blanks(data)

    @model_validator(mode="after")
    def _check(self) -> AnchorerSettings:
        self.config(local=False)
        self.config(local=True)
        return self

    def config(self, *, local: bool) -> AnchorerConfig:
        """The policy for a local chain (`LOCAL_DEFAULTS` where unset) or any other."""
        kw: dict[str, Any] = dict(LOCAL_DEFAULTS) if local else {}
        kw.update({k: v for k, v in self.model_dump(exclude_none=True).items() if k != "every_minutes"})
        if self.every_minutes is not None:
            kw["every_seconds"] = self.every_minutes * 60
        finality = kw.get("finality", "auto")
        if finality not in ("auto", "confirmations", "finalized"):
            raise ValueError(f"HROMADA_ANCHOR_FINALITY must be auto, confirmations or finalized, not {finality}")
        cfg = AnchorerConfig(**kw)
        if cfg.fee_bump < 0.125 or cfg.confirmations < 1:
            raise ValueError("fee_bump must be >= 0.125 and confirmations >= 1")
        return cfg
