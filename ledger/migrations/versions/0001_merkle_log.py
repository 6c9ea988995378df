"""Merkle log tiles, integrator tracking, leaf index map and signed checkpoints.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "merkle_tiles",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", BigInt, primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "merkle_state",
        sa.Column("log", sa.String(255), primary_key=True),
        sa.Column("tree_size", BigInt, nullable=False),
        sa.Column("notification_id", BigInt, nullable=False),
    )
    op.create_table(
        "merkle_leaf_runs",
        sa.Column("first_leaf", BigInt, primary_key=True, autoincrement=False),
        sa.Column("first_notification", BigInt, nullable=False, unique=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "event_index",
        sa.Column("event_id", sa.LargeBinary(16), primary_key=True),
        sa.Column("leaf_index", BigInt, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", BigInt, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "event_index", "merkle_leaf_runs", "merkle_state", "merkle_tiles"):
        op.drop_table(table)
