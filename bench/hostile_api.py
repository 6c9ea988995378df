"""Hostile input against the API: every case of tests/vectors/hostile/api (the suite tests/api/test_hostile_api.py
checks the answers of) against a real `hromada serve --no-chain`, and `--fronts 2` where the case says so.

Rows per case and server: the time from the first byte sent to the last answer read (a repeated request: all of
them), and the serving processes' peak RSS growth during the case (writer and fronts: each one's VmHWM, reset
before the case, minus its RSS then). Every case must stay bounded: under `limits.seconds` (5 s) and
`limits.rss_mib` (256 MiB); the note says when one does not, or when the answer or the server's health was not
the expected one.

Usage beside the other suites: `python -m bench --only hostile_api [--quick]`; alone: `python -m bench.hostile_api`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.api import hostile
from tests.api import served as srv

Row = dict[str, Any]


def _measure(served: srv.Served, case: hostile.Case) -> list[Row]:
    served.reset_peak_rss()
    baseline = served.rss_kib()
    ex = hostile.exchange(served.port, case.request, served.data_dir)
    growth_mib = served.peak_growth_kib(baseline) / 1024
    problems = hostile.failures(case, ex)
    if not served.alive():  # a dead process has no peak to read
        growth_mib = float("nan")
        problems.append("server died")
    elif not hostile.healthy(served.port):
        problems.append("server not answering afterwards")
    limits = case.limits
    over = []
    if ex.seconds >= limits["seconds"]:
        over.append(f"over {limits['seconds']:g} s")
    if not growth_mib < limits["rss_mib"]:
        over.append(f"over {limits['rss_mib']:g} MiB")
    answer = f"{ex.last.status} {ex.last.problem_type() or ''}".strip()
    note = "; ".join([f"answer {answer}", *(problems or ["as expected"]), *(over or ["bounded"])])
    system = f"hromada serve{' --fronts ' + str(served.fronts) if served.fronts else ''}"
    n = int(case.request.get("repeat", 1))
    return [
        {"system": system, "operation": f"{case.name}: time", "n": n, "value": ex.seconds, "unit": "s", "note": note},
        {"system": system, "operation": f"{case.name}: peak RSS growth", "n": n, "value": growth_mib, "unit": "MiB"},
    ]


def run(quick: bool = False) -> list[Row]:
    """Every case on every server it names (`quick`: one-process servers only)."""
    cases = hostile.load_cases()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hromada-bench-hostile-") as tmp:
        for i, ((fronts, env), group) in enumerate(hostile.server_groups(cases).items()):
            if quick and fronts:
                continue
            served = srv.start(Path(tmp) / f"server-{i}", fronts=fronts, **dict(env))
            try:
                for case in group:
                    if not served.alive():  # a case killed it (the note of its row says so): a new one
                        srv.stop(served)
                        served = srv.start(Path(tmp) / f"server-{i}-{case.name}", fronts=fronts, **dict(env))
                    rows += _measure(served, case)
            finally:
                srv.stop(served)
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r, ensure_ascii=False))
