"""Signed checkpoints: when to sign, and never two that contradict each other.

Before signing size N the checkpointer proves, from storage, that the tree at N extends the last signed
checkpoint (an RFC 9162 consistency proof checked against the *stored signed* root). If the storage was
tampered with, or a bug rewrote history, it refuses with InconsistentCheckpointError instead of signing a fork.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select

from ledger.db.schema import checkpoints
from ledger.errors import CheckpointError, InconsistentCheckpointError
from ledger.integrator import read_state
from ledger.keychain import refuse_retired
from ledger.keys import LogSigner
from ledger.merkle.errors import MerkleError
from ledger.merkle.proof_build import consistency_proof
from ledger.merkle.proof_verify import verify_consistency
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tree import TreeReader
from ledger.note import format_checkpoint
from ledger.watchstate import refuse_if_tampered


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root: bytes
    note: str
    created_at: str


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)).first()
    return None if row is None else Checkpoint(int(row.tree_size), bytes(row.root), row.note, row.created_at)


def checkpoint_at(conn: Connection, tree_size: int) -> Checkpoint | None:
    row = conn.execute(select(checkpoints).where(checkpoints.c.tree_size == tree_size)).first()
    return None if row is None else Checkpoint(int(row.tree_size), bytes(row.root), row.note, row.created_at)


def all_checkpoints(conn: Connection) -> list[Checkpoint]:
    return checkpoints_after(conn, -1)


def checkpoints_after(conn: Connection, tree_size: int) -> list[Checkpoint]:
    """Every checkpoint of a size above ``tree_size``, smallest first."""
    rows = conn.execute(
        select(checkpoints).where(checkpoints.c.tree_size > tree_size).order_by(checkpoints.c.tree_size)
    ).all()
    return [Checkpoint(int(r.tree_size), bytes(r.root), r.note, r.created_at) for r in rows]


class Checkpointer:
    """Signs checkpoints of one log. Policy: sign when the tree grew and `every_events` leaves were added
    or `every_seconds` passed since the last checkpoint."""

    def __init__(
        self, engine: Engine, signer: LogSigner, *, every_events: int = 1000, every_seconds: float = 5.0
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.every_events = every_events
        self.every_seconds = every_seconds
        self._last_time = time.monotonic()

    @property
    def origin(self) -> str:
        return self.signer.name

    def due(self) -> bool:
        with self.engine.connect() as conn:
            size = read_state(conn, self.origin).tree_size
            last = latest_checkpoint(conn)
        last_size = last.tree_size if last else 0
        if size <= last_size:
            return False
        return size - last_size >= self.every_events or time.monotonic() - self._last_time >= self.every_seconds

    def maybe_checkpoint(self) -> Checkpoint | None:
        return self.checkpoint() if self.due() else None

    def sign_empty(self) -> Checkpoint | None:
        """Sign the checkpoint of the empty log (size 0, root SHA-256 of nothing) when nothing was signed yet, so a
        client polling ``/checkpoint`` on a new log gets a signed answer. None when a checkpoint exists."""
        with self.engine.begin() as conn:
            if latest_checkpoint(conn) is not None or read_state(conn, self.origin).tree_size != 0:
                return None
            refuse_if_tampered(conn, self.origin)
            refuse_retired(conn, self.signer)
            root = TreeReader(SqlTileStore(conn), 0).root()
            note = self.signer.sign(format_checkpoint(self.origin, 0, root))
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            conn.execute(insert(checkpoints).values(tree_size=0, root=root, note=note, created_at=created))
        return Checkpoint(0, root, note, created)

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint at the current tree size; None when the tree did not grow since the last one."""
        with self.engine.begin() as conn:
            size = read_state(conn, self.origin).tree_size
            last = latest_checkpoint(conn)
            if size == 0 or (last is not None and last.tree_size >= size):
                return None
            refuse_if_tampered(conn, self.origin)  # the self-audit found the store changed: sign nothing more
            refuse_retired(conn, self.signer)  # a key a hand-over retired never signs again (ledger.keychain)
            store = SqlTileStore(conn)
            root = TreeReader(store, size).root()
            if last is not None and last.tree_size > 0:  # every tree extends the empty one
                self._check_extends(store, last, size, root)
            note = self.signer.sign(format_checkpoint(self.origin, size, root))
            created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            conn.execute(insert(checkpoints).values(tree_size=size, root=root, note=note, created_at=created))
        self._last_time = time.monotonic()
        return Checkpoint(size, root, note, created)

    @staticmethod
    def _check_extends(store: SqlTileStore, last: Checkpoint, size: int, root: bytes) -> None:
        try:
            proof = consistency_proof(store, last.tree_size, size)
            verify_consistency(last.tree_size, size, proof, last.root, root)
        except MerkleError as e:
            raise InconsistentCheckpointError(
                f"tree at {size} does not extend the checkpoint signed at {last.tree_size}: {e}; refusing to sign",
                old_size=last.tree_size,
                new_size=size,
                old_root=last.root,
                new_root=root,
            ) from e
        if len(root) != 32:
            raise CheckpointError(f"root of {len(root)} bytes")
