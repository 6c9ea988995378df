"""The ledger's part of the settings tree: one city log's database, keys, vault and checkpoint policy.

It reads no environment: the composition root (hromada/settings.py) reads the HROMADA_* variables once, validates
the whole tree and hands this part to `ledger.runtime.Ledger`. Each field is the variable HROMADA_<NAME>.
Development defaults; with `production` (the root's HROMADA_PRODUCTION, handed down) implicit secrets are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.errors import ConfigurationError

#: HROMADA_PRODUCTION, defined once. The root settings read it and hand it to every part that refuses something
#: in production (this one, the API's); a part built alone (tests) may be given it directly.
Production = Annotated[
    bool,
    Field(
        description="HROMADA_PRODUCTION: refuse every generated secret, the SQLite default and development tokens. "
        "Set on the root settings and handed down to the parts.",
    ),
]


class Settings(BaseModel):
    """All settings of one ledger (one city log). Every field is set as HROMADA_<NAME> (hromada/settings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: Production = False
    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file, keys and chain state live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file <data_dir>/ledger.db (WAL)."
    )
    origin: str = Field(
        default="dev.hromada.local/ledger",
        description="The log's origin: first line of every checkpoint and the signing key's name.",
    )
    log_key: str | None = Field(
        default=None,
        description="Signer key string (PRIVATE+KEY+...) or a path to a file holding it. "
        "Default in development: <data_dir>/log.key, created on first run (0600).",
    )
    pseudonym_keys: str | None = Field(
        default=None,
        description="Per-log HMAC keys for citizen pseudonyms, '1=<hex>,2=<hex>' (highest is current), or a "
        "path to a file holding them. Default in development: <data_dir>/pseudonym.keys, created (0600).",
    )
    vault_key: str | None = Field(
        default=None,
        description="64 hex chars (32 bytes) wrapping the personal-data vault's per-subject keys, or a path "
        "to a file holding them. Default in development: <data_dir>/vault.key, created (0600).",
    )
    vault_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the personal-data vault (kept apart from the public log); "
        "default: SQLite file <data_dir>/vault.db.",
    )
    checkpoint_every_events: int = Field(default=1000, ge=1, description="Sign when this many leaves were added...")
    checkpoint_every_seconds: float = Field(default=5.0, gt=0, description="...or this many seconds passed.")
    self_audit_every_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often the ledger checks its own store (ledger/watch.py): the leaves added since, and a sweep "
        "of older ones; a finding stops signing and fails /readyz.",
    )
    clock_every_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often `hromada serve`'s clock runs a round (ledger/clock.py): closes petitions and ballots "
        'whose deadline passed and expires kindergarten offers (docs/domain.md "The clock").',
    )
    integrate_batch: int = Field(default=5000, ge=1, le=100_000, description="Leaves integrated per transaction.")

    @model_validator(mode="after")
    def _production_needs_explicit_key(self) -> Settings:
        if self.production and not self.log_key:
            raise ConfigurationError(
                "HROMADA_PRODUCTION is set but HROMADA_LOG_KEY is not: a production log must be given its key "
                "explicitly (a key string or a file path); it never generates one."
            )
        if self.production and not (self.pseudonym_keys and self.vault_key and self.vault_url):
            raise ConfigurationError(
                "HROMADA_PRODUCTION is set: HROMADA_PSEUDONYM_KEYS, HROMADA_VAULT_KEY and HROMADA_VAULT_URL must "
                "be given explicitly"
            )
        if self.production and not self.database_url:
            raise ConfigurationError("HROMADA_PRODUCTION is set but HROMADA_DATABASE_URL is not.")
        if "\n" in self.origin or not self.origin or " " in self.origin or "+" in self.origin:
            raise ConfigurationError(f"invalid origin {self.origin!r}: one line, no spaces or '+'")
        return self

    @field_validator("database_url", "vault_url")
    @classmethod
    def _installed_driver(cls, url: str | None) -> str | None:
        return None if url is None else with_installed_driver(url)

    def resolved_vault_url(self) -> str:
        return self.vault_url or f"sqlite:///{(self.data_dir / 'vault.db').resolve()}"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ledger.db').resolve()}"


#: the PostgreSQL driver installed with the ledger (requirements/lock.txt: psycopg 3, not psycopg2)
POSTGRES_DRIVER = "postgresql+psycopg"


def with_installed_driver(url: str) -> str:
    """A plain `postgresql://` (or `postgres://`) URL names no driver, and SQLAlchemy then picks psycopg2, which
    is not installed: it means the installed psycopg 3. URLs naming a driver are kept as they are."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return f"{POSTGRES_DRIVER}://{url.removeprefix(scheme)}"
    return url
