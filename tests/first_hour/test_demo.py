"""Issue #17 items 3, 4 and 7 (demo part): `hromada demo` refuses a used data directory in one line, estimates
the time left from the whole run, keeps the local chain of a data directory at one stable, printed address, says
LOCAL CHAIN once, and ends with the exact `hromada-verify` commands."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anchoring.node import LOCAL_CHAIN_WARNING
from anchoring.service import LocalChain, LocalChainFiles
from hromada.cli import app
from hromada.cli.demo import remaining_seconds
from tests.verifier_anchors.conftest import needs_anvil

ENV = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}


def test_demo_on_a_used_data_dir_refuses_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--events", "200", "--no-chain"], env=ENV)
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--events", "200", "--no-chain"], env=ENV)
    assert again.exit_code == 2
    assert again.exception is None or isinstance(again.exception, SystemExit)
    lines = [line for line in again.output.splitlines() if line.strip()]
    assert len(lines) == 1, again.output
    assert "already holds a ledger" in lines[0] and str(tmp_path) in lines[0] and "Traceback" not in again.output


def test_time_left_comes_from_the_whole_run() -> None:
    assert remaining_seconds(0, 1000, 5.0) is None
    assert remaining_seconds(250, 1000, 10.0) == pytest.approx(30.0)
    assert remaining_seconds(1200, 1000, 10.0) == 0.0  # past the target: nothing left, never negative
    assert remaining_seconds(10, None, 1.0) is None


@pytest.mark.slow
@needs_anvil
def test_demo_prints_a_stable_chain_address_and_the_verify_commands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "city"
    caplog.set_level(logging.WARNING)
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), "--events", "200"], env=ENV)
    assert result.exit_code == 0, result.output
    banners = [r for r in caplog.records if LOCAL_CHAIN_WARNING in r.getMessage()]
    assert len(banners) == 1, [r.getMessage() for r in caplog.records]
    rpc = LocalChainFiles(data / "chain").rpc_url()
    assert rpc is not None and re.fullmatch(r"http://127\.0\.0\.1:\d+", rpc)
    audit = next(line for line in result.output.splitlines() if " audit http://" in line)
    assert f"--rpc {rpc} --contract 0x" in audit and "--key " in audit
    assert any(" receipt --ledger http://" in line and "--event " in line for line in result.output.splitlines())
    assert re.search(r"/#event=[0-9a-f-]{36}", result.output)
    chain = LocalChain(data)  # the next start (`hromada serve`) listens on the same, printed address
    try:
        assert chain.start().rpc_url == rpc
    finally:
        chain.stop()
    listed = CliRunner().invoke(app, ["audit-command", "--data-dir", str(data)], env=ENV)
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0] == audit.removeprefix("audit it:").strip()
