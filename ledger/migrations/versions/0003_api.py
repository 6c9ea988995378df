"""HTTP layer: API key hashes and idempotent answers (not part of the public log).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True, autoincrement=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_api_keys_service", "api_keys", ["service"])
    op.create_table(
        "api_idempotency",
        sa.Column("principal", sa.String(200), primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(200), primary_key=True, autoincrement=False),
        sa.Column("request_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_index("ix_api_idempotency_created", "api_idempotency", ["created"])


def downgrade() -> None:
    op.drop_index("ix_api_idempotency_created", "api_idempotency")
    op.drop_table("api_idempotency")
    op.drop_index("ix_api_keys_service", "api_keys")
    op.drop_table("api_keys")
