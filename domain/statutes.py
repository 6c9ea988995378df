"""The shipped example rule sets (statutes): data files ``domain/<kind>/statutes/<name>.json``, each the body of a
``ruleset.published`` (name, version, what it applies to, the statute it cites, the rules), read from files an
outside reader can check against the acts they cite. A city's legal department confirms each before its
``rules:admin`` service publishes it (``hromada rules publish FILE``; the demo city publishes them all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_statutes(directory: Path) -> dict[str, dict[str, Any]]:
    """The example rule sets of ``directory`` by name, each without its ``$comment``."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc.pop("$comment", None)
        out[doc["ruleset"]] = doc
    return out
