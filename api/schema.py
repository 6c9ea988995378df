"""Tables of the HTTP layer, on the ledger's metadata (`ledger.db.schema.metadata`); Alembic migrates them.

Neither table is part of the public log: they hold API key hashes and idempotent answers.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, String, Table, Text

from ledger.db.schema import metadata

# One row per API key. Only SHA-256 of the key's secret is stored (the secret has 256 bits of entropy, so a
# slow KDF adds nothing). `scopes` is a JSON list; the service's scopes in the log are checked as well.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True, autoincrement=False),
    Column("service", String(128), nullable=False, index=True),
    Column("scopes", Text, nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
)

# Idempotency-Key records: the first answer to (principal, key), replayed on retries of the same request.
# status 0 = the first request is still running.
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("principal", String(200), primary_key=True, autoincrement=False),
    Column("key", String(200), primary_key=True, autoincrement=False),
    Column("request_hash", LargeBinary(32), nullable=False),
    Column("status", Integer, nullable=False),
    Column("media_type", String(100), nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created", Float, nullable=False, index=True),
)

API_TABLES = [api_keys, api_idempotency]
