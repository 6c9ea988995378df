"""What the ledger commits on SQLite survives a power loss, not only a process crash: every engine it opens
(its own tables beside the events, the vault) syncs the WAL at each commit (``synchronous=FULL``), as the event
store's engine does (tests/ledger/test_recorder.py). In WAL mode ``NORMAL`` syncs only at checkpoints, so a
sealed record, an erasure or a key hand-over committed and acknowledged could roll back after an OS crash.

Power loss itself cannot be staged in a test; what these pin is the setting that decides it, on the very
connections the writes use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.identity import Actor
from ledger.config import Settings
from ledger.db.engine import make_engine
from ledger.runtime import Ledger
from ledger.vault import SqlKeyValueStore

FULL = 2


def _pragmas(conn: Any) -> tuple[str, int]:
    cur = conn.cursor()
    try:
        return cur.execute("PRAGMA journal_mode").fetchone()[0], cur.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        cur.close()


def test_an_engine_for_a_sqlite_file_syncs_every_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        raw = engine.raw_connection()
        try:
            assert _pragmas(raw.driver_connection) == ("wal", FULL)
        finally:
            raw.close()
    finally:
        engine.dispose()


def test_the_vaults_writes_sync_every_commit(tmp_path: Path) -> None:
    """The connection `put_many` commits on is one the store keeps: it has the engine's pragmas."""
    store = SqlKeyValueStore.open(f"sqlite:///{tmp_path / 'vault.db'}")
    try:
        store.put_many([("k", b"v")])
        kept = store._conns._idle
        assert kept, "the store keeps the connection it wrote on"
        assert all(_pragmas(conn) == ("wal", FULL) for conn in kept)
    finally:
        store.close()


def test_a_ledger_and_its_vault_sync_every_commit(tmp_path: Path) -> None:
    """The ledger's own engine (tiles, checkpoints, hand-overs, witnesses, the clock's lease) and the vault the city
    app seals personal data in, as `hromada serve` and the demo open them."""
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        ledger.app.register_service(  # type: ignore[attr-defined]
            by=Actor.system(), service="svc", name="Service", scopes=[], at=datetime.now(UTC)
        )
        ledger.integrate_and_checkpoint()
        with ledger.engine.connect() as conn:
            assert _pragmas(conn.connection.driver_connection) == ("wal", FULL)
        assert ledger.vault_store is not None
        ledger.vault_store.put_many([("k", b"v")])
        assert all(_pragmas(conn) == ("wal", FULL) for conn in ledger.vault_store._conns._idle)
