"""`hromada witness init|serve`: the key is created once and printed; a missing key or a bad log key stops `serve`
before it listens (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hromada.cli import app
from verifier.note import ALG_COSIGNATURE_V1, parse_verifier_key

runner = CliRunner()


def test_init_prints_the_verifier_key_once(tmp_path: Path) -> None:
    first = runner.invoke(app, ["witness", "init", "--state", str(tmp_path), "--name", "w.example/1"])
    assert first.exit_code == 0, first.output
    key = parse_verifier_key(first.output.strip())
    assert (key.name, key.alg) == ("w.example/1", ALG_COSIGNATURE_V1)
    again = runner.invoke(app, ["witness", "init", "--state", str(tmp_path)])
    assert again.exit_code == 2 and "exists" in again.output
    bad_name = runner.invoke(app, ["witness", "init", "--state", str(tmp_path / "x"), "--name", "a b"])
    assert bad_name.exit_code == 2


def test_serve_refuses_without_a_key_or_with_a_bad_log_key(tmp_path: Path) -> None:
    log_key = "city.example/log+" + "0" * 8 + "+AAAA"
    missing = runner.invoke(app, ["witness", "serve", "--state", str(tmp_path), "--log-key", log_key])
    assert missing.exit_code == 2 and "hromada witness init" in missing.output
    assert runner.invoke(app, ["witness", "init", "--state", str(tmp_path)]).exit_code == 0
    bad = runner.invoke(app, ["witness", "serve", "--state", str(tmp_path), "--log-key", log_key])
    assert bad.exit_code == 2 and "cannot serve the witness" in bad.output
