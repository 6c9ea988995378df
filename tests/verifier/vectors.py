"""Location of the shared, read-only test vectors (repo-root/../shared/testvectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTVECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors"


def load(name: str) -> Any:
    return json.loads((TESTVECTORS / name).read_text(encoding="utf-8"))
