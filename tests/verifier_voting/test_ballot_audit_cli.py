"""``hromada-verify ballot-audit`` (the Benaloh challenge, docs/voting.md §6) on the shared vectors' audit record:
a tampered record fails naming the check, the genuine one prints its choices."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from verifier.cli import app

V: dict[str, Any] = json.loads((Path(__file__).resolve().parents[1] / "vectors/voting/voting.json").read_text())
B = V["ballot"]


def _run(tmp_path: Path, record: dict[str, Any], manifest: dict[str, Any]) -> Any:
    (tmp_path / "record.json").write_text(json.dumps(record))
    (tmp_path / "ballot.json").write_text(json.dumps(manifest))
    args = ["ballot-audit", str(tmp_path / "record.json"), "--ballot", str(tmp_path / "ballot.json"), "--json"]
    return CliRunner().invoke(app, args)


MANIFEST = {"ballot_id": B["ballot"], "opened": B["opened"]}


def test_a_record_whose_choice_was_flipped_fails(tmp_path: Path) -> None:
    record = copy.deepcopy(B["audit"])
    record["choices"] = [1 - c for c in record["choices"]]
    out = _run(tmp_path, record, MANIFEST)
    assert out.exit_code == 1
    assert json.loads(out.stdout)["where"] == "ciphertexts[0]"


def test_a_record_with_other_randomness_or_a_changed_manifest_fails(tmp_path: Path) -> None:
    record = copy.deepcopy(B["audit"])
    record["randomness"][1] = record["randomness"][0]
    assert json.loads(_run(tmp_path, record, MANIFEST).stdout)["where"] == "ciphertexts[1]"
    changed = copy.deepcopy(MANIFEST)
    changed["opened"]["method"]["budgets"]["d1"] = 2000
    assert json.loads(_run(tmp_path, B["audit"], changed).stdout)["where"] == "manifest_hash"
    bad_tracker = {**B["audit"], "tracker": "00" * 32}
    assert json.loads(_run(tmp_path, bad_tracker, MANIFEST).stdout)["where"] == "tracker"


def test_the_genuine_record_prints_its_choices(tmp_path: Path) -> None:
    out = _run(tmp_path, B["audit"], MANIFEST)
    assert out.exit_code == 0, out.stdout
    doc = json.loads(out.stdout)
    assert doc["choices"] == [o for o, c in B["counts"].items() if c] == ["lib"]
    assert doc["tracker"] == B["audit"]["tracker"]
