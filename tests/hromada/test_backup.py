"""`hromada backup` / `hromada restore` (hromada/backup.py): a restored ledger is the same ledger, and a restore that
would fork the log is refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.identity import Actor
from hromada.cli import app
from hromada.settings import load
from ledger.runtime import Ledger

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HROMADA_"):
            monkeypatch.delenv(name)


def hromada(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def city(data_dir: Path, env: dict[str, str] | None = None) -> None:
    """A small demo city, checkpointed (no chain)."""
    result = hromada("demo", "--data-dir", str(data_dir), "--events", "200", "--no-chain", env=env)
    assert result.exit_code == 0, result.output


def grow(data_dir: Path, n: int, env: dict[str, str] | None = None) -> None:
    """Append n events after the demo's (each a new service) and sign a checkpoint."""
    os.environ.update(env or {})
    try:
        with Ledger(load(ledger={"data_dir": data_dir}).ledger) as ledger:
            city_app: Any = ledger.app
            for i in range(n):
                at = datetime(2100, 1, 1, 0, 0, i, tzinfo=UTC)  # after every demo event: the log's time goes on
                city_app.register_service(by=Actor.system("operator"), service=f"extra.{i}", name="x", scopes=[], at=at)
            ledger.integrate_and_checkpoint()
    finally:
        for k in env or {}:
            os.environ.pop(k, None)


def bundle(data_dir: Path, out: Path, size: int, env: dict[str, str] | None = None) -> dict[str, bytes]:
    result = hromada("export", "--data-dir", str(data_dir), "--out", str(out), "--size", str(size), env=env)
    assert result.exit_code == 0, result.output
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def manifest(backup: Path) -> dict[str, Any]:
    with tarfile.open(backup) as tar:
        f = tar.extractfile("backup.json")
        assert f is not None
        return dict(json.load(f))


def checkpoint_note(data_dir: Path) -> str:
    result = hromada("checkpoint", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    with Ledger(load(ledger={"data_dir": data_dir}).ledger) as ledger, ledger.engine.connect() as conn:
        from ledger.checkpoints import latest_checkpoint

        cp = latest_checkpoint(conn)
        assert cp is not None
        return cp.note


def test_a_restored_ledger_exports_the_same_bundle_and_verifies(tmp_path: Path) -> None:
    city(tmp_path / "live")
    backup = tmp_path / "b.tar.gz"
    result = hromada("backup", "--data-dir", str(tmp_path / "live"), "--out", str(backup))
    assert result.exit_code == 0, result.output
    m = manifest(backup)
    assert m["tree_size"] > 200 and m["dev_keys"] == ["log.key", "pseudonym.keys", "vault.key"]
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    result = hromada("restore", str(backup), "--data-dir", str(tmp_path / "restored"))
    assert result.exit_code == 0, result.output
    assert "restored" in result.output
    size = m["checkpoint_size"]
    assert bundle(tmp_path / "live", tmp_path / "x1", size) == bundle(tmp_path / "restored", tmp_path / "x2", size)
    verify = hromada("log", "verify", "--data-dir", str(tmp_path / "restored"))
    assert verify.exit_code == 0, verify.output
    # the restored city goes on: it decides on the restored state and signs checkpoints extending the old ones
    grow(tmp_path / "restored", 3)
    assert hromada("log", "verify", "--data-dir", str(tmp_path / "restored")).exit_code == 0


def test_a_backup_behind_the_ledger_it_would_replace_is_refused(tmp_path: Path) -> None:
    live = tmp_path / "live"
    city(live)
    old = tmp_path / "old.tar.gz"
    assert hromada("backup", "--data-dir", str(live), "--out", str(old)).exit_code == 0
    grow(live, 5)  # the live ledger signs a checkpoint the old backup does not hold
    before = (live / "ledger.db").read_bytes()

    plain = hromada("restore", str(old), "--data-dir", str(live))
    assert plain.exit_code == 1 and "already holds a ledger" in plain.output
    forced = hromada("restore", str(old), "--data-dir", str(live), "--replace")
    assert forced.exit_code == 1, forced.output
    assert "fork" in forced.output and "Restore a newer backup" in forced.output
    assert (live / "ledger.db").read_bytes() == before  # nothing was written


def test_a_backup_behind_the_published_checkpoint_is_refused_into_an_empty_directory(tmp_path: Path) -> None:
    live = tmp_path / "live"
    city(live)
    old = tmp_path / "old.tar.gz"
    assert hromada("backup", "--data-dir", str(live), "--out", str(old)).exit_code == 0
    grow(live, 5)
    published = tmp_path / "checkpoint.txt"
    published.write_text(checkpoint_note(live))  # what a witness or a monitor kept

    target = tmp_path / "new"
    result = hromada("restore", str(old), "--data-dir", str(target), "--published", str(published))
    assert result.exit_code == 1, result.output
    assert "would fork the log" in result.output
    assert not (target / "ledger.db").exists()
    # the latest backup is not behind it
    new = tmp_path / "new.tar.gz"
    assert hromada("backup", "--data-dir", str(live), "--out", str(new)).exit_code == 0
    ok = hromada("restore", str(new), "--data-dir", str(target), "--published", str(published))
    assert ok.exit_code == 0, ok.output


def test_a_backup_from_before_a_key_rotation_is_refused_naming_the_rotation(tmp_path: Path) -> None:
    """The published checkpoint is signed by the log's new key: the restore says the key was rotated after the
    backup and what to do, instead of only that the signature does not verify."""
    from ledger.keys import generate_signer_file

    live = tmp_path / "live"
    city(live)
    old = tmp_path / "old.tar.gz"
    assert hromada("backup", "--data-dir", str(live), "--out", str(old)).exit_code == 0
    with Ledger(load(ledger={"data_dir": live}).ledger) as ledger:
        ledger.rotate_key(generate_signer_file(tmp_path / "new.key", ledger.settings.origin))
    grow(live, 3)
    published = tmp_path / "checkpoint.txt"
    published.write_text(checkpoint_note(live))
    result = hromada("restore", str(old), "--data-dir", str(tmp_path / "new"), "--published", str(published))
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # the CLI wraps its lines
    assert "rotated after this backup" in said and "restore a backup taken after the rotation" in said


def test_a_published_checkpoint_of_another_history_is_refused(tmp_path: Path) -> None:
    """Two ledgers with the same key and origin but different events: the same size, another root."""
    a, b = tmp_path / "a", tmp_path / "b"
    city(a)
    b.mkdir()
    for name in ("log.key", "pseudonym.keys", "vault.key"):
        (b / name).write_bytes((a / name).read_bytes())
        (b / name).chmod(0o600)
    result = hromada("demo", "--data-dir", str(b), "--events", "200", "--no-chain", "--seed", "7")
    assert result.exit_code == 0, result.output
    backup_a = tmp_path / "a.tar.gz"
    assert hromada("backup", "--data-dir", str(a), "--out", str(backup_a)).exit_code == 0
    size_a = manifest(backup_a)["tree_size"]
    with Ledger(load(ledger={"data_dir": b}).ledger) as ledger, ledger.engine.connect() as conn:
        from ledger.checkpoints import all_checkpoints

        smaller = [cp for cp in all_checkpoints(conn) if cp.tree_size <= size_a]
    assert smaller, "the other city signed no checkpoint within the backup's size"
    published = tmp_path / "other.txt"
    published.write_text(smaller[-1].note)
    result = hromada("restore", str(backup_a), "--data-dir", str(tmp_path / "t"), "--published", str(published))
    assert result.exit_code == 1, result.output
    assert "not a backup of that log's history" in result.output


def test_a_damaged_backup_is_refused(tmp_path: Path) -> None:
    city(tmp_path / "live")
    backup = tmp_path / "b.tar.gz"
    assert hromada("backup", "--data-dir", str(tmp_path / "live"), "--out", str(backup)).exit_code == 0
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(backup) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            f = src.extractfile(member)
            data = f.read() if f else b""
            if member.name == "vault.db":
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, io.BytesIO(data))
    result = hromada("restore", str(damaged), "--data-dir", str(tmp_path / "t"))
    assert result.exit_code == 1 and "vault.db does not match its SHA-256" in result.output
    assert not (tmp_path / "t" / "ledger.db").exists()


def test_backup_refuses_a_missing_data_directory_and_an_existing_file(tmp_path: Path) -> None:
    result = hromada("backup", "--data-dir", str(tmp_path / "typo"), "--out", str(tmp_path / "b.tar.gz"))
    assert result.exit_code == 2 and "no ledger in" in result.output
    assert not (tmp_path / "typo").exists()
    city(tmp_path / "live")
    (tmp_path / "b.tar.gz").write_text("keep me")
    again = hromada("backup", "--data-dir", str(tmp_path / "live"), "--out", str(tmp_path / "b.tar.gz"))
    assert again.exit_code == 1 and "never overwrites" in again.output
    assert (tmp_path / "b.tar.gz").read_text() == "keep me"


@pytest.mark.postgres
def test_backup_and_restore_on_postgresql(tmp_path: Path, pg_server_url: str) -> None:
    from tests.pg import create_database

    def env_for(db: str, vault: str) -> dict[str, str]:
        return {
            "HROMADA_DATABASE_URL": db.replace("postgresql://", "postgresql+psycopg://"),
            "HROMADA_VAULT_URL": vault.replace("postgresql://", "postgresql+psycopg://"),
        }

    live_env = env_for(create_database(pg_server_url), create_database(pg_server_url))
    city(tmp_path / "live", env=live_env)
    backup = tmp_path / "b.tar.gz"
    result = hromada("backup", "--data-dir", str(tmp_path / "live"), "--out", str(backup), env=live_env)
    assert result.exit_code == 0, result.output
    assert manifest(backup)["database"] == "pg_dump"

    new_env = env_for(create_database(pg_server_url), create_database(pg_server_url))
    result = hromada("restore", str(backup), "--data-dir", str(tmp_path / "restored"), env=new_env)
    assert result.exit_code == 0, result.output
    size = manifest(backup)["checkpoint_size"]
    assert bundle(tmp_path / "live", tmp_path / "x1", size, env=live_env) == bundle(
        tmp_path / "restored", tmp_path / "x2", size, env=new_env
    )
    # the live one goes on; an old backup cannot replace it
    grow(tmp_path / "live", 3, env=live_env)
    refused = hromada("restore", str(backup), "--data-dir", str(tmp_path / "live"), "--replace", env=live_env)
    assert refused.exit_code == 1 and "fork" in refused.output
