"""The integrator: follows the notification log in commit order and appends each event as a Merkle leaf.

Exactly once: the tiles, the leaf index map and the tracking row (`merkle_state`) are written in one
transaction, and the tracking row is advanced with a compare-and-set on the tree size. A crash before commit
leaves nothing behind; a second integrator racing on the same log loses the compare-and-set and rolls back.
Leaf indices are gapless and never taken from notification ids (PostgreSQL sequences can skip).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, func, insert, select, update

from ledger.db.bulk import bulk_insert
from ledger.db.schema import event_index, event_records, merkle_state
from ledger.envelope import event_ids_bytes
from ledger.errors import IntegrationError
from ledger.leafmap import record_leaves
from ledger.merkle.append import append_leaves
from ledger.merkle.storage import SqlTileStore


@dataclass(frozen=True)
class TreeState:
    tree_size: int
    notification_id: int


def _uuid_bytes(value: Any) -> bytes:
    """originator_id as stored: 16 bytes on SQLite, a UUID (or its text) on PostgreSQL."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, UUID):
        return value.bytes
    if isinstance(value, memoryview):
        return bytes(value)
    return UUID(str(value)).bytes


def read_state(conn: Connection, origin: str) -> TreeState:
    row = conn.execute(
        select(merkle_state.c.tree_size, merkle_state.c.notification_id).where(merkle_state.c.log == origin)
    ).first()
    return TreeState(0, 0) if row is None else TreeState(int(row[0]), int(row[1]))


class Integrator:
    """Single writer of the Merkle log of one event table."""

    def __init__(self, engine: Engine, *, origin: str, events_table: str, batch: int = 5000) -> None:
        self.engine = engine
        self.origin = origin
        self.batch = batch
        self.events = event_records(events_table)

    def state(self) -> TreeState:
        with self.engine.connect() as conn:
            return read_state(conn, self.origin)

    def pending(self) -> int:
        """How many committed events are not yet leaves (the integration lag, in events)."""
        with self.engine.connect() as conn:
            return self.pending_in(conn, read_state(conn, self.origin))

    def pending_in(self, conn: Connection, st: TreeState) -> int:
        """`pending()` on a given connection and tree state (one snapshot with other reads)."""
        return int(conn.execute(select(func.count()).where(self.events.c.id > st.notification_id)).scalar_one())

    def _read_events(self, conn: Connection, after: int, limit: int) -> list[Any]:
        """(id, state, originator_id, originator_version) of the next `limit` events after notification `after`,
        through the DB-API cursor (no SQLAlchemy row processing: this is the integrator's hot path)."""
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"SELECT id, state, originator_id, originator_version FROM {self.events.name} "
            f"WHERE id > {marker} ORDER BY id LIMIT {marker}"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, (after, limit))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def integrate_once(self, limit: int | None = None) -> int:
        """Integrate up to `limit` (default: batch) committed events; return how many became leaves."""
        limit = limit or self.batch
        with self.engine.begin() as conn:
            st = read_state(conn, self.origin)
            rows = self._read_events(conn, st.notification_id, limit)
            if not rows:
                return 0
            h = sha256
            hashes = [h(b"\x00" + r[1]).digest() for r in rows]  # leaf_hash, inlined (one per leaf)
            new_size = append_leaves(SqlTileStore(conn), st.tree_size, hashes)
            if new_size != st.tree_size + len(rows):
                raise IntegrationError(f"tree grew from {st.tree_size} to {new_size}, expected +{len(rows)}")
            record_leaves(conn, st.tree_size, [int(r[0]) for r in rows])
            if isinstance(rows[0][2], bytes):  # SQLite stores the 16 bytes; PostgreSQL gives UUIDs
                ids = event_ids_bytes([(r[2], r[3]) for r in rows])
            else:
                ids = event_ids_bytes([(_uuid_bytes(r[2]), r[3]) for r in rows])
            # sorted by key: the B-tree of event_index is then filled in order within the batch (fewer pages touched)
            index_rows = sorted(zip(ids, range(st.tree_size, new_size), strict=True))
            bulk_insert(conn, event_index, ("event_id", "leaf_index"), index_rows)
            last_id = int(rows[-1][0])
            if st.tree_size == 0 and st.notification_id == 0:
                existing = conn.execute(select(merkle_state.c.log).where(merkle_state.c.log == self.origin)).first()
                if existing is None:
                    conn.execute(
                        insert(merkle_state).values(log=self.origin, tree_size=new_size, notification_id=last_id)
                    )
                    return len(rows)
            result = conn.execute(
                update(merkle_state)
                .where(merkle_state.c.log == self.origin, merkle_state.c.tree_size == st.tree_size)
                .values(tree_size=new_size, notification_id=last_id)
            )
            if result.rowcount != 1:
                raise IntegrationError(
                    f"another integrator advanced {self.origin} past size {st.tree_size}; rolled back"
                )
            return len(rows)

    def integrate_all(self, progress: Callable[[int], None] | None = None) -> int:
        """Integrate until caught up; returns the number of new leaves."""
        total = 0
        while n := self.integrate_once():
            total += n
            if progress:
                progress(total)
        return total

    def run(self, stop: Callable[[], bool], idle_sleep: float = 0.05) -> None:
        """Follow the log until `stop()` is true, sleeping briefly when caught up."""
        while not stop():
            if self.integrate_once() == 0:
                time.sleep(idle_sleep)
