"""Every hostile-input vector (tests/vectors/hostile/verifier/*.json) through ``hromada-verify audit``: the recipe's
input is built, audited with the base bundle's key (``--offline --json``), and the answer must be the recipe's - its
exit code, and its findings (exit 1) or its error code and message fragment (exit 2). A refusal must also be one line
on stderr without ``--json``, never a traceback.

The command runs in this process through typer's CliRunner (the real ``audit`` command, all five steps: this
directory has no conftest that turns the rule steps off); two cases also run the installed console script in a
child process. How long each case takes and how much memory is the benchmark's business (bench/hostile_verifier.py,
every case in a child process), not this test's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import hostile

RECIPES = [hostile.load(p) for p in hostile.cases()]
VARIANTS = [v for r in RECIPES for v in hostile.expand(r)]
IDS = [f"{v['case']}[{v['variant']}]" if "variant" in v else v["case"] for v in VARIANTS]


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """Inputs are built in memory-backed /dev/shm when there is one (100,000 small files on this disk take ~40 s)."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="hromada-hostile-") as tmp:
        yield Path(tmp)


def test_the_vectors_are_well_formed() -> None:
    assert len(RECIPES) >= 40
    names = [r["case"] for r in RECIPES]
    assert len(set(names)) == len(names)
    for path, recipe in zip(hostile.cases(), RECIPES, strict=True):
        assert recipe["case"] == path.stem
        assert recipe["about"]
        want = recipe["expect"]
        assert want["exit"] in (0, 1, 2)
        assert ("error" in want) == (want["exit"] == 2)
        assert ("findings" in want) == (want["exit"] == 1)


def test_the_base_bundle_is_small() -> None:
    assert sum(p.stat().st_size for p in hostile.BASE.rglob("*") if p.is_file()) < 200_000


@pytest.mark.parametrize("recipe", VARIANTS, ids=IDS)
def test_vector(recipe: dict[str, Any], scratch: Path) -> None:
    source = hostile.build(recipe, scratch / "input")
    outcome = hostile.run_in_process(source)
    assert hostile.check(recipe, outcome) == [], recipe["about"]
    if recipe["expect"]["exit"] == 2 and recipe.get("variant_index", 0) == 0:  # once per case
        _one_line(recipe, hostile.run_in_process(source, as_json=False))


def _one_line(recipe: dict[str, Any], human: hostile.Outcome) -> None:
    assert human.exit == 2 and "Traceback" not in human.stderr
    lines = human.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cannot verify: "), human.stderr
    assert recipe["expect"].get("message", "") in lines[0]


@pytest.mark.parametrize("case", ["lawful-tar-gz", "events-line-nested-32767", "tar-member-parent-path"])
def test_vector_through_the_console_script(case: str, scratch: Path) -> None:
    """The installed ``hromada-verify`` in a child process (the recursion depth there is a fresh interpreter's)."""
    recipe = hostile.load(hostile.VECTORS / f"{case}.json")
    source = hostile.build(recipe, scratch / "input")
    assert hostile.check(recipe, hostile.run(source, timeout=120)) == []
    if recipe["expect"]["exit"] == 2:
        _one_line(recipe, hostile.run(source, as_json=False, timeout=120))
