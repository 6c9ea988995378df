"""Witness cosignatures of signed checkpoints, and what the ledger knows of each witness (ledger/witnesses.py).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "witness_cosignatures",
        sa.Column("tree_size", BigInt, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("timestamp", BigInt, nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "witness_state",
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("cosigned_size", BigInt, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("witness_state")
    op.drop_table("witness_cosignatures")
