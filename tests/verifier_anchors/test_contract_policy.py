"""Step 3's contract policy against a real anvil (verifier/anchor_policy.py): a bundle cannot switch off the anchor
check the auditor asked for - not by dropping its ``chain``, not by naming a contract of its own, not by a late
``deploy_block`` -, ``--rpc`` without a contract to trust is refused, and an audit that did not check anchors in
a contract the auditor named says loudly that the operator could have rewritten and re-signed the whole log.

Each tamper test changes exactly the thing its check guards, as an operator who holds the log key would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.verifier import factory
from tests.verifier_anchors.conftest import Anchored, Chain, make_anchored, needs_anvil
from tests.verifier_anchors.test_anchor_step import audit, codes, finding, step3
from verifier.anchors import ChainAccess
from verifier.audit import Status, default_steps, run_audit
from verifier.cli import app
from verifier.errors import NoTrustedContract
from verifier.note import parse_verifier_key
from verifier.remote import LedgerSource
from verifier.rpc import HttpRpc

pytestmark = [pytest.mark.slow, needs_anvil]
runner = CliRunner()


def drop_chain_claims(a: Anchored) -> None:
    """What the operator removes so that the bundle claims no anchors: log.json's chain and anchors.jsonl."""
    log = json.loads((a.path / "log.json").read_text())
    del log["chain"]
    (a.path / "log.json").write_text(json.dumps(log))
    (a.path / "anchors.jsonl").unlink()


def rewrite_and_resign(a: Anchored, index: int = 15) -> list[bytes]:
    """The operator edits one event and re-signs every checkpoint from there on with the log key."""
    info = a.info
    factory.edit_event(info.path, index, lambda e: e["data"].update(rewritten=True))
    leaves = [factory.h_leaf(line) for line in factory.read_lines(info.path)]
    for size in (20, 30, 40):
        (info.path / "checkpoints" / str(size)).write_text(
            factory.signed_checkpoint(info.signer, info.origin, size, factory.mth(leaves[:size]))
        )
    return leaves


# --- a bundle that claims no anchors -------------------------------------------------------------------------
def test_a_bundle_that_drops_its_chain_claims_is_caught_against_your_contract(anchored: Anchored) -> None:
    drop_chain_claims(anchored)
    report = audit(anchored, contract=anchored.chain.contract)
    assert not report.verified and step3(report).status is Status.FAILED
    assert sorted(codes(report)) == ["anchor_missing_from_bundle", "anchor_missing_from_bundle",
                                     "bundle_claims_no_anchors"]  # fmt: skip
    f = finding(report, "bundle_claims_no_anchors")
    assert f.details["anchored sizes"] == [10, 30] and f.details["contract"] == anchored.chain.contract.lower()


def test_a_rewritten_resigned_bundle_without_chain_claims_is_caught(anchored: Anchored) -> None:
    """The case of issue #19: the operator rewrote event 15, re-signed, and removed every trace of the chain."""
    leaves = rewrite_and_resign(anchored)
    drop_chain_claims(anchored)
    report = audit(anchored, contract=anchored.chain.contract)
    assert next(s for s in report.steps if s.number == 2).status is Status.PASSED
    assert {"bundle_claims_no_anchors", "anchor_root_mismatch", "checkpoint_contradicts_anchor"} <= set(codes(report))
    mismatch = finding(report, "anchor_root_mismatch")
    assert mismatch.details["size"] == 30 and mismatch.found == factory.mth(leaves[:30]).hex()
    # the CLI: exit 1
    result = runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key,
                                 "--rpc", anchored.chain.url, "--contract", anchored.chain.contract])  # fmt: skip
    assert result.exit_code == 1 and "bundle_claims_no_anchors" in result.output


def test_rpc_without_a_contract_to_trust_is_refused(anchored: Anchored) -> None:
    """Neither the auditor nor the bundle names a contract: exit 2, and the contracts that anchor this log id are
    shown as evidence, not trusted."""
    drop_chain_claims(anchored)
    with pytest.raises(NoTrustedContract) as exc:
        audit(anchored)
    assert exc.value.exit_code == 2 and "--contract" in exc.value.message
    [candidate] = exc.value.candidates
    assert candidate["contract"] == anchored.chain.contract.lower() and candidate["anchors"] == 2
    assert candidate["largest_size"] == 30
    result = runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key,
                                 "--rpc", anchored.chain.url])  # fmt: skip
    assert result.exit_code == 2 and "cannot verify" in result.output and "--contract ADDR" in result.output
    assert anchored.chain.contract.lower() in result.output and "NOT trusted" in result.output
    doc = json.loads(runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key,
                                         "--rpc", anchored.chain.url, "--json"]).output)  # fmt: skip
    assert doc["exit_code"] == 2 and doc["error"]["code"] == "no_trusted_contract"
    assert doc["error"]["candidates"][0]["contract"] == anchored.chain.contract.lower()


def test_a_log_nobody_anchored_is_refused_without_candidates(tmp_path: Path, chain: Chain) -> None:
    info = factory.write_bundle(tmp_path / "b", n=12, checkpoint_sizes=[12], origin="test.hromada.example/none")
    with HttpRpc(chain.url) as rpc, pytest.raises(NoTrustedContract) as exc:
        run_audit(info.path, parse_verifier_key(info.key), chain=ChainAccess(rpc, rpc.display),
                  steps=default_steps(rules=False))  # fmt: skip
    assert exc.value.candidates == [] and "no contract on this chain" in exc.value.diagnostics()


# --- a bundle that names a contract of its own ----------------------------------------------------------------
def test_a_bundle_naming_its_own_contract_is_not_trusted_silently(anchored: Anchored) -> None:
    """The operator rewrites the log, deploys a contract of its own, anchors the rewritten roots there and names it
    in log.json and anchors.jsonl. Trusting the bundle's contract, everything matches - so the audit must say that
    the rewrite was not checked, and show the other contract that anchors this log id. With --contract it fails."""
    leaves = rewrite_and_resign(anchored)
    own = anchored.chain.another_contract()
    entries = [own.anchor(anchored.info.origin, s, factory.mth(leaves[:s])) for s in (10, 30)]
    anchored.write_anchors(entries)
    anchored.set_chain(contract=own.contract, deploy_block=own.deploy_block)
    report = audit(anchored)
    assert report.verified and step3(report).stats["contract_named_by"] == "bundle"
    assert not report.rewrite.checked and "named by the bundle" in (report.rewrite.reason or "")
    assert any(w.startswith("OPERATOR REWRITE NOT CHECKED") for w in report.warnings)
    [other] = step3(report).stats["other_contracts_anchoring_this_log"]
    assert other["contract"] == anchored.chain.contract.lower() and other["anchors"] == 2
    assert any(anchored.chain.contract.lower() in w and "NOT checked" in w for w in report.warnings)
    report = audit(anchored, contract=anchored.chain.contract)
    assert {"contract_mismatch", "anchor_root_mismatch", "anchor_other_chain"} <= set(codes(report))
    assert finding(report, "contract_mismatch").found == own.contract
    assert report.rewrite.checked


def test_a_deploy_block_after_the_deployment_does_not_hide_anchors(anchored: Anchored) -> None:
    """A deploy_block after the first anchor would hide it from the scan; the chain shows the contract's code
    in the block before, so the claim is a finding and the anchors are read from block 0."""
    anchored.write_anchors(anchored.entries[1:])  # the bundle hides the first anchor ...
    anchored.set_chain(deploy_block=anchored.entries[1]["block"])  # ... and the blocks it is in
    report = audit(anchored, contract=anchored.chain.contract)
    assert sorted(codes(report)) == ["anchor_missing_from_bundle", "deploy_block_after_deployment"]
    assert step3(report).stats["from_block"] == 0 and step3(report).stats["anchors_on_chain"] == 2
    f = finding(report, "deploy_block_after_deployment")
    assert f.details["deploy_block"] == anchored.entries[1]["block"]
    # the same through the bundle's own contract
    assert sorted(codes(audit(anchored))) == ["anchor_missing_from_bundle", "deploy_block_after_deployment"]
    # the true deploy block is confirmed and kept
    anchored.set_chain()
    assert step3(audit(anchored, contract=anchored.chain.contract)).stats["from_block"] == anchored.chain.deploy_block


def test_a_chain_claim_that_is_not_an_object(anchored: Anchored) -> None:
    log = json.loads((anchored.path / "log.json").read_text())
    log["chain"] = "anchored, trust me"
    (anchored.path / "log.json").write_text(json.dumps(log))
    report = audit(anchored)
    assert codes(report) == ["chain_info_malformed"] and not report.verified
    assert finding(report, "chain_info_malformed").found == "'anchored, trust me'"
    report = audit(anchored, contract=anchored.chain.contract)
    assert codes(report) == ["chain_info_malformed"] and step3(report).stats["anchors_on_chain"] == 2


# --- what the report says about a rewrite by the operator ----------------------------------------------------
def test_without_anchors_checked_the_report_says_a_rewrite_was_not_checked(anchored: Anchored) -> None:
    """An operator-rewritten, re-signed bundle passes --offline (nothing there can tell), so the report must say
    loudly, in the summary and in --json, that this is exactly what was not checked."""
    rewrite_and_resign(anchored)
    key, path = anchored.info.key, str(anchored.path)
    for args, reason in (
        (["--offline"], "--offline"),
        ([], "no --rpc URL given"),
    ):
        human = runner.invoke(app, ["audit", path, "--no-rules", "--key", key, *args])
        assert human.exit_code == 0 and "VERIFIED by steps 1, 2" in human.output
        assert "OPERATOR REWRITE NOT CHECKED" in human.output and "NOT CHECKED" in human.output
        assert "rewritten and re-signed the whole log" in human.output and reason in human.output
        doc = json.loads(runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--json", *args]).output)
        assert doc["verified"] is True and doc["operator_rewrite"]["checked"] is False
        assert reason in doc["operator_rewrite"]["reason"]
        assert any(w.startswith("OPERATOR REWRITE NOT CHECKED") for w in doc["warnings"])
    # with your contract the rewrite is found, and the field says the check was made
    chain_args = ["--rpc", anchored.chain.url, "--contract", anchored.chain.contract]
    doc = json.loads(runner.invoke(app, ["audit", path, "--no-rules", "--key", key, "--json", *chain_args]).output)
    assert doc["exit_code"] == 1 and doc["operator_rewrite"]["checked"] is True
    assert doc["operator_rewrite"]["anchored_size"] == 30 and doc["operator_rewrite"]["contract_named_by"] == "auditor"


def test_a_bundle_that_claims_no_anchors_audited_without_rpc_says_so(anchored: Anchored) -> None:
    drop_chain_claims(anchored)
    result = runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key])
    assert result.exit_code == 0 and "this bundle claims no anchors, which it cannot decide for you" in result.output
    assert "OPERATOR REWRITE NOT CHECKED" in result.output


def test_your_contract_without_anchors_of_this_log_checks_no_rewrite(tmp_path: Path, chain: Chain) -> None:
    a = make_anchored(tmp_path / "b", chain, anchored=())
    report = audit(a, contract=chain.contract)
    assert report.verified and not report.rewrite.checked
    assert "holds no anchor of this log" in (report.rewrite.reason or "")
    chain.anchor(a.info.origin, 77, os.urandom(32))  # beyond the bundle: still nothing of it is fixed
    assert not audit(a, contract=chain.contract).rewrite.checked


def test_the_clean_bundle_with_your_contract_has_no_rewrite_warning(anchored: Anchored) -> None:
    result = runner.invoke(app, ["audit", str(anchored.path), "--no-rules", "--key", anchored.info.key,
                                 "--rpc", anchored.chain.url, "--contract", anchored.chain.contract])  # fmt: skip
    assert result.exit_code == 0 and "WARNING" not in result.output and "NOT CHECKED" not in result.output
    assert "Fixed on chain up to tree size 30" in result.output and "the last 10 event(s)" in result.output


# --- a ledger URL, which names no contract -------------------------------------------------------------------
def served(a: Anchored, edit: int | None = None) -> LedgerSource:
    """The anchored factory bundle served as a ledger (one partial entry bundle and its tiles), in process."""
    lines = factory.read_lines(a.path)
    if edit is not None:
        event = json.loads(lines[edit])
        event["data"]["rewritten"] = True
        lines[edit] = factory.jcs(event)
    leaves = [factory.h_leaf(line) for line in lines]
    n = len(lines)
    routes = {
        "/checkpoint": (a.path / "checkpoints" / str(n)).read_bytes(),
        "/v1/log": json.dumps({"verifier_key": a.info.key}).encode(),
        f"/tile/entries/000.p/{n}": b"".join(len(x).to_bytes(2, "big") + x for x in lines),
        f"/tile/0/000.p/{n}": b"".join(leaves),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        body = routes.get(request.url.path)
        return httpx.Response(404) if body is None else httpx.Response(200, content=body)

    return LedgerSource("http://ledger.test", client=httpx.Client(transport=httpx.MockTransport(answer)))


def test_a_ledger_url_needs_your_contract_and_is_checked_against_it(anchored: Anchored) -> None:
    key = parse_verifier_key(anchored.info.key)
    with HttpRpc(anchored.chain.url) as rpc:
        with served(anchored) as source, pytest.raises(NoTrustedContract) as exc:
            run_audit(source, key, chain=ChainAccess(rpc, rpc.display), steps=default_steps(rules=False))
        assert "ledger URL" in exc.value.message and exc.value.candidates[0]["anchors"] == 2
        mine = ChainAccess(rpc, rpc.display, anchored.chain.contract)
        with served(anchored) as source:
            report = run_audit(source, key, chain=mine, steps=default_steps(rules=False))
        assert report.verified and codes(report) == [] and report.rewrite.checked  # no listing, so none is missing
        with served(anchored, edit=3) as source:  # an anchored event changed (the checkpoint was not re-signed)
            report = run_audit(source, key, chain=mine, steps=default_steps(rules=False))
        assert "anchor_root_mismatch" in codes(report)
