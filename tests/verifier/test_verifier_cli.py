"""hromada-verify through typer's CliRunner: exit codes 0/1/2 and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.verifier import factory
from tests.verifier.test_verifier_receipt import make_receipt
from verifier.cli import app

runner = CliRunner()


@pytest.fixture
def info(tmp_path: Path) -> factory.BundleInfo:
    return factory.write_bundle(tmp_path / "bundle", n=40, checkpoint_sizes=[10, 30])


def test_audit_ok_human(info: factory.BundleInfo) -> None:
    result = runner.invoke(app, ["audit", str(info.path), "--key", info.key])
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    assert "NOT RUN" in result.output and "not a domain history" in result.output


def test_audit_ok_json_key_from_file(info: factory.BundleInfo, tmp_path: Path) -> None:
    keyfile = tmp_path / "log.pub"
    keyfile.write_text(info.key + "\n")
    result = runner.invoke(app, ["audit", str(info.path), "--key", str(keyfile), "--json", "--offline"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verified"] is True and doc["complete"] is False and doc["exit_code"] == 0
    assert [s["number"] for s in doc["not_run"]] == [3, 4, 5]
    assert "--offline" in doc["not_run"][0]["reason"]
    assert doc["events"] == 40


def test_audit_tar_gz(info: factory.BundleInfo, tmp_path: Path) -> None:
    tar = factory.make_tar(info.path, tmp_path / "b.tar.gz")
    assert runner.invoke(app, ["audit", str(tar), "--key", info.key]).exit_code == 0


def test_audit_failure_names_the_event(info: factory.BundleInfo) -> None:
    event = factory.edit_event(info.path, 12, lambda e: e.update(extra="x"))
    result = runner.invoke(app, ["audit", str(info.path), "--key", info.key])
    assert result.exit_code == 1
    assert "VERIFICATION FAILED" in result.output
    assert f"#12 id={event['id']} type={event['type']}" in result.output
    assert "expected:" in result.output and "found:" in result.output
    result = runner.invoke(app, ["audit", str(info.path), "--key", info.key, "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    f = next(f for s in doc["steps"] for f in s["findings"] if f["code"] == "extra_field")
    assert (f["index"], f["event_id"], f["event_type"], f["found"]) == (12, event["id"], event["type"], ["extra"])


def test_audit_without_key_warns(info: factory.BundleInfo) -> None:
    result = runner.invoke(app, ["audit", str(info.path)])
    assert result.exit_code == 0
    assert "TRUSTING THE BUNDLE'S OWN KEY" in result.output


def test_audit_fork_via_checkpoint_option(info: factory.BundleInfo, tmp_path: Path) -> None:
    other = tmp_path / "held.note"
    other.write_text(factory.signed_checkpoint(info.signer, info.origin, 10, b"\x07" * 32))
    result = runner.invoke(app, ["audit", str(info.path), "--key", info.key, "--checkpoint", str(other), "--json"])
    assert result.exit_code == 1
    codes = {f["code"] for s in json.loads(result.output)["steps"] for f in s["findings"]}
    assert "fork" in codes


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "/nonexistent/bundle", "--key", "x+00000000+AA=="],
        ["audit", "{bundle}", "--key", "not a key"],
        ["audit", "{bundle}", "--key", "{bundle}/missing.pub"],
        ["audit", "{bundle}", "--checkpoint", "/nonexistent/note"],
        ["audit"],
        ["frobnicate"],
    ],
)
def test_audit_cannot_run(info: factory.BundleInfo, args: list[str]) -> None:
    args = [a.replace("{bundle}", str(info.path)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output


def test_audit_cannot_run_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", str(tmp_path / "none"), "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.output)
    assert doc["exit_code"] == 2 and doc["error"]["code"] == "unreadable_input"


def test_receipt_exit_codes(info: factory.BundleInfo, tmp_path: Path) -> None:
    r = make_receipt(info, index=5, size=30)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(r))
    ok = runner.invoke(app, ["receipt", str(path), "--key", info.key])
    assert ok.exit_code == 0, ok.output
    assert "VERIFIED" in ok.output
    doc = json.loads(runner.invoke(app, ["receipt", str(path), "--key", info.key, "--json"]).output)
    assert doc["verified"] is True and doc["leaf_index"] == 5

    r["anchor"] = {"tree_size": 30, "root": factory.mth(info.leaves[:30]).hex(), "chain_id": 1}
    path.write_text(json.dumps(r))
    online = runner.invoke(app, ["receipt", str(path), "--key", info.key])
    # an anchored receipt without --rpc: verified for what was checked, the chain check named as not checked (#17)
    assert online.exit_code == 0 and "NOT CHECKED" in online.output and "--rpc" in online.output
    assert runner.invoke(app, ["receipt", str(path), "--key", info.key, "--offline"]).exit_code == 0

    r["event"]["data"]["count"] = 77
    path.write_text(json.dumps(r))
    bad = runner.invoke(app, ["receipt", str(path), "--key", info.key, "--offline"])
    assert bad.exit_code == 1 and "RECEIPT VERIFICATION FAILED" in bad.output
    assert r["event"]["id"] in bad.output
    bad_json = json.loads(runner.invoke(app, ["receipt", str(path), "--key", info.key, "--json"]).output)
    assert bad_json["exit_code"] == 1 and bad_json["error"]["code"] == "leaf_hash_mismatch"

    assert runner.invoke(app, ["receipt", str(path)]).exit_code == 2  # no --key
    assert runner.invoke(app, ["receipt", str(tmp_path / "missing.json"), "--key", info.key]).exit_code == 2
    unreachable = runner.invoke(
        app, ["receipt", str(path), "--key", info.key, "--offline", "--ledger", "http://127.0.0.1:9"]
    )
    assert unreachable.exit_code in (1, 2)  # leaf hash mismatch is found before the network is touched


def test_audit_with_worker_processes(info: factory.BundleInfo) -> None:
    ok = runner.invoke(app, ["audit", str(info.path), "--key", info.key, "--workers", "2", "--json"])
    assert ok.exit_code == 0, ok.output
    factory.edit_event(info.path, 3, lambda e: e.update(extra=1))
    bad = runner.invoke(app, ["audit", str(info.path), "--key", info.key, "--workers", "2", "--json"])
    assert bad.exit_code == 1
    assert any(
        f["code"] == "extra_field" and f["index"] == 3 for s in json.loads(bad.output)["steps"] for f in s["findings"]
    )
