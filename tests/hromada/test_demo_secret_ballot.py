"""Issue #13 "Show it": `hromada demo` runs an encrypted participatory budget with 3-of-5 trustees through the
booth's Python client, and its bundle audits clean with every voting check of `hromada-verify` (the tamper cases
are tests/verifier_voting/)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from hromada.cli import app
from verifier.cli import app as verify

ENV = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}


def _events(bundle: Path) -> list[dict[str, object]]:
    with tarfile.open(bundle) as tar:
        for m in tar.getmembers():
            if m.name.endswith("events.jsonl"):
                f = tar.extractfile(m)
                assert f is not None
                return [json.loads(line) for line in f.read().decode().splitlines() if line]
    raise AssertionError("no events.jsonl in the bundle")


def test_the_demo_runs_an_encrypted_budget_and_its_bundle_audits_clean(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "city"
    made = runner.invoke(app, ["demo", "--data-dir", str(data), "--events", "300", "--no-chain"], env=ENV)
    assert made.exit_code == 0, made.output
    bundle = tmp_path / "b.tar.gz"
    out = runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(bundle)], env=ENV)
    assert out.exit_code == 0, out.output

    types = [str(e["type"]) for e in _events(bundle)]
    for t in ("ballot.ceremony_started", "ballot.ballot_cast", "ballot.voting_ended", "ballot.decryption_shared"):
        assert t in types, t
    assert types.count("ballot.decryption_shared") == 3  # 3 of 5: two trustees absent
    closed = [e for e in _events(bundle) if e["type"] == "ballot.closed" and "decrypted_by" in e["data"]]  # type: ignore[operator]
    assert len(closed) == 1

    audited = runner.invoke(verify, ["audit", str(bundle), "--offline", "--json"])
    assert audited.exit_code == 0, audited.output
    report = json.loads(audited.output)
    assert all(not s["findings"] for s in report["steps"]), report
