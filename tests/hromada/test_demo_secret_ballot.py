"""`hromada demo --secret-ballot`: the encrypted participatory budget with 3-of-5 trustees (1, 2 and 4 decrypt),
through hromada/vote.py and the trustee code: it closes, decrypted by those three, one choice per counted ballot."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hromada.cli import app as hromada


def test_the_demo_runs_an_encrypted_budget_beside_the_open_one(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "city"
    r = runner.invoke(hromada, ["demo", "--data-dir", str(data), "--events", "200", "--no-chain", "--secret-ballot"])
    assert r.exit_code == 0, r.output
    from hromada.cli.common import open_ledger, settings

    with open_ledger(settings(data)) as ledger:
        secret = [s for s in ledger.app.projections.of_kind("ballot").values() if s.get("secrecy") == "encrypted"]
        assert len(secret) == 1
        s = secret[0]
        assert s["status"] == "closed" and s["decrypted_by"] == [1, 2, 4]
        voters = s["tally"]["voters"]
        assert voters >= 6 and sum(s["tally"]["counts"].values()) == voters  # one choice per ballot
