"""Running the booth's JavaScript under node for tests: bare `@noble/...` imports resolve to tools/node_modules
through js/register.mjs (the browser uses booth.html's import map)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = Path(__file__).parent / "js"


def run_node(script: str, stdin: Any = None) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (the booth's crypto tests run it)")
    if not (ROOT / "tools/node_modules/@noble/curves/secp256k1.js").exists():
        pytest.fail("tools/node_modules/@noble missing: run `make node-deps`")
    done = subprocess.run(
        [node, "--import", str(JS / "register.mjs"), str(JS / script)],
        input=None if stdin is None else json.dumps(stdin),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
