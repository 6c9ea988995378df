"""The operator's path end to end: `hromada demo` anchors on its local anvil, `hromada export` writes the bundle,
then an anvil is started on the saved chain state (`<data>/chain/anvil-state.json`, as LocalChain does) and
`hromada-verify audit --rpc` reads the anchors back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anchoring.node import LOCAL_CHAIN_ID, AnvilNode
from hromada.cli import app as hromada
from tests.verifier_anchors.conftest import needs_anvil
from verifier.cli import app as verify

pytestmark = [pytest.mark.slow, needs_anvil]


def test_demo_export_and_audit_against_the_saved_chain(tmp_path: Path) -> None:
    data, bundle = tmp_path / "data", tmp_path / "bundle"
    runner = CliRunner()
    env = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}
    demo = runner.invoke(hromada, ["demo", "--data-dir", str(data), "--events", "300"], env=env)
    assert demo.exit_code == 0, demo.output
    exported = runner.invoke(hromada, ["export", "--data-dir", str(data), "--out", str(bundle)], env=env)
    assert exported.exit_code == 0, exported.output
    log = json.loads((bundle / "log.json").read_text())
    assert log["chain"]["chain_id"] == LOCAL_CHAIN_ID
    state = tmp_path / "state-copy.json"  # the demo's chain is left as it was
    shutil.copy(data / "chain" / "anvil-state.json", state)
    with AnvilNode(state_file=state, chain_id=LOCAL_CHAIN_ID) as node:
        result = runner.invoke(
            verify, ["audit", str(bundle), "--key", log["verifier_key"], "--rpc", node.rpc_url, "--json"]
        )
    doc = json.loads(result.output)
    step3 = next(s for s in doc["steps"] if s["number"] == 3)
    assert step3["status"] != "not_run" and step3["stats"]["anchors_on_chain"] >= 1
    assert {s["number"]: s["status"] for s in doc["steps"]}[2] == "passed"
    # the demo follows its final anchor until it is mined, so the bundle lists every anchor that is on chain
    assert step3["stats"]["anchored_sizes_matching"][-1] == log["tree_size"]
    assert result.exit_code == 0 and doc["verified"] and doc["complete"], result.output
