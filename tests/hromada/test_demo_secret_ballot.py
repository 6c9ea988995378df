"""Issue #13 "Show it": `hromada demo` runs an encrypted participatory budget with 3-of-5 trustees through the
booth's Python client, and its bundle audits clean with every voting check of `hromada-verify` (the tamper cases
are tests/verifier_voting/)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.hromada.demo_bundle import bundle_events, demo_bundle
from verifier.cli import app as verify


def test_the_demo_runs_an_encrypted_budget_and_its_bundle_audits_clean(tmp_path: Path) -> None:
    bundle = demo_bundle(tmp_path, 300)
    events = bundle_events(bundle)
    types = [str(e["type"]) for e in events]
    for t in ("ballot.ceremony_started", "ballot.ballot_cast", "ballot.voting_ended", "ballot.decryption_shared"):
        assert t in types, t
    assert types.count("ballot.decryption_shared") == 3  # 3 of 5: two trustees absent
    closed = [e for e in events if e["type"] == "ballot.closed" and "decrypted_by" in e["data"]]  # type: ignore[operator]
    assert len(closed) == 1

    audited = CliRunner().invoke(verify, ["audit", str(bundle), "--offline", "--json"])
    assert audited.exit_code == 0, audited.output
    report = json.loads(audited.output)
    assert all(not s["findings"] for s in report["steps"]), report
