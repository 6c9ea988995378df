"""`hromada serve`'s chain: local anvil with a state file, deploy once, restart keeps chain and anchors."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from anchoring.anchorer import AnchorerConfig, read_back
from anchoring.chain import ChainClient
from anchoring.service import AnchoringService, running_local_chain
from hromada.cli import anchor as cli
from tests.anchoring.conftest import ORIGIN, add_checkpoint, needs_anvil
from tests.processes import alive, wait_until

pytestmark = [pytest.mark.slow, needs_anvil]

FAST = AnchorerConfig(every_seconds=0.0, poll_seconds=0.1, confirmations=1, finality="confirmations")


def test_serve_restart_keeps_chain_and_anchors(engine: Engine, tmp_path: Path) -> None:
    data = tmp_path / "data"
    svc = AnchoringService(engine, origin=ORIGIN, data_dir=data, config=FAST)  # no chain configured: the local one
    a = svc.start()
    pid = svc.local.node.pid if svc.local else None
    assert pid and alive(pid)
    st = svc.status()
    assert st["local_chain"] and "NO public guarantee" in st["warning"]
    contract = st["chain"]["contract"]
    root = add_checkpoint(engine, 12)
    a.request_now()
    wait_until(lambda: (svc.status()["latest_final"] or {}).get("tree_size") == 12)
    assert running_local_chain(data) is not None
    svc.stop()
    assert not alive(pid)  # SIGTERM, waited
    assert (data / "chain" / "anvil-state.json").stat().st_size > 0
    assert running_local_chain(data) is None

    # a fresh service (as a new process would): same state file, same contract, anchors read back
    svc2 = AnchoringService(engine, origin=ORIGIN, data_dir=data, config=FAST)
    svc2.start()
    try:
        cfg = svc2.chain_config
        assert cfg is not None and cfg.contract == contract
        rb = read_back(ChainClient(cfg, None).rpc, contract, ORIGIN, {12: root}, from_block=cfg.deploy_block)
        assert [e.tree_size for e in rb.matched] == [12] and not rb.mismatched and not rb.unknown_size
        assert rb.matched[0].tx_hash == (svc2.status()["latest_final"] or {})["tx_hash"]
        # and it keeps anchoring on the same chain
        add_checkpoint(engine, 13)
        assert svc2.anchorer is not None
        svc2.anchorer.request_now()
        wait_until(lambda: (svc2.status()["latest_final"] or {}).get("tree_size") == 13)
        # the CLI sees the anchors and the local-chain warning
        res = CliRunner().invoke(
            cli.app,
            [
                "status",
                "--data-dir",
                str(data),
                "--database-url",
                str(engine.url),
                "--origin",
                ORIGIN,
                "--verify",
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        assert "NO public guarantee" in res.output and '"matched": [\n      12,\n      13\n    ]' in res.output
    finally:
        svc2.stop()


def test_cli_anchor_now_starts_and_stops_its_own_local_chain(engine: Engine, tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_checkpoint(engine, 3)
    args = ["--data-dir", str(data), "--database-url", str(engine.url), "--origin", ORIGIN]
    res = CliRunner().invoke(cli.app, ["now", *args], env={"HROMADA_CHAIN_RPC_URL": ""})
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "NO public guarantee" in flat and "size 3 final" in flat
    res = CliRunner().invoke(cli.app, ["now", *args], env={"HROMADA_CHAIN_RPC_URL": ""})
    assert "already anchored" in res.output


def test_anvil_dies_with_its_parent_on_sigkill(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from anchoring.node import AnvilNode\n"
        f"n = AnvilNode(state_file=__import__('pathlib').Path({str(tmp_path / 's.json')!r})).start()\n"
        "print(n.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]
    )
    assert proc.stdout is not None
    anvil_pid = int(proc.stdout.readline())
    assert alive(anvil_pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wait_until(lambda: not alive(anvil_pid), timeout=10)
