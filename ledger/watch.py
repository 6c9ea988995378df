"""The ledger watches itself: a self-audit in rounds that each cost O(new events + a fixed sweep), never O(log).

`hromada log verify` (:mod:`ledger.selfaudit`) checks the whole store at once. A live ledger cannot afford that on
every round, yet a row edited by hand must be noticed soon. So each round of :class:`Watch`:

1. checks every leaf integrated since the last round (its stored event hashes to its stored level-0 hash), the
   full tiles above those leaves against the tiles below them, and every checkpoint signed since (the tree has
   its signed root at its size);
2. re-checks ``sweep`` older leaves the same way, from a cursor that wraps around, so the whole log is re-read
   every ``tree_size / sweep`` rounds whatever its size;
3. re-checks the latest checkpoint's root.

A round that finds a disagreement records it in the ``self_audit`` row (evidence: where, expected, found), and from
then on the checkpointer refuses to sign, ``/readyz`` fails and the metrics say so, in every process of the
ledger, until a complete pass over the log finds nothing (started again from leaf 0 at each start of the ledger).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from ledger.checkpoints import checkpoints_after, latest_checkpoint
from ledger.db.schema import self_audit
from ledger.errors import StorageTampered
from ledger.integrator import read_state
from ledger.leafmap import notification_of
from ledger.merkle.audit import SubtreeMismatch, check_subtrees
from ledger.merkle.hasher import HASH_SIZE
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, hashes_at_level
from ledger.merkle.tree import TreeReader
from ledger.selfaudit import check_checkpoint, check_leaf
from ledger.watchstate import WatchStatus, read_status

#: Leaves a round checks as new at most (a start re-checks the log from leaf 0 in rounds of this size).
NEW_PER_ROUND = 100_000
#: Older leaves a round re-checks (the sweep).
SWEEP_PER_ROUND = 20_000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iter_entry_range(conn: Connection, events: Table, begin: int, end: int) -> Iterator[bytes]:
    """The stored entries of leaves ``begin .. end-1`` in order. Precondition: ``0 <= begin < end <= tree size``."""
    first, last = notification_of(conn, begin), notification_of(conn, end - 1)
    if first is None or last is None:
        raise StorageTampered(
            f"leaves {begin}..{end - 1} have no notification", where=f"leaf {begin}", expected="", found=""
        )
    after = first - 1
    while after < last:
        rows = conn.execute(
            select(events.c.id, events.c.state)
            .where(events.c.id > after, events.c.id <= last)
            .order_by(events.c.id)
            .limit(4096)
        ).all()
        if not rows:
            return
        for row in rows:
            yield bytes(row[1])
        after = int(rows[-1][0])


class Watch:
    """Self-audit rounds over one log's store (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        events: Table,
        origin: str,
        new_per_round: int = NEW_PER_ROUND,
        sweep_per_round: int = SWEEP_PER_ROUND,
    ) -> None:
        self.engine = engine
        self.events = events
        self.origin = origin
        self.new_per_round = new_per_round
        self.sweep_per_round = sweep_per_round
        self._started = False
        self._checkpoint_size = 0  # checkpoints up to this size were checked in this pass
        self._pass_clean = True  # no finding since the start of this pass

    def restart(self) -> None:
        """At each start: check the whole log again from leaf 0. A finding already recorded stays until this pass
        ends clean."""
        with self.engine.begin() as conn:
            if read_status(conn, self.origin) is None:
                conn.execute(
                    insert(self_audit).values(
                        log=self.origin, status="ok", checked_size=0, sweep_next=0, finding=None, checked_at=None
                    )
                )
            else:
                conn.execute(update(self_audit).where(self_audit.c.log == self.origin).values(checked_size=0))
        self._checkpoint_size = 0
        self._pass_clean = True

    def round(self) -> WatchStatus:
        """One round; returns the status it recorded."""
        if not self._started:
            self.restart()
            self._started = True
        with self.engine.connect() as conn:
            status = read_status(conn, self.origin)
            assert status is not None
            size = read_state(conn, self.origin).tree_size
            begin, end = status.checked_size, min(size, status.checked_size + self.new_per_round)
            sweep_begin = status.sweep_next if status.sweep_next < begin else 0
            sweep_end = min(begin, sweep_begin + self.sweep_per_round)
            finding: dict[str, Any] | None = None
            try:
                store = SqlTileStore(conn)
                if end > begin:
                    self._check_leaves(conn, store, begin, end, size)
                if sweep_end > sweep_begin:
                    self._check_leaves(conn, store, sweep_begin, sweep_end, size)
                self._check_checkpoints(conn, store, size)
            except StorageTampered as e:
                finding = {"message": str(e), "where": e.where, "expected": e.expected, "found": e.found}
        values: dict[str, Any] = {
            "checked_size": end,
            "sweep_next": sweep_end if sweep_end < begin else 0,
            "checked_at": _now(),
        }
        if finding is not None:
            self._pass_clean = False
            values.update(status="tampered", finding=json.dumps(finding, sort_keys=True))
        elif end == size and self._pass_clean:
            # every leaf was checked since the start and nothing was found: the store is as signed
            values.update(status="ok", finding=None, complete_at=_now())
        with self.engine.begin() as conn:
            conn.execute(update(self_audit).where(self_audit.c.log == self.origin).values(**values))
            out = read_status(conn, self.origin)
        assert out is not None
        return out

    # -- checks ---------------------------------------------------------------------------------------------------
    def _check_leaves(self, conn: Connection, store: SqlTileStore, begin: int, end: int, size: int) -> None:
        """Leaves begin..end-1 against their level-0 hashes, and every full tile over them against the level above.
        Precondition: ``0 <= begin < end <= size``, the tree size."""
        tiles = store.read_tiles([(0, t) for t in range(begin >> TILE_HEIGHT, ((end - 1) >> TILE_HEIGHT) + 1)])
        for index, entry in enumerate(iter_entry_range(conn, self.events, begin, end), start=begin):
            tile = tiles.get((0, index >> TILE_HEIGHT), b"")
            offset = (index % TILE_WIDTH) * HASH_SIZE
            stored = tile[offset : offset + HASH_SIZE]
            check_leaf(index, entry, stored)
        level, lo, hi = 0, begin >> TILE_HEIGHT, (end - 1) >> TILE_HEIGHT
        while hashes_at_level(size, level + 1) > 0:
            below = store.read_tile_rows([(level, t) for t in range(lo, hi + 1)])
            above = store.read_tiles([(level + 1, t) for t in range(lo >> TILE_HEIGHT, (hi >> TILE_HEIGHT) + 1)])
            for t in range(lo, hi + 1):
                data, subtrees = below.get((level, t), (b"", None))
                try:  # the subtrees proofs read must be those of the tile (a partial one too)
                    computed = check_subtrees((level, t), data, subtrees) if data else None
                except SubtreeMismatch as e:
                    raise StorageTampered(
                        f"tile level {level}, tile {t}: stored subtrees are not those of its hashes",
                        where=f"tile level {level} tile {t} subtrees",
                        expected=e.expected.hex(),
                        found=e.found.hex(),
                    ) from e
                if computed is None:
                    continue  # a partial tile: its hashes are checked through the checkpoints' roots
                parent = above.get((level + 1, t >> TILE_HEIGHT), b"")
                offset = (t % TILE_WIDTH) * HASH_SIZE
                stored = parent[offset : offset + HASH_SIZE]
                if stored != computed:
                    raise StorageTampered(
                        f"tile level {level + 1}, hash {t}: not the root of the tile below it",
                        where=f"tile level {level + 1} hash {t}",
                        expected=computed.hex(),
                        found=stored.hex(),
                    )
            level, lo, hi = level + 1, lo >> TILE_HEIGHT, hi >> TILE_HEIGHT

    def _check_checkpoints(self, conn: Connection, store: SqlTileStore, size: int) -> None:
        """The checkpoints signed since the last round, and the latest one, have their roots in the tree."""
        reader = TreeReader(store, size)
        todo = checkpoints_after(conn, self._checkpoint_size)
        latest = latest_checkpoint(conn)
        if latest is not None and not todo:
            todo.append(latest)
        for cp in todo:
            check_checkpoint(reader, cp, size)
            self._checkpoint_size = max(self._checkpoint_size, cp.tree_size)
