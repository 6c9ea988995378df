"""Anchoring state: anchors, their submissions (one per nonce) and every signed transaction.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "anchor_submissions",
        sa.Column("id", BigInt, primary_key=True, autoincrement=True),
        sa.Column("chain_id", BigInt, nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", BigInt, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("gas", BigInt, nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("block_number", BigInt),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("gas_used", BigInt),
        sa.Column("effective_gas_price", BigInt),
        sa.Column("reorgs", sa.Integer, nullable=False),
        sa.Column("dropped_block_hash", sa.String(66)),
        sa.Column("last_broadcast_ms", BigInt),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("final_at", sa.String(40)),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_anchor_submissions_status", "anchor_submissions", ["status"])
    op.create_table(
        "anchor_txs",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("submission_id", BigInt, sa.ForeignKey("anchor_submissions.id"), nullable=False, index=True),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("max_fee_per_gas", BigInt, nullable=False),
        sa.Column("max_priority_fee_per_gas", BigInt),
        sa.Column("created_ms", BigInt, nullable=False),
    )
    op.create_table(
        "anchors",
        sa.Column("id", BigInt, primary_key=True, autoincrement=True),
        sa.Column("chain_id", BigInt, nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("log_id", sa.LargeBinary, nullable=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("tree_size", BigInt, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submission_id", BigInt, sa.ForeignKey("anchor_submissions.id")),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("final_at", sa.String(40)),
        sa.UniqueConstraint("chain_id", "contract", "log_id", "tree_size", name="uq_anchors_log_size"),
    )
    op.create_index("ix_anchors_status", "anchors", ["status"])


def downgrade() -> None:
    op.drop_index("ix_anchors_status", "anchors")
    op.drop_table("anchors")
    op.drop_table("anchor_txs")
    op.drop_index("ix_anchor_submissions_status", "anchor_submissions")
    op.drop_table("anchor_submissions")
