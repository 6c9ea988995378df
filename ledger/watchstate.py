"""The self-audit's shared state (the ``self_audit`` row, ledger/watch.py): every process of a ledger reads it, the
checkpointer refuses to sign while it holds a finding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ledger.db.schema import self_audit
from ledger.errors import StorageTampered


@dataclass(frozen=True)
class WatchStatus:
    """The ``self_audit`` row: how far the watch got and what it found."""

    ok: bool
    checked_size: int
    sweep_next: int
    finding: dict[str, Any] | None
    checked_at: str | None
    complete_at: str | None  # when a pass over every leaf last ended clean


def read_status(conn: Connection, origin: str) -> WatchStatus | None:
    row = conn.execute(select(self_audit).where(self_audit.c.log == origin)).first()
    if row is None:
        return None
    return WatchStatus(
        ok=row.status == "ok",
        checked_size=int(row.checked_size),
        sweep_next=int(row.sweep_next),
        finding=json.loads(row.finding) if row.finding else None,
        checked_at=row.checked_at,
        complete_at=row.complete_at,
    )


def refuse_if_tampered(conn: Connection, origin: str) -> None:
    """Raise StorageTampered when the watch has recorded a finding (the checkpointer calls it before signing)."""
    status = read_status(conn, origin)
    if status is not None and not status.ok and status.finding is not None:
        f = status.finding
        raise StorageTampered(
            f"the self-audit found the store changed ({f['where']}): {f['message']}; refusing to sign",
            where=f["where"],
            expected=f["expected"],
            found=f["found"],
        )
