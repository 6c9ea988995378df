"""Receipts (docs/formats.md §4) and proofs served from storage.

A receipt is built on request, so it upgrades itself: `pending` until the event is integrated and covered
by a signed checkpoint, `proved` with an inclusion proof into the latest checkpoint, `anchored` once a
checkpoint at or after it is on chain (with the consistency proof from the receipt's checkpoint to the
anchored size when they differ).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

from ledger.checkpoints import Checkpoint, checkpoint_at, latest_checkpoint
from ledger.db.schema import event_records
from ledger.errors import LedgerError, StorageTampered
from ledger.leafmap import leaf_index_of_event, notification_of
from ledger.merkle.hasher import leaf_hash
from ledger.merkle.proof_build import consistency_proof, inclusion_proof
from ledger.merkle.proof_verify import root_from_inclusion_proof
from ledger.merkle.storage import SqlTileStore
from ledger.witnesses import cosigned_note

RECEIPT_FORMAT = 1

# (connection, minimum tree size) -> the earliest anchor covering that size, as docs/formats.md §4 `anchor`
AnchorLookup = Callable[[Connection, int], dict[str, Any] | None]


class ReceiptError(LedgerError):
    """No receipt can be given (unknown event)."""

    def __init__(self, message: str, *, event_id: str) -> None:
        super().__init__(message)
        self.event_id = event_id


class ProofRequestError(LedgerError):
    """A proof was asked for sizes or indices the log cannot prove (e.g. beyond the latest checkpoint)."""


def stored_entry(conn: Connection, events_table: str, leaf_index: int) -> bytes:
    nid = notification_of(conn, leaf_index)
    if nid is None:
        raise ProofRequestError(f"leaf {leaf_index} does not exist")
    table = event_records(events_table)
    return bytes(conn.execute(select(table.c.state).where(table.c.id == nid)).scalar_one())


def prove_inclusion(conn: Connection, leaf_index: int, tree_size: int) -> list[bytes]:
    """Inclusion proof of `leaf_index` in the signed tree of `tree_size`."""
    if checkpoint_at(conn, tree_size) is None:
        raise ProofRequestError(f"no signed checkpoint of size {tree_size}")
    if not 0 <= leaf_index < tree_size:
        raise ProofRequestError(f"leaf index {leaf_index} outside a tree of size {tree_size}")
    return inclusion_proof(SqlTileStore(conn), leaf_index, tree_size)


def prove_consistency(conn: Connection, size1: int, size2: int) -> list[bytes]:
    """Consistency proof between two signed tree sizes (0 < size1 <= size2)."""
    for size in (size1, size2):
        if checkpoint_at(conn, size) is None:
            raise ProofRequestError(f"no signed checkpoint of size {size}")
    if not 0 < size1 <= size2:
        raise ProofRequestError(f"need 0 < from ({size1}) <= to ({size2})")
    return consistency_proof(SqlTileStore(conn), size1, size2)


def _checked_proof(conn: Connection, entry: bytes, leaf_index: int, cp: Checkpoint) -> list[bytes]:
    """The inclusion proof of the stored ``entry`` into ``cp``, checked before anyone is told "proved": a changed
    row or tile makes it fail here, and the receipt endpoint answers 503 instead of a proof that does not verify."""
    proof = inclusion_proof(SqlTileStore(conn), leaf_index, cp.tree_size)
    found = root_from_inclusion_proof(leaf_hash(entry), leaf_index, cp.tree_size, proof)
    if found != cp.root:
        raise StorageTampered(
            f"the stored event of leaf {leaf_index} does not prove into the checkpoint of size {cp.tree_size}",
            where=f"leaf {leaf_index}",
            expected=cp.root.hex(),
            found=found.hex(),
        )
    return proof


def build_receipt(
    conn: Connection, *, events_table: str, event_id: UUID, anchors: AnchorLookup | None = None
) -> dict[str, Any]:
    """The receipt of `event_id` as far as the log can prove it now."""
    leaf_index = leaf_index_of_event(conn, event_id)
    if leaf_index is None:
        raise ReceiptError(f"event {event_id} is not in the log (or not yet integrated)", event_id=str(event_id))
    entry = stored_entry(conn, events_table, leaf_index)
    receipt: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "status": "pending",
        "event": json.loads(entry),
        "leaf_hash": leaf_hash(entry).hex(),
        "leaf_index": leaf_index,
        "inclusion_proof": None,
        "checkpoint": None,
        "anchor": None,
    }
    cp: Checkpoint | None = latest_checkpoint(conn)
    if cp is None or cp.tree_size <= leaf_index:
        return receipt
    receipt["status"] = "proved"
    receipt["inclusion_proof"] = [h.hex() for h in _checked_proof(conn, entry, leaf_index, cp)]
    receipt["checkpoint"] = cosigned_note(conn, cp)
    anchor = anchors(conn, leaf_index + 1) if anchors else None
    if anchor is not None:
        anchor = dict(anchor)
        anchored_size = int(anchor["tree_size"])
        if anchored_size > cp.tree_size:
            # The anchor covers a newer tree than our checkpoint: prove the receipt's tree is its prefix.
            anchor["consistency_proof"] = [
                h.hex() for h in consistency_proof(SqlTileStore(conn), cp.tree_size, anchored_size)
            ]
        elif anchored_size < cp.tree_size:
            anchored_cp = checkpoint_at(conn, anchored_size)
            if anchored_cp is not None:  # prove into the anchored checkpoint instead: no extra proof needed
                receipt["inclusion_proof"] = [h.hex() for h in _checked_proof(conn, entry, leaf_index, anchored_cp)]
                receipt["checkpoint"] = cosigned_note(conn, anchored_cp)
        receipt["anchor"] = anchor
        receipt["status"] = "anchored"
    return receipt
