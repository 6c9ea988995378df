"""The operator commands of issue #15 through `hromada`: `service revoke|scopes`, `rules publish|list`, `erase`,
`keys rotate-pseudonym`. Each one writes through the domain's command (the same one the API runs), says what it did,
and refuses bad input with a message and a non-zero exit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain import errors
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


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "city"
    assert hromada("init", "--data-dir", str(d)).exit_code == 0
    return d


def hromada(*args: str) -> Any:
    return runner.invoke(app, list(args))


def ledger_of(data_dir: Path) -> Ledger:
    return Ledger(load(ledger={"data_dir": data_dir}).ledger)


# -- service revoke / scopes ---------------------------------------------------------------------------------
def test_service_revoke_revokes_the_service_in_the_log_and_its_keys(data: Path) -> None:
    d = str(data)
    assert (
        hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d).exit_code == 0
    )
    assert (
        hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d).exit_code == 0
    )
    r = hromada("service", "revoke", "city.education", "--reason", "department merged", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert "revoked city.education (2 API keys revoked)" in r.output
    keys = hromada("service", "keys", "--data-dir", d)
    assert keys.output.count("revoked ") == 2 and "active" not in keys.output

    with ledger_of(data) as ledger:
        svc = ledger.app.get_service("city.education")
        assert svc.revoked
        with pytest.raises(errors.ServiceRevoked):  # its writes are refused by the domain
            ledger.app.create_kindergarten_queue(
                by=Actor.service("city.education"), name="x", institutions=["a"], at=datetime.now(UTC)
            )

    again = hromada("service", "revoke", "city.education", "--reason", "again", "--data-dir", d)
    assert again.exit_code == 1 and "already revoked" in again.output
    readd = hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d)
    assert readd.exit_code == 1 and "revoked" in readd.output and "hk_" not in readd.output


def test_service_revoke_refuses_bad_input(data: Path) -> None:
    d = str(data)
    unknown = hromada("service", "revoke", "nobody", "--reason", "x", "--data-dir", d)
    assert unknown.exit_code == 1 and "no such service 'nobody'" in unknown.output
    assert hromada("service", "add", "city.education", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    no_reason = hromada("service", "revoke", "city.education", "--data-dir", d)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank = hromada("service", "revoke", "city.education", "--reason", "  ", "--data-dir", d)
    assert blank.exit_code == 1 and "reason" in blank.output


def test_service_scopes_replaces_the_logged_scopes(data: Path) -> None:
    d = str(data)
    assert hromada("service", "add", "city.education", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    r = hromada(
        "service", "scopes", "city.education", "--scope", "queue:housing:*", "--scope", "ballot:open", "--data-dir", d
    )
    assert r.exit_code == 0, r.output
    assert "city.education: ballot:open, queue:housing:*" in r.output
    with ledger_of(data) as ledger:
        assert ledger.app.get_service("city.education").scopes == ["ballot:open", "queue:housing:*"]
    same = hromada(
        "service", "scopes", "city.education", "--scope", "queue:housing:*", "--scope", "ballot:open", "--data-dir", d
    )
    assert same.exit_code == 1 and "unchanged" in same.output
    bad = hromada("service", "scopes", "city.education", "--scope", "Bad Scope", "--data-dir", d)
    assert bad.exit_code == 1 and "malformed scope" in bad.output
    unknown = hromada("service", "scopes", "nobody", "--scope", "x", "--data-dir", d)
    assert unknown.exit_code == 1 and "no such service" in unknown.output
