"""SQLAlchemy Core tables of the ledger. Schema changes go through Alembic (ledger/migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text
from sqlalchemy.types import NullType

metadata = MetaData()

# SQLite wants INTEGER for 64-bit keys; PostgreSQL gets BIGINT.
BigInt = BigInteger().with_variant(Integer(), "sqlite")

# C2SP tlog-tiles: one row per tile, `hashes` holds width*32 bytes of level-`level` hashes
# (tree level 8*level). A partial tile is overwritten as it grows; its prefix never changes.
# `subtrees` (migration 0007) holds the hashes of its complete nodes at in-tile heights 4..7, derived from `hashes`
# (ledger.merkle.tiles.tile_subtrees) so that a proof hashes at most 7 times per node; NULL means "derive them".
merkle_tiles = Table(
    "merkle_tiles",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInt, primary_key=True, autoincrement=False),
    Column("width", Integer, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    Column("subtrees", LargeBinary, nullable=True),
)

# Exactly-once tracking of the integrator: updated in the same transaction as the tiles it wrote.
merkle_state = Table(
    "merkle_state",
    metadata,
    Column("log", String(255), primary_key=True),
    Column("tree_size", BigInt, nullable=False),
    Column("notification_id", BigInt, nullable=False),
)

# Leaf index <-> notification id, run-length encoded: leaves first_leaf .. first_leaf+count-1 are the
# notifications first_notification .. first_notification+count-1. Notification ids may have gaps (a new run
# starts after each gap); leaf indices never do.
merkle_leaf_runs = Table(
    "merkle_leaf_runs",
    metadata,
    Column("first_leaf", BigInt, primary_key=True, autoincrement=False),
    Column("first_notification", BigInt, nullable=False, unique=True),
    Column("count", Integer, nullable=False),
)

# Every checkpoint the ledger signed, as served.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInt, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# The log's signing keys after the first (docs/formats.md §3, "Key hand-over"): one row per rotation, in order. Each
# holds the hand-over note (signed by the old key and the new one) at a signed size; the last row's new_key is the
# only key the ledger may sign with, and every old_key is retired for good. No row: the first key is still current.
log_key_handovers = Table(
    "log_key_handovers",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("tree_size", BigInt, nullable=False),
    Column("old_key", Text, nullable=False),
    Column("new_key", Text, nullable=False, unique=True),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# What the ledger's self-audit (ledger/watch.py) checked and found, one row per log: every process reads it.
self_audit = Table(
    "self_audit",
    metadata,
    Column("log", String(255), primary_key=True),
    Column("status", String(16), nullable=False),  # ok | tampered
    Column("checked_size", BigInt, nullable=False),
    Column("sweep_next", BigInt, nullable=False),
    Column("finding", Text, nullable=True),
    Column("checked_at", String(40), nullable=True),
    Column("complete_at", String(40), nullable=True),
)

# Cosignatures (c2sp.org/tlog-cosignature) of a signed checkpoint, one line per witness, each verified against the
# witness's configured key before it is stored (ledger/witnesses.py); GET /checkpoint appends them to the note.
witness_cosignatures = Table(
    "witness_cosignatures",
    metadata,
    Column("tree_size", BigInt, primary_key=True, autoincrement=False),
    Column("witness", String(255), primary_key=True),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInt, nullable=False),
    Column("received_at", String(40), nullable=False),
)

# Per configured witness: the size it last cosigned (the old size of the next request) and its last failure.
witness_state = Table(
    "witness_state",
    metadata,
    Column("witness", String(255), primary_key=True),
    Column("key", Text, nullable=False),
    Column("cosigned_size", BigInt, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("updated_at", String(40), nullable=False),
)

# Public event id (uuid5(stream, version), docs/formats.md §1) -> leaf index, for receipts by event id.
# On SQLite a WITHOUT ROWID table (migration 0006): the rows live in the primary-key B-tree itself, so each of the
# integrator's random-key inserts updates one B-tree, not a rowid table plus an index.
event_index = Table(
    "event_index",
    metadata,
    Column("event_id", LargeBinary(16), primary_key=True),
    Column("leaf_index", BigInt, nullable=False),
    sqlite_with_rowid=False,
)


def event_records(name: str) -> Table:
    """The event table eventsourcing-sqlalchemy created (its columns as this code reads them).

    `originator_id` is read raw: 16 bytes on SQLite, a UUID on PostgreSQL (see integrator._as_uuid)."""
    return Table(
        name,
        MetaData(),
        Column("id", BigInt, primary_key=True),
        Column("originator_id", NullType()),
        Column("originator_version", BigInt),
        Column("topic", Text),
        Column("state", LargeBinary),
    )
