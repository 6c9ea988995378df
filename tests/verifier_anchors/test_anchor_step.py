"""Audit step 3 against a real anvil: anchored roots, anchors.jsonl against the chain, chain id, age."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.verifier import factory
from tests.verifier_anchors.conftest import Anchored, Chain, make_anchored, needs_anvil
from verifier.anchors import ChainAccess
from verifier.audit import AuditReport, Status, StepResult, default_steps, run_audit
from verifier.bundle import DirectoryBundle
from verifier.cli import app
from verifier.errors import NetworkError
from verifier.note import parse_verifier_key
from verifier.rpc import HttpRpc

pytestmark = [pytest.mark.slow, needs_anvil]
runner = CliRunner()


def audit(a: Anchored, *, contract: str | None = None, rpc_url: str | None = None) -> AuditReport:
    with HttpRpc(rpc_url or a.chain.url) as rpc:
        # the factory's events are not lawful city events: steps 4 and 5 (tests/verifier_rules/) are left out
        return run_audit(
            a.path,
            parse_verifier_key(a.info.key),
            chain=ChainAccess(rpc, rpc.display, contract),
            steps=default_steps(rules=False),
        )


def step3(report: AuditReport) -> StepResult:
    return next(s for s in report.steps if s.number == 3)


def codes(report: AuditReport) -> list[str]:
    return [f.code for f in step3(report).findings]


def finding(report: AuditReport, code: str) -> Any:
    return next(f for f in step3(report).findings if f.code == code)


def test_anchored_bundle_passes_and_reports_chain_and_age(anchored: Anchored) -> None:
    report = audit(anchored, contract=anchored.chain.contract)
    s = step3(report)
    assert report.verified and s.status is Status.PASSED, [f.describe() for f in report.findings()]
    assert s.stats["chain_id"] == 31337 and s.stats["from_block"] == anchored.chain.deploy_block
    assert s.stats["anchors_on_chain"] == 2 and s.stats["anchors_in_bundle"] == 2
    assert s.stats["anchored_sizes_matching"] == [10, 30]
    latest = s.stats["latest_anchor"]
    assert latest["tree_size"] == 30 and latest["tx"] == anchored.entries[1]["tx"]
    assert 0 <= latest["age_seconds"] < 3600 and latest["timestamp"].endswith("Z")
    assert s.stats["unanchored_tail"] == 10 and s.stats["contract_named_by"] == "auditor"
    assert report.warnings == []
    assert report.rewrite.checked and (report.rewrite.anchored_size, report.rewrite.unanchored_tail) == (30, 10)


def test_anchor_root_differs_from_recomputed_root_resigned_checkpoint(anchored: Anchored) -> None:
    """The operator rewrites event 15 and re-signs every checkpoint from 16 on: step 2 is satisfied (the log
    is consistent with its own signatures), but the chain still holds the old root for size 30."""
    info = anchored.info
    factory.edit_event(info.path, 15, lambda e: e["data"].update(rewritten=True))
    leaves = [factory.h_leaf(line) for line in factory.read_lines(info.path)]
    for size in (20, 30, 40):
        (info.path / "checkpoints" / str(size)).write_text(
            factory.signed_checkpoint(info.signer, info.origin, size, factory.mth(leaves[:size]))
        )
    report = audit(anchored)
    assert next(s for s in report.steps if s.number == 2).status is Status.PASSED
    assert step3(report).status is Status.FAILED
    f = finding(report, "anchor_root_mismatch")
    assert f.details["size"] == 30 and f.details["changed range"] == "[10, 30)"
    assert f.expected == anchored.entries[1]["root"] and f.found == factory.mth(leaves[:30]).hex()
    proof = finding(report, "checkpoint_contradicts_anchor")
    assert proof.details["note"] == "checkpoints/30" and "REWRITTEN HISTORY" in proof.message
    assert set(codes(report)) == {"anchor_root_mismatch", "checkpoint_contradicts_anchor"}


def test_bundle_lists_an_anchor_that_is_not_on_chain(anchored: Anchored) -> None:
    fake = dict(anchored.entries[0], tree_size=20, root=factory.mth(anchored.info.leaves[:20]).hex())
    fake["tx"] = "0x" + "ab" * 32
    anchored.write_anchors([*anchored.entries, fake])
    report = audit(anchored)
    assert codes(report) == ["anchor_not_on_chain"]
    assert finding(report, "anchor_not_on_chain").details["size"] == 20


def test_bundle_lists_another_root_than_the_chain(anchored: Anchored) -> None:
    altered = dict(anchored.entries[1], root="00" * 32)
    anchored.write_anchors([anchored.entries[0], altered])
    report = audit(anchored)
    assert "anchor_root_differs_from_chain" in codes(report)
    f = finding(report, "anchor_root_differs_from_chain")
    assert f.expected == anchored.entries[1]["root"] and f.details["size"] == 30
    # the on-chain anchor at 30 is now not listed either: the bundle hides the real one
    assert "anchor_missing_from_bundle" in codes(report)


def test_bundle_drops_an_anchor_that_is_on_chain(anchored: Anchored) -> None:
    anchored.write_anchors([anchored.entries[1]])
    report = audit(anchored)
    assert codes(report) == ["anchor_missing_from_bundle"]
    f = finding(report, "anchor_missing_from_bundle")
    assert f.details == {"size": 10, "tx": anchored.entries[0]["tx"]} and "hides" in f.message


def test_bundle_names_another_tx_for_an_anchor(anchored: Anchored) -> None:
    anchored.write_anchors([anchored.entries[0], dict(anchored.entries[1], block=anchored.entries[1]["block"] + 1)])
    assert codes(audit(anchored)) == ["anchor_tx_mismatch"]


def test_wrong_chain_id(anchored: Anchored) -> None:
    anchored.set_chain(chain_id=1)
    report = audit(anchored)
    assert codes(report) == ["chain_id_mismatch"]
    f = finding(report, "chain_id_mismatch")
    assert f.expected == 1 and f.found == 31337 and not report.verified


def test_anchor_beyond_the_bundle_is_a_warning(anchored: Anchored) -> None:
    anchored.chain.anchor(anchored.info.origin, 55, os.urandom(32))
    report = audit(anchored)
    assert report.verified and step3(report).stats["anchored_sizes_beyond_bundle"] == [55]
    assert any("beyond log.json's tree_size 40" in w for w in report.warnings)


def test_two_roots_anchored_for_one_size_is_a_fork(anchored: Anchored) -> None:
    other = os.urandom(32)
    extra = anchored.chain.anchor(anchored.info.origin, 10, other)
    anchored.write_anchors([*anchored.entries, extra])
    report = audit(anchored)
    assert "anchor_fork" in codes(report)
    assert finding(report, "anchor_root_mismatch").details["size"] == 10  # the second root is not the recomputed one


def test_other_logs_in_the_same_contract_are_ignored(tmp_path: Path, chain: Chain) -> None:
    a = make_anchored(tmp_path / "a", chain, anchored=(10,))
    b = make_anchored(tmp_path / "b", chain, anchored=(20, 30))
    assert audit(a).verified and step3(audit(a)).stats["anchors_on_chain"] == 1
    assert step3(audit(b)).stats["anchors_on_chain"] == 2


def test_auditor_contract_overrides_and_disagrees_with_log_json(anchored: Anchored) -> None:
    report = audit(anchored, contract=anchored.chain.contract)
    assert report.verified
    anchored.set_chain(contract="0x" + "11" * 20)
    report = audit(anchored, contract=anchored.chain.contract)
    assert "contract_mismatch" in codes(report) and step3(report).stats["anchors_on_chain"] == 2
    # trusting the bundle's (wrong) contract instead: no anchors there, and anchors.jsonl names another contract
    report = audit(anchored)
    assert codes(report) == ["anchor_other_chain", "anchor_other_chain"]
    assert any("nothing of this log is fixed on chain" in w for w in report.warnings)


def test_rpc_down_cannot_verify(anchored: Anchored) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(NetworkError, match="cannot reach the chain RPC"):
        audit(anchored, rpc_url=dead)
    result = runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key, "--rpc", dead])
    assert result.exit_code == 2
    assert "cannot verify" in result.output and "cannot reach the chain RPC at http://127.0.0.1:9" in result.output


def test_cli_flags(anchored: Anchored) -> None:
    key, path, url = anchored.info.key, str(anchored.path), anchored.chain.url
    ok = runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--rpc", url])
    assert ok.exit_code == 0, ok.output
    assert "anchors: chain 31337" in ok.output and "latest anchor: size 30" in ok.output and " ago)" in ok.output
    no_rpc = runner.invoke(app, ["audit", path, "--no-rules", "--key", key])
    assert no_rpc.exit_code == 0 and "no --rpc URL given" in no_rpc.output
    offline = runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--offline", "--rpc", url])
    assert offline.exit_code == 0 and "skipped: --offline" in offline.output
    doc = json.loads(runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--rpc", url, "--contract",
                                         anchored.chain.contract, "--json"]).output)  # fmt: skip
    s3 = next(s for s in doc["steps"] if s["number"] == 3)
    assert s3["status"] == "passed" and s3["stats"]["anchors_on_chain"] == 2
    anchored.write_anchors(anchored.entries[:1])
    bad = runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--rpc", url])
    assert bad.exit_code == 1 and "anchor_missing_from_bundle" in bad.output
    assert (
        runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--contract", anchored.chain.contract]).exit_code
        == 2
    )


def test_chain_info_without_or_with_a_malformed_contract(anchored: Anchored) -> None:
    log = json.loads((anchored.path / "log.json").read_text())
    log["chain"] = {"chain_id": 31337, "deploy_block": 0, "contract": 7}
    (anchored.path / "log.json").write_text(json.dumps(log))
    report = audit(anchored)  # the bundle names no usable contract and you named none: a finding, nothing read
    assert codes(report) == ["chain_info_malformed"] and "not_read" in step3(report).stats
    assert not report.rewrite.checked
    # with yours, the anchors are checked, and the bundle's claim is still reported
    report = audit(anchored, contract=anchored.chain.contract)
    assert codes(report) == ["chain_info_malformed"] and step3(report).stats["anchors_on_chain"] == 2
    anchored.set_chain(contract="not-an-address")
    assert codes(audit(anchored)) == ["chain_info_malformed"]


def test_latest_anchor_confirmations(anchored: Anchored) -> None:
    before = step3(audit(anchored)).stats["latest_anchor"]["confirmations"]
    anchored.chain.node.mine(5)
    assert step3(audit(anchored)).stats["latest_anchor"]["confirmations"] == before + 5


class _NoListing(DirectoryBundle):
    """A source that, like a ledger URL (verifier/remote.py), serves no anchors.jsonl."""

    lists_anchors = False

    def read_small(self, name: str, limit: int = 16 * 1024 * 1024) -> bytes | None:
        return None if name == "anchors.jsonl" else super().read_small(name, limit)


def test_a_source_without_a_listing_is_checked_against_the_chain_alone(anchored: Anchored) -> None:
    """No anchors.jsonl to compare: no anchor is "hidden", but every anchored root is still checked."""
    with HttpRpc(anchored.chain.url) as rpc:
        chain = ChainAccess(rpc, rpc.display, None)
        key = parse_verifier_key(anchored.info.key)
        report = run_audit(_NoListing(anchored.path), key, chain=chain, steps=default_steps(rules=False))
        assert report.verified and step3(report).stats["anchors_on_chain"] == 2, report.findings()
        assert "serves no anchors.jsonl" in step3(report).stats["anchor_listing"]
        factory.edit_event(anchored.path, 3, lambda e: e["data"].update(rewritten=True))  # an anchored event
        report = run_audit(_NoListing(anchored.path), key, chain=chain, steps=default_steps(rules=False))
    assert "anchor_root_mismatch" in codes(report)
