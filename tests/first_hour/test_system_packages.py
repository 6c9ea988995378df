"""Issue #17 item 1: system packages (PostgreSQL, Chromium) are installed by the Makefile's prerequisites, once,
before pytest starts; no test installs anything (parallel workers would race for the dpkg lock)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make_test_plan() -> list[str]:
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_make_test_installs_chromium_before_pytest() -> None:
    plan = _make_test_plan()
    chromium = next(i for i, line in enumerate(plan) if "apt-get install" in line and "chromium-driver" in line)
    pytest_line = next(i for i, line in enumerate(plan) if "-m pytest" in line)
    assert chromium < pytest_line, plan


def test_no_test_runs_a_package_manager() -> None:
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"""["']apt-get["']|["']apt["']|["']dpkg["']""", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_readme_needs_line_names_chromium() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    needs = readme[readme.index("Needs:") : readme.index("## Try it")]
    assert "Chromium" in needs and "chromium-driver" in needs
