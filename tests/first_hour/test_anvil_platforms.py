"""Issue #17 item 8: every platform `anchoring.node.anvil_package` selects is pinned in tools/package.json (and
its lock) at the version the code expects, as an optional dependency npm installs only where os and cpu match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anchoring.errors import NodeError
from anchoring.node import ANVIL_VERSION, anvil_package

TOOLS = Path(__file__).resolve().parents[2] / "tools"
PLATFORMS = {
    ("linux", "x86_64"): ("linux", "x64"),
    ("linux", "aarch64"): ("linux", "arm64"),
    ("linux", "arm64"): ("linux", "arm64"),
    ("darwin", "x86_64"): ("darwin", "x64"),
    ("darwin", "arm64"): ("darwin", "arm64"),
}


@pytest.mark.parametrize(("system", "machine"), sorted(PLATFORMS))
def test_each_platform_selects_a_pinned_package(system: str, machine: str) -> None:
    package = anvil_package(system, machine)
    pinned = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))["optionalDependencies"]
    assert pinned.get(package) == ANVIL_VERSION
    locked = json.loads((TOOLS / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    entry = locked[f"node_modules/{package}"]
    assert entry["version"] == ANVIL_VERSION and entry["optional"] is True
    assert (entry["os"], entry["cpu"]) == ([PLATFORMS[system, machine][0]], [PLATFORMS[system, machine][1]])


def test_machine_names_are_case_insensitive() -> None:
    assert anvil_package("linux", "X86_64") == "@foundry-rs/anvil-linux-amd64"


@pytest.mark.parametrize(("system", "machine"), [("win32", "AMD64"), ("linux", "riscv64"), ("freebsd14", "amd64")])
def test_an_unknown_platform_says_how_to_go_on(system: str, machine: str) -> None:
    with pytest.raises(NodeError, match="HROMADA_ANVIL_BIN"):
        anvil_package(system, machine)


def test_every_pinned_anvil_package_is_selectable() -> None:
    pinned = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))["optionalDependencies"]
    selectable = {anvil_package(s, m) for s, m in PLATFORMS}
    assert {p for p in pinned if p.startswith("@foundry-rs/anvil-")} == selectable
