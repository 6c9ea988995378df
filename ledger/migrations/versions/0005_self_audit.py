"""The self-audit's row per log (ledger/watch.py): how far it checked and what it found.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_audit",
        sa.Column("log", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checked_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sweep_next", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("finding", sa.Text, nullable=True),
        sa.Column("checked_at", sa.String(40), nullable=True),
        sa.Column("complete_at", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("self_audit")
