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


def shipped_statutes() -> dict[str, dict[str, Any]]:
    """Every shipped example rule set by name: the petitions', then the ballots', the kindergarten queues' and the
    housing registers' (the order the demo city publishes them in)."""
    from domain.ballots.rules import STATUTES as BALLOTS
    from domain.housing.rules import STATUTES as HOUSING
    from domain.kindergarten.rules import STATUTES as KINDERGARTEN
    from domain.petitions.rules import STATUTES as PETITIONS

    return {name: doc for kind in (PETITIONS, BALLOTS, KINDERGARTEN, HOUSING) for name, doc in kind.items()}
