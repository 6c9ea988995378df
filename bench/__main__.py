"""`make bench`: every benchmark in one run on this machine, printed as one table beside its peers.

Usage: python -m bench [--quick] [--only ledger,merkle,...] [--json PATH]
Speed goals live here, never in unit tests. Results also go to .bench/results.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SUITES: dict[str, dict[str, dict[str, Any]]] = {
    # suite -> {"full": kwargs, "quick": kwargs}
    "ledger": {"full": {"n": 20_000}, "quick": {"n": 5_000, "rounds": 1, "integrate_sizes": (100_000,)}},
    "merkle": {"full": {"sizes": (100_000, 1_000_000)}, "quick": {"sizes": (100_000,)}},
    "domain": {"full": {}, "quick": {"scale": 0.05}},
    "anchoring": {"full": {}, "quick": {}},
    "audit": {"full": {}, "quick": {"sizes": (100_000,)}},
    "hostile_verifier": {"full": {}, "quick": {"quick": True}},
    "api": {"full": {}, "quick": {"quick": True}},
    "hostile_api": {"full": {}, "quick": {"quick": True}},
    "watch": {"full": {}, "quick": {"size": 20_000, "rounds": 3}},
    "booth": {"full": {"rounds": 15}, "quick": {"rounds": 3}},
    "monitor": {"full": {}, "quick": {"sizes": (10_000, 30_000), "rounds": 1}},
    "voting": {"full": {}, "quick": {"n": 100, "audit_n": 50, "peer_n": 4}},
    "demo": {"full": {}, "quick": {"events": 2_000, "rounds": 1, "sizes": (2_000,)}},
}


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run, not the recorded figures)")
    parser.add_argument("--only", default="", help="comma-separated suites: " + ",".join(SUITES))
    parser.add_argument("--json", default=".bench/results.json", help="where to write the raw rows")
    args = parser.parse_args()
    console = Console(width=200)  # a wide table even when piped to a file
    wanted = [s for s in (args.only.split(",") if args.only else SUITES) if s]
    results: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version(), "suites": {}}
    table = Table(title="Hromada Ledger benchmarks (one run, same machine)")
    for col in ("suite", "system", "operation", "n", "value", "unit", "note"):
        table.add_column(col, justify="right" if col in ("n", "value") else "left")
    for suite in wanted:
        if suite not in SUITES:
            raise SystemExit(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
        try:
            module = importlib.import_module(f"bench.{suite}")
        except ModuleNotFoundError as e:
            console.print(f"[yellow]{suite}: not available ({e}); skipped[/yellow]")
            continue
        kwargs = SUITES[suite]["quick" if args.quick else "full"]
        console.print(f"[bold]{suite}[/bold] {kwargs or ''} ...")
        started = time.perf_counter()
        rows = module.run(**kwargs)
        console.print(f"  {len(rows)} rows in {time.perf_counter() - started:.0f} s")
        results["suites"][suite] = rows
        for r in rows:
            table.add_row(suite, *(fmt(r.get(k, "")) for k in ("system", "operation", "n", "value", "unit", "note")))
    console.print(table)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"raw rows: {out}")


if __name__ == "__main__":
    main()
