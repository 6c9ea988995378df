"""The `hromada` command line on the embedded defaults (SQLite file under --data-dir)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hromada.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HROMADA_"):
            monkeypatch.delenv(name)


def test_init_creates_keys_0600_and_prints_the_verifier_key(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "verifier key  dev.hromada.local/ledger+" in result.output
    for name in ("log.key", "pseudonym.keys", "vault.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert (tmp_path / "ledger.db").exists() and (tmp_path / "vault.db").exists()


def test_checkpoint_and_status_on_an_empty_log(tmp_path: Path) -> None:
    result = runner.invoke(app, ["checkpoint", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "nothing signed" in result.output
    status = runner.invoke(app, ["log", "status", "--json", "--data-dir", str(tmp_path)])
    assert status.exit_code == 0, status.output
    body = json.loads(status.output)
    assert body["tree_size"] == 0 and body["checkpoint_size"] is None and body["pending_events"] == 0
    assert body["root"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_production_without_keys_exits_2_with_a_diagnosis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HROMADA_PRODUCTION", "1")
    result = runner.invoke(app, ["init", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "HROMADA_LOG_KEY" in result.output
    assert not (tmp_path / "log.key").exists()


def test_help_explains_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "serve", "checkpoint", "integrate", "log"):
        assert command in result.output


def test_log_verify_passes_then_names_an_edited_event(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from domain.identity import Actor
    from ledger.config import Settings
    from ledger.runtime import Ledger

    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        for i in range(3):
            ledger.app.register_service(  # type: ignore[attr-defined]
                by=Actor.system(),
                service=f"svc-{i}",
                name=f"Service {i}",
                scopes=["petition:respond"],
                at=datetime.now(UTC),
            )
        ledger.integrate_and_checkpoint()
        table = ledger.integrator.events.name
        ok = runner.invoke(app, ["log", "verify", "--data-dir", str(tmp_path)])
        assert ok.exit_code == 0, ok.output
        assert "consistent" in ok.output and "3 leaves" in ok.output
        with ledger.engine.begin() as conn:
            state = bytes(conn.execute(text(f"SELECT state FROM {table} WHERE id = 2")).scalar_one())
            forged = state.replace(b"Service 1", b"Service X")
            assert forged != state
            conn.execute(text(f"UPDATE {table} SET state = :s WHERE id = 2"), {"s": forged})
    bad = runner.invoke(app, ["log", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output and "leaf 1" in bad.output
