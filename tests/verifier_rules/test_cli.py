"""``hromada-verify audit`` runs steps 4 and 5 by default; ``--json`` lists their findings; ``--no-rules``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.verifier import factory
from tests.verifier_rules.builder import ORIGIN, History
from verifier.cli import app

KEY = factory.make_signer(ORIGIN).verifier_key


def lawless_bundle(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    h = History()
    h.city()
    q = h.queue()
    h.register_child(q, 1)
    second = h.register_child(q, 2)
    h.offer(q, second)  # out of turn: the first entry waits
    return h.write(tmp_path / "b"), h.events[-1]


def test_json_lists_the_rule_findings(tmp_path: Path) -> None:
    bundle, offer = lawless_bundle(tmp_path)
    result = CliRunner().invoke(app, ["audit", str(bundle), "--key", KEY, "--offline", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    steps = {s["number"]: s for s in doc["steps"]}
    assert steps[4]["status"] == "failed" and steps[5]["status"] == "passed"
    [f] = steps[4]["findings"]
    assert (f["code"], f["index"], f["event_id"], f["event_type"]) == (
        "offer_out_of_turn",
        6,
        offer["id"],
        "queue.offer_issued",
    )
    assert [s["number"] for s in doc["not_run"]] == [3]


def test_human_output_names_the_event(tmp_path: Path) -> None:
    bundle, offer = lawless_bundle(tmp_path)
    result = CliRunner().invoke(app, ["audit", str(bundle), "--key", KEY, "--offline"])
    assert result.exit_code == 1
    assert "[step 4] offer_out_of_turn" in result.output and offer["id"] in result.output


def test_no_rules_reports_steps_4_and_5_not_run(tmp_path: Path) -> None:
    bundle, _ = lawless_bundle(tmp_path)
    result = CliRunner().invoke(app, ["audit", str(bundle), "--key", KEY, "--offline", "--json", "--no-rules"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["complete"] is False and [s["number"] for s in doc["not_run"]] == [3, 4, 5]
    assert "--no-rules" in doc["not_run"][1]["reason"]
