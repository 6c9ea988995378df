"""A refusal (exit 2) is one line on stderr, however long its message and however narrow the terminal: a log or a
CI job keeps it whole."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from verifier.cli import app


def test_a_long_refusal_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / ("a-bundle-directory-with-a-long-name-" * 4)
    result = CliRunner().invoke(app, ["audit", str(missing), "--offline"], terminal_width=40)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("cannot verify: ") and str(missing) in lines[0]
