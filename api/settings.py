"""The HTTP layer's part of the settings tree (the ledger's own part is ledger.config.Settings).

It reads no environment: the composition root (hromada/settings.py) reads the HROMADA_* variables once, validates
the whole tree and hands this part to `api.app.create_app` and to the front processes. Each field is the variable
HROMADA_<NAME>; lists and objects are JSON.

Nothing here has a secret default: API keys live hashed in the database, the development token issuer's key is
generated under the data directory, and with HROMADA_PRODUCTION set the development issuer is refused.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.receipt_page import WitnessPin, check_contract, check_log_key, check_rpc_url, check_witnesses
from ledger.config import Production

DEV_ISSUER = "https://dev.hromada.invalid/issuer"
DEV_AUDIENCE = "hromada-dev"


class OidcIssuer(BaseModel):
    """One trusted OpenID Connect provider. Its ID tokens are verified against its JWKS."""

    issuer: str = Field(description="Exact `iss` claim value.")
    jwks_uri: str = Field(description="Where the provider publishes its signing keys (JWKS).")
    audience: str = Field(description="Our client id: the `aud` the token must carry.")
    subject_prefix: str = Field(description="Prepended to `sub` (`<prefix>:<sub>`); the domain's pseudonym input.")
    method: str = Field(default="bankid", description="Identity method this provider asserts (bankid, diia, qes).")
    method_claim: str | None = Field(default=None, description="Claim that overrides `method`, when present.")
    age_claim: str | None = Field(default="age", description="Claim holding the citizen's age (eligibility only).")
    district_claim: str | None = Field(default="district", description="Claim holding the citizen's district.")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])


class ApiSettings(BaseModel):
    """Every field is set as HROMADA_<NAME> (hromada/settings.py); lists and objects as JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: Production = False  # handed down by the root: refuses the development token issuer
    host: str = Field(default="127.0.0.1", description="Listen address of `hromada serve` (and of its fronts).")
    port: int = Field(default=8000, ge=0, le=65535, description="Listen port of `hromada serve`.")
    oidc_issuers: list[OidcIssuer] = Field(
        default_factory=list,
        description='Trusted OIDC providers, JSON: [{"issuer": ..., "jwks_uri": ..., "audience": ..., '
        '"subject_prefix": ..., "method": ...}]',
    )
    jwks_cache_seconds: float = Field(default=600.0, gt=0)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    dev_issuer: bool = Field(default=True, description="Accept tokens of the built-in development issuer.")
    dev_token_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    citizen_rate: float = Field(default=5.0, gt=0, description="Citizen writes per second (token bucket refill).")
    citizen_burst: int = Field(default=20, ge=1, description="Citizen bucket size.")
    service_rate: float = Field(default=2000.0, gt=0, description="Service requests per second.")
    service_burst: int = Field(default=4000, ge=1)
    anonymous_rate: float = Field(default=200.0, gt=0, description="Unauthenticated requests per second per client.")
    anonymous_burst: int = Field(default=400, ge=1)
    idempotency_hours: float = Field(default=24.0, gt=0, description="How long idempotent answers are kept.")
    group_commit: bool = Field(default=True, description="Batch concurrent writes into one transaction.")
    group_commit_max: int = Field(default=256, ge=1, le=10_000, description="Most writes in one transaction.")
    aggregate_cache: bool = Field(
        default=True,
        description="Decide signatures and votes on cached petitions and ballots. Correct only while this "
        "process is the one writer of petitions and ballots in its database (one `hromada serve` per database).",
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry spans and metrics (needs a configured provider); off by default: "
        "/metrics serves Prometheus, and the per-request checks cost CPU.",
    )
    fronts: int = Field(
        default=0,
        ge=0,
        le=64,
        description="HTTP front processes (`hromada serve --fronts N`): 0 = the writer process serves HTTP itself; "
        "N >= 1 = N processes terminate HTTP and verify citizen tokens, hand signatures and votes to the writer as "
        "verified commands and pass every other request through (docs/api.md).",
    )
    receipt_page: bool = Field(
        default=True, description="Serve the citizen pages: the receipt page at / and the voting booth at /booth/."
    )
    receipt_log_key: str | None = Field(
        default=None,
        description="The log's verifier key the receipt page checks against (pinned at deploy time; its "
        "fingerprint is what the city prints; after a key rotation still the first key, whose hand-overs the page "
        "follows); unset: the page takes the key this server announces, and says so.",
    )
    receipt_rpc_url: str | None = Field(
        default=None,
        description="Ethereum JSON-RPC endpoint the citizen's browser asks for the anchor (not the ledger; it must "
        "allow the page's origin by CORS); unset: the page says the anchor was not checked.",
    )
    receipt_chain_id: int | None = Field(default=None, ge=1, description="The chain id the anchors must be on.")
    receipt_contract: str | None = Field(default=None, description="The anchor contract the anchors must be in.")
    receipt_witnesses: list[WitnessPin] = Field(
        default_factory=list,
        description='Witnesses the receipt page counts, JSON: [{"name": "w1", "key": "<witness verifier key>"}].',
    )
    receipt_witness_threshold: int | None = Field(
        default=None, ge=1, description="How many of receipt_witnesses must have cosigned; default: all."
    )
    api_no_anchors: bool = Field(
        default=False, description="Audit bundles served by GET /v1/export carry no chain and no anchors."
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Larger request bodies are refused (413).")
    max_headers: int = Field(default=100, ge=8, le=10_000, description="More header fields are refused (431).")
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="A longer request line and headers are refused (431)."
    )

    @field_validator("oidc_issuers", "receipt_witnesses", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v) if v.strip() else []
        return v

    @field_validator("receipt_log_key")
    @classmethod
    def _log_key(cls, v: str | None) -> str | None:
        return check_log_key(v)

    @field_validator("receipt_rpc_url")
    @classmethod
    def _rpc_url(cls, v: str | None) -> str | None:
        return check_rpc_url(v)

    @field_validator("receipt_contract")
    @classmethod
    def _contract(cls, v: str | None) -> str | None:
        return check_contract(v)

    @model_validator(mode="after")
    def _witness_policy(self) -> ApiSettings:
        check_witnesses(self.receipt_witnesses, self.receipt_witness_threshold)
        return self

    def dev_issuer_enabled(self) -> bool:
        return self.dev_issuer and not self.production
