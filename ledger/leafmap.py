"""Leaf index <-> notification id, stored as runs of consecutive ids (table merkle_leaf_runs)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Connection, insert, select

from ledger.db.schema import event_index, merkle_leaf_runs


def runs_of(first_leaf: int, notification_ids: Sequence[int]) -> list[dict[str, int]]:
    """Split ascending notification ids (leaves first_leaf, first_leaf+1, ...) into runs of consecutive ids."""
    runs: list[dict[str, int]] = []
    for offset, nid in enumerate(notification_ids):
        if runs and nid == runs[-1]["first_notification"] + runs[-1]["count"]:
            runs[-1]["count"] += 1
        else:
            runs.append({"first_leaf": first_leaf + offset, "first_notification": nid, "count": 1})
    return runs


def record_leaves(conn: Connection, first_leaf: int, notification_ids: Sequence[int]) -> None:
    """Record that leaves first_leaf.. are the given notifications (in the integrator's transaction)."""
    if notification_ids:
        conn.execute(insert(merkle_leaf_runs), runs_of(first_leaf, notification_ids))


def leaf_index_of(conn: Connection, notification_id: int) -> int | None:
    """The leaf index of a notification, or None when it is not (yet) integrated."""
    row = conn.execute(
        select(merkle_leaf_runs)
        .where(merkle_leaf_runs.c.first_notification <= notification_id)
        .order_by(merkle_leaf_runs.c.first_notification.desc())
        .limit(1)
    ).first()
    if row is None or notification_id >= row.first_notification + row.count:
        return None
    return int(row.first_leaf + (notification_id - row.first_notification))


def notification_of(conn: Connection, leaf_index: int) -> int | None:
    """The notification id of a leaf, or None when the leaf does not exist."""
    row = conn.execute(
        select(merkle_leaf_runs)
        .where(merkle_leaf_runs.c.first_leaf <= leaf_index)
        .order_by(merkle_leaf_runs.c.first_leaf.desc())
        .limit(1)
    ).first()
    if row is None or leaf_index >= row.first_leaf + row.count:
        return None
    return int(row.first_notification + (leaf_index - row.first_leaf))


def leaf_index_of_event(conn: Connection, event_id: UUID) -> int | None:
    """The leaf index of a public event id (docs/formats.md §1), or None when not (yet) integrated."""
    row = conn.execute(select(event_index.c.leaf_index).where(event_index.c.event_id == event_id.bytes)).first()
    return None if row is None else int(row[0])
