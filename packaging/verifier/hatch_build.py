"""Build hook of the hromada-verify distribution: put the `verifier` package into the wheel (and the sdist).

The source is the repository's own ``verifier/`` two levels up (a build from the source tree: ``pip wheel
packaging/verifier``, ``pip install git+...#subdirectory=packaging/verifier``), or ``./verifier`` inside an
unpacked sdist. Only ``*.py`` files and ``py.typed`` are shipped: no caches, no editor leftovers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIPPED_SUFFIXES = {".py"}
SHIPPED_NAMES = {"py.typed"}


def verifier_source(root: Path) -> Path:
    for candidate in (root / "verifier", root.parent.parent / "verifier"):
        if (candidate / "cli.py").is_file() and (candidate / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"no verifier package beside {root} or two levels up (build from the source tree)")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        source = verifier_source(Path(self.root))
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if "__pycache__" in relative.parts or not path.is_file():
                continue
            if path.suffix in SHIPPED_SUFFIXES or path.name in SHIPPED_NAMES:
                build_data["force_include"][str(path)] = f"verifier/{relative.as_posix()}"
