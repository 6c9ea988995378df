"""`hromada-verify receipt`: the receipt's anchor confirmed on a real anvil (tx receipt → Anchored log in that tx
with the same logId/size/root, in the named, canonical block of the named chain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.verifier import factory
from tests.verifier_anchors.conftest import Anchored, needs_anvil
from verifier.anchors import ChainAccess
from verifier.cli import app
from verifier.errors import NetworkError, VerificationError
from verifier.note import parse_verifier_key
from verifier.receipt import ReceiptReport, verify_receipt
from verifier.rpc import HttpRpc

pytestmark = [pytest.mark.slow, needs_anvil]
runner = CliRunner()


def make_receipt(a: Anchored, index: int, size: int, anchor: dict[str, Any]) -> dict[str, Any]:
    info = a.info
    lines = factory.read_lines(info.path)
    leaves = info.leaves[:size]
    receipt_anchor = dict(anchor)
    if anchor["tree_size"] > size:
        receipt_anchor["consistency_proof"] = [
            p.hex() for p in factory.consistency_proof(size, info.leaves[: anchor["tree_size"]])
        ]
    return {
        "format": 1,
        "status": "anchored",
        "event": json.loads(lines[index]),
        "leaf_hash": leaves[index].hex(),
        "leaf_index": index,
        "inclusion_proof": [p.hex() for p in factory.inclusion_path(index, leaves)],
        "checkpoint": factory.signed_checkpoint(info.signer, info.origin, size, factory.mth(leaves)),
        "anchor": receipt_anchor,
    }  # fmt: skip


def check(a: Anchored, receipt: dict[str, Any], *, contract: str | None = None) -> ReceiptReport:
    with HttpRpc(a.chain.url) as rpc:
        return verify_receipt(receipt, parse_verifier_key(a.info.key), chain=ChainAccess(rpc, rpc.display, contract))


def test_anchor_confirmed_on_chain(anchored: Anchored) -> None:
    report = check(anchored, make_receipt(anchored, 17, 30, anchored.entries[1]), contract=anchored.chain.contract)
    assert report.exit_code == 0
    on_chain = next(c for c in report.checks if c.name == "anchor on chain")
    assert on_chain.status == "passed" and anchored.entries[1]["tx"] in on_chain.detail


def test_anchor_of_a_larger_tree_with_consistency_proof(anchored: Anchored) -> None:
    """A receipt proved into checkpoint 20, anchored at size 30 (formats.md §4: anchor.consistency_proof)."""
    report = check(anchored, make_receipt(anchored, 12, 20, anchored.entries[1]))
    names = {c.name: c.status for c in report.checks}
    assert names["anchor (offline)"] == "passed" and names["anchor on chain"] == "passed"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"tx": "0x" + "ab" * 32}, "anchor_tx_not_found"),
        ({"chain_id": 1}, "anchor_chain_mismatch"),
        ({"block_hash": "0x" + "cd" * 32}, "anchor_block_mismatch"),
        ("tx_of_size_10", "anchor_log_mismatch"),
    ],
)
def test_anchor_that_the_chain_does_not_confirm(anchored: Anchored, change: Any, code: str) -> None:
    anchor = dict(anchored.entries[1])
    if change == "tx_of_size_10":  # a real anchor transaction of this log, but for another size
        anchor.update({k: anchored.entries[0][k] for k in ("tx", "block", "block_hash")})
    else:
        anchor.update(change)
    with pytest.raises(VerificationError) as exc:
        check(anchored, make_receipt(anchored, 17, 30, anchor))
    assert exc.value.code == code, exc.value.diagnostics()


def test_contract_you_trust_differs(anchored: Anchored) -> None:
    with pytest.raises(VerificationError) as exc:
        check(anchored, make_receipt(anchored, 17, 30, anchored.entries[1]), contract="0x" + "11" * 20)
    assert exc.value.code == "anchor_contract_mismatch"


def test_cli(anchored: Anchored, tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    receipt = make_receipt(anchored, 17, 30, anchored.entries[1])
    path.write_text(json.dumps(receipt))
    key, url = anchored.info.key, anchored.chain.url
    ok = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", url])
    assert ok.exit_code == 0 and "VERIFIED" in ok.output, ok.output
    no_rpc = runner.invoke(app, ["receipt", str(path), "--key", key])
    assert no_rpc.exit_code == 2 and "--rpc URL" in no_rpc.output
    assert runner.invoke(app, ["receipt", str(path), "--key", key, "--offline"]).exit_code == 0
    down = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "cannot reach the chain RPC" in down.output
    receipt["anchor"]["root"] = receipt["anchor"]["root"][:-2] + "00"
    path.write_text(json.dumps(receipt))
    bad = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", url, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["error"]["code"] == "anchor_root_mismatch"
    with pytest.raises(NetworkError), HttpRpc("http://127.0.0.1:9") as rpc:
        verify_receipt(
            make_receipt(anchored, 17, 30, anchored.entries[1]),
            parse_verifier_key(key),
            chain=ChainAccess(rpc, rpc.display),
        )
