"""log_key_handovers: the log signing key's rotations, each with its hand-over checkpoint note (docs/formats.md §3).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_key_handovers",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tree_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("old_key", sa.Text, nullable=False),
        sa.Column("new_key", sa.Text, nullable=False, unique=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_key_handovers")
