"""Durable anchoring state, on the ledger's shared `metadata` (Alembic migration in ledger/migrations).

- `anchors`: one row per (chain, contract, log, tree size) - idempotency key of an anchor.
- `anchor_submissions`: one row per nonce used: the anchors it carries, where it was mined, its status.
- `anchor_txs`: every signed transaction of a submission (the original and each fee bump), stored BEFORE it
  is broadcast, so that a restart can always find, re-broadcast or recognise what may be on chain.

Status of an anchor: pending -> sent -> mined -> final; superseded (a newer checkpoint of the same log was
anchored before this one was sent); failed (the transaction reverted).
Status of a submission: signed -> sent -> mined -> final; dropped (was mined, reorged out; re-broadcast at
once and back to sent); abandoned (its nonce was consumed elsewhere or lost with the chain; its anchors are
pending again); failed (reverted).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.db.schema import metadata

BigInt = BigInteger().with_variant(Integer(), "sqlite")

ANCHOR_STATUSES = ("pending", "sent", "mined", "final", "superseded", "failed")
SUBMISSION_STATUSES = ("signed", "sent", "mined", "final", "dropped", "abandoned", "failed")
IN_FLIGHT = ("signed", "sent", "mined", "dropped")

anchor_submissions = Table(
    "anchor_submissions",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("chain_id", BigInt, nullable=False),
    Column("contract", String(42), nullable=False),
    Column("sender", String(42), nullable=False),
    Column("nonce", BigInt, nullable=False),
    Column("status", String(16), nullable=False),
    Column("gas", BigInt, nullable=False),
    Column("tx_hash", String(66)),  # the transaction that was mined (one of anchor_txs)
    Column("block_number", BigInt),
    Column("block_hash", String(66)),
    Column("gas_used", BigInt),
    Column("effective_gas_price", BigInt),
    Column("reorgs", Integer, nullable=False, default=0),
    Column("dropped_block_hash", String(66)),  # evidence of the last reorg that removed it
    Column("last_broadcast_ms", BigInt),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("final_at", String(40)),
    Column("note", Text),
)
Index("ix_anchor_submissions_status", anchor_submissions.c.status)

anchor_txs = Table(
    "anchor_txs",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("submission_id", BigInt, ForeignKey("anchor_submissions.id"), nullable=False, index=True),
    Column("raw", LargeBinary, nullable=False),  # signed transaction (public once broadcast; not a secret)
    Column("max_fee_per_gas", BigInt, nullable=False),
    Column("max_priority_fee_per_gas", BigInt),  # NULL for a legacy (gasPrice) transaction
    Column("created_ms", BigInt, nullable=False),
)

anchors = Table(
    "anchors",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("chain_id", BigInt, nullable=False),
    Column("contract", String(42), nullable=False),
    Column("log_id", LargeBinary, nullable=False),
    Column("origin", String(255), nullable=False),
    Column("tree_size", BigInt, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("submission_id", BigInt, ForeignKey("anchor_submissions.id")),
    Column("created_at", String(40), nullable=False),
    Column("final_at", String(40)),
    UniqueConstraint("chain_id", "contract", "log_id", "tree_size", name="uq_anchors_log_size"),
)
Index("ix_anchors_status", anchors.c.status)

TABLES = (anchor_submissions, anchor_txs, anchors)
