"""The operator's own O(n) check of its database: events -> leaf hashes -> every tile -> every checkpoint.

Proofs and roots read O(log n) tiles, so they depend only on the tiles on their path. This check reads
everything: each stored event's leaf hash must equal its level-0 tile hash, every upper tile must be the
root of the tiles below (ledger.merkle.audit.verify_tiles), and the root at every signed size must equal the
signed checkpoint. It is what `hromada log verify` runs; the outside world uses `hromada-verify` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from ledger.checkpoints import Checkpoint, all_checkpoints
from ledger.db.schema import event_records
from ledger.errors import StorageTampered
from ledger.export import iter_entries
from ledger.integrator import read_state
from ledger.merkle.audit import TileMismatch, verify_tiles
from ledger.merkle.errors import MerkleError
from ledger.merkle.hasher import leaf_hash
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tiles import TILE_WIDTH
from ledger.merkle.tree import TreeReader

__all__ = ["SelfAuditReport", "StorageTampered", "self_audit"]  # StorageTampered lives in ledger.errors


@dataclass(frozen=True)
class SelfAuditReport:
    tree_size: int
    root: bytes
    checkpoints_checked: int


def check_leaf(index: int, entry: bytes, stored: bytes) -> None:
    """Raise StorageTampered unless the stored ``entry`` of leaf ``index`` hashes to its ``stored`` leaf hash."""
    found = leaf_hash(entry)
    if found != stored:
        raise StorageTampered(
            f"leaf {index}: the stored event does not hash to the stored leaf hash",
            where=f"leaf {index}",
            expected=stored.hex(),
            found=found.hex(),
        )


def check_checkpoint(reader: TreeReader, cp: Checkpoint, size: int) -> None:
    """Raise StorageTampered unless the tree of ``size`` (``reader``) has ``cp``'s signed root at its size."""
    if cp.tree_size > size:
        raise StorageTampered(
            f"checkpoint at {cp.tree_size} is beyond the tree ({size})",
            where=f"checkpoint {cp.tree_size}",
            expected=f"<= {size}",
            found=str(cp.tree_size),
        )
    found = reader.root_at(cp.tree_size)
    if found != cp.root:
        raise StorageTampered(
            f"the tree at {cp.tree_size} does not have the signed root",
            where=f"checkpoint {cp.tree_size}",
            expected=cp.root.hex(),
            found=found.hex(),
        )


def self_audit(
    engine: Engine, *, events_table: str, origin: str, progress: Callable[[int, int], None] | None = None
) -> SelfAuditReport:
    """Raise StorageTampered at the first disagreement; return what was checked."""
    events = event_records(events_table)
    with engine.connect() as conn:
        size = read_state(conn, origin).tree_size
        store = SqlTileStore(conn)
        tile: bytes = b""
        for index, entry in enumerate(iter_entries(conn, events, size)):
            if index % TILE_WIDTH == 0:
                tile = store.read_tiles([(0, index // TILE_WIDTH)]).get((0, index // TILE_WIDTH), b"")
                if progress and index % (TILE_WIDTH * 64) == 0:
                    progress(index, size)
            offset = (index % TILE_WIDTH) * 32
            check_leaf(index, entry, tile[offset : offset + 32])
        try:
            root = verify_tiles(store, size)
        except TileMismatch as e:
            raise StorageTampered(
                f"tile level {e.level}, hash {e.index}: not the root of the tile below it",
                where=f"tile level {e.level} hash {e.index}",
                expected=e.expected.hex(),
                found=e.found.hex(),
            ) from e
        except MerkleError as e:
            raise StorageTampered(f"the tile store is damaged: {e}", where="tiles", expected="", found=str(e)) from e
        cps = all_checkpoints(conn)
        reader = TreeReader(store, size)
        for cp in cps:
            check_checkpoint(reader, cp, size)
        if progress:
            progress(size, size)
    return SelfAuditReport(size, root, len(cps))
