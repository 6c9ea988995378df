"""The tamper vectors (tests/vectors/audit/<case>/case.json, docs/audit.md "Tamper vectors"): each case's bundle,
built from the lawful base, audited offline with the base's key, gives the case's expected findings. One test per
case."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verifier import tamper
from verifier.audit import run_audit
from verifier.codes import BY_CODE
from verifier.note import parse_verifier_key

CASES = tamper.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tamper_vector(case: Path, tmp_path: Path) -> None:
    recipe = tamper.load(case)
    assert recipe["case"] == case.name
    bundle = tamper.build(recipe, tmp_path)
    report = run_audit(bundle, parse_verifier_key(tamper.base_key(recipe)), offline=True, workers=1)
    assert tamper.check(recipe, report) == []


def test_every_expected_code_is_catalogued_at_its_step() -> None:
    assert len(CASES) >= 20
    for case in CASES:
        for f in tamper.load(case)["expect"]["findings"]:
            assert str(f["step"]) in BY_CODE[f["code"]].step.split(", "), (case.name, f)


def test_the_check_fails_on_a_report_that_misses_the_finding(tmp_path: Path) -> None:
    """The comparison can fail: the lawful base audited against a tamper case's expectation."""
    recipe = tamper.load(tamper.AUDIT / "offer-out-of-turn")
    lawful = tamper.build({"edits": []}, tmp_path)
    report = run_audit(lawful, parse_verifier_key(tamper.base_key(recipe)), offline=True, workers=1)
    problems = tamper.check(recipe, report)
    assert problems and "exit 0, expected 1" in problems[0] and "offer_out_of_turn" in problems[1]
