"""Issue #17 item 6: read-only commands never create a data directory; `--out x.zip` is refused instead of
becoming a directory named x.zip; the `--size` error lists the signed sizes readably."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hromada.cli import app
from ledger.export import sizes_listed

ENV = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--out", "{tmp}/bundle"],
        ["log", "status"],
        ["log", "verify"],
        ["anchor", "status"],
        ["audit-command"],
    ],
)
def test_read_only_commands_refuse_a_missing_data_dir(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "mistyped"
    args = [a.replace("{tmp}", str(tmp_path)) for a in command] + ["--data-dir", str(missing)]
    result = CliRunner().invoke(app, args, env=ENV)
    assert result.exit_code == 2, result.output
    assert not missing.exists(), sorted(p.name for p in missing.iterdir())
    assert f"no ledger at {missing}" in result.output and "Traceback" not in result.output


@pytest.fixture
def city(tmp_path: Path) -> Path:
    data = tmp_path / "city"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--data-dir", str(data)], env=ENV).exit_code == 0
    return data


@pytest.mark.parametrize("name", ["x.zip", "x.tar", "x.tgz", "X.ZIP"])
def test_out_other_archive_is_refused(tmp_path: Path, city: Path, name: str) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(app, ["export", "--data-dir", str(city), "--out", str(out)], env=ENV)
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert "directory or as a .tar.gz" in result.output


def test_size_error_lists_first_and_last_sizes() -> None:
    assert sizes_listed([1, 2, 3]) == "1, 2, 3"
    listed = sizes_listed(list(range(100, 1800, 100)))
    assert listed == "100, 200, 300, …, 1300, 1400, 1500, 1600, 1700 (17 in all)"


def test_export_size_error_names_the_signed_sizes(tmp_path: Path) -> None:
    data = tmp_path / "city"
    runner = CliRunner()
    made = runner.invoke(app, ["demo", "--data-dir", str(data), "--events", "200", "--no-chain"], env=ENV)
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        app, ["export", "--data-dir", str(data), "--out", str(tmp_path / "b"), "--size", "7"], env=ENV
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "no checkpoint of size 7; signed sizes: 100, 200" in text and "..." not in text
