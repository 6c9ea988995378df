"""`hromada-verify receipt`: the receipt's anchor confirmed on a real anvil (tx receipt → Anchored log in that tx
with the same logId/size/root, in the named, canonical block of the named chain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
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
    assert no_rpc.exit_code == 0 and "--rpc URL" in no_rpc.output, no_rpc.output  # issue #17: not checked, said
    assert "NOT CHECKED anchor on chain: not checked: no --rpc URL given" in " ".join(no_rpc.output.split())
    assert "VERIFIED: " in no_rpc.output and "checks marked NOT RUN" not in no_rpc.output, no_rpc.output
    assert runner.invoke(app, ["receipt", str(path), "--key", key, "--offline"]).exit_code == 0
    down = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "cannot reach the chain RPC" in down.output
    root = receipt["anchor"]["root"]
    receipt["anchor"]["root"] = root[:-2] + f"{int(root[-2:], 16) ^ 0xFF:02x}"  # always another root
    path.write_text(json.dumps(receipt))
    bad = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", url, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["error"]["code"] == "anchor_root_mismatch"
    with pytest.raises(NetworkError), HttpRpc("http://127.0.0.1:9") as rpc:
        verify_receipt(
            make_receipt(anchored, 17, 30, anchored.entries[1]),
            parse_verifier_key(key),
            chain=ChainAccess(rpc, rpc.display),
        )


# --- the contract policy (verifier/anchor_policy.py): a receipt cannot switch the chain check off --------------
def unanchored(a: Anchored, index: int, size: int, leaves: list[bytes] | None = None) -> dict[str, Any]:
    """A receipt proved into checkpoint ``size`` that carries no anchor (status "proved"): fetched before the
    anchor, or with the anchor left out. ``leaves``: the log as the issuer has it (a rewritten one)."""
    receipt = make_receipt(a, index, size, a.entries[1])
    leaves = (leaves or a.info.leaves)[:size]
    receipt.update(
        status="proved",
        anchor=None,
        leaf_hash=leaves[index].hex(),
        inclusion_proof=[p.hex() for p in factory.inclusion_path(index, leaves)],
        checkpoint=factory.signed_checkpoint(a.info.signer, a.info.origin, size, factory.mth(leaves)),
    )
    receipt.pop("event")
    return receipt


def rewritten_leaves(a: Anchored, index: int = 5) -> list[bytes]:
    """The log after the operator changed event ``index`` (before the anchors at 10 and 30)."""
    lines = factory.read_lines(a.path)
    event = json.loads(lines[index])
    event["data"]["rewritten"] = True
    lines[index] = factory.jcs(event)
    return [factory.h_leaf(line) for line in lines]


def ledger_client(a: Anchored, leaves: list[bytes]) -> httpx.Client:
    """The issuing ledger (in process): its latest checkpoint and consistency proofs, all from ``leaves``."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/checkpoint":
            return httpx.Response(200, text=factory.signed_checkpoint(a.info.signer, a.info.origin, 40,
                                                                      factory.mth(leaves[:40])))  # fmt: skip
        if request.url.path == "/v1/proofs/consistency":
            first, second = int(request.url.params["from"]), int(request.url.params["to"])
            proof = factory.consistency_proof(first, leaves[:second])
            return httpx.Response(200, json={"proof": [p.hex() for p in proof]})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(answer))


def check_with(
    a: Anchored, receipt: dict[str, Any], contract: str | None, ledger: httpx.Client | None = None
) -> ReceiptReport:
    with HttpRpc(a.chain.url) as rpc:
        return verify_receipt(receipt, parse_verifier_key(a.info.key), chain=ChainAccess(rpc, rpc.display, contract),
                              ledger_url="http://ledger.test" if ledger else None, client=ledger)  # fmt: skip


def test_a_receipt_without_an_anchor_is_checked_against_your_contract(anchored: Anchored) -> None:
    report = check_with(anchored, unanchored(anchored, 17, 30), anchored.chain.contract)
    check = next(c for c in report.checks if c.name.startswith("anchor on chain"))
    assert check.status == "passed" and anchored.entries[1]["tx"] in check.detail
    assert report.exit_code == 0 and report.rewrite.checked and report.warnings == []


def test_a_rewritten_receipt_without_its_anchor_contradicts_the_chain(anchored: Anchored) -> None:
    """The operator rewrote event 5, re-signed checkpoint 30 and issued a receipt into it, leaving the anchor out:
    the chain holds the old root for size 30."""
    leaves = rewritten_leaves(anchored)
    with pytest.raises(VerificationError) as exc:
        check_with(anchored, unanchored(anchored, 17, 30, leaves), anchored.chain.contract)
    assert exc.value.code == "checkpoint_contradicts_anchor" and "REWRITTEN HISTORY" in exc.value.message
    assert exc.value.evidence.expected == anchored.entries[1]["root"]


def test_a_receipt_before_a_larger_anchor_needs_the_ledgers_proof(anchored: Anchored) -> None:
    """Checkpoint 20 is not anchored; the next anchor is at 30. The ledger's consistency proof from 20 to 30 links
    them; a rewritten checkpoint 20 cannot be linked to the anchored root."""
    receipt = unanchored(anchored, 12, 20)
    report = check_with(anchored, receipt, anchored.chain.contract)  # no ledger: the link cannot be made
    assert report.exit_code == 2 and "fetch the receipt again" in report.unavailable[0]
    assert not report.rewrite.checked
    report = check_with(anchored, receipt, anchored.chain.contract, ledger_client(anchored, anchored.info.leaves))
    assert report.exit_code == 0 and report.rewrite.checked and report.rewrite.anchored_size == 30
    leaves = rewritten_leaves(anchored)
    with pytest.raises(VerificationError) as exc:
        check_with(anchored, unanchored(anchored, 12, 20, leaves), anchored.chain.contract,
                   ledger_client(anchored, leaves))  # fmt: skip
    assert exc.value.code == "checkpoint_contradicts_anchor"


def test_a_receipt_without_an_anchor_and_no_contract_is_refused(anchored: Anchored, tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(unanchored(anchored, 17, 30)))
    key, url = anchored.info.key, anchored.chain.url
    refused = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", url])
    assert refused.exit_code == 2 and "--contract ADDR" in refused.output
    assert anchored.chain.contract.lower() in refused.output  # shown as evidence, not trusted
    offline = runner.invoke(app, ["receipt", str(path), "--key", key, "--offline"])
    assert offline.exit_code == 0 and "OPERATOR REWRITE NOT CHECKED" in offline.output
    mine = runner.invoke(app, ["receipt", str(path), "--key", key, "--rpc", url, "--contract",
                               anchored.chain.contract, "--json"])  # fmt: skip
    doc = json.loads(mine.output)
    assert mine.exit_code == 0 and doc["operator_rewrite"]["checked"] is True and doc["warnings"] == []


def test_a_receipts_own_contract_is_not_trusted_silently(anchored: Anchored, tmp_path: Path) -> None:
    receipt = make_receipt(anchored, 17, 30, anchored.entries[1])
    report = check(anchored, receipt)  # no --contract: the receipt's own
    assert report.exit_code == 0 and not report.rewrite.checked
    assert report.rewrite.contract_named_by == "receipt" and "named by the receipt" in (report.rewrite.reason or "")
    assert any(w.startswith("OPERATOR REWRITE NOT CHECKED") for w in report.warnings)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    human = runner.invoke(app, ["receipt", str(path), "--key", anchored.info.key, "--rpc", anchored.chain.url])
    assert human.exit_code == 0 and "NOT CHECKED" in human.output and "WARNING" in human.output
    report = check(anchored, receipt, contract=anchored.chain.contract)
    assert report.rewrite.checked and report.rewrite.contract_named_by == "auditor" and report.warnings == []
