"""Hostile-input benchmark: every case of tests/vectors/hostile/verifier/ through ``hromada-verify audit``, each in a
child process, with its wall time and peak RSS.

``run()`` returns, per case, two rows ``{"system", "operation", "n", "value", "unit", "note"}`` (as bench/audit.py):
the slowest of its variants in seconds and the largest peak RSS in MiB, ``n`` the number of variants run. The peak is
the child's own ``VmHWM`` (read by the child as it exits, :data:`PEAK_WRAPPER`), or its children's (the rule worker)
if larger. Not ``ru_maxrss`` of the child: Linux carries the parent's high-water mark across fork and exec into it,
so every case would show at least this benchmark process's own size. Every case must be bounded: under
:data:`MAX_SECONDS` and :data:`MAX_RSS_MIB`; the note says ``bounded`` or ``OVER`` and whether the answer was the
recipe's (``tests.verifier.hostile.check``). Building an input is not timed (1 GiB of newlines takes a few seconds to
compress). ``quick=True`` runs the first variant of each case only.

Usage: python -m bench --only hostile_verifier [--quick]   (or python -m bench.hostile_verifier)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.verifier import hostile  # noqa: E402 - the repository root first

Row = dict[str, Any]
MAX_SECONDS = 5.0
MAX_RSS_MIB = 256
TIMEOUT = 120.0


#: Runs ``hromada-verify`` with the given arguments in this interpreter and, at exit, writes its own peak RSS
#: (``VmHWM``, which starts afresh at exec) and its reaped children's (``ru_maxrss``), in KiB, to $HROMADA_PEAK_FILE.
PEAK_WRAPPER = """
import atexit, os, resource, sys
def _peak():
    own = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["HROMADA_PEAK_FILE"], "w") as out:
        out.write(f"{own} {children}")
atexit.register(_peak)
sys.argv = ["hromada-verify", *sys.argv[1:]]
from verifier.cli import app
app()
"""


def measure(source: Path) -> tuple[hostile.Outcome, int]:
    """One audit of ``source`` in a child process: its outcome, and its peak RSS in KiB."""
    command = hostile.command(source)
    head = 1 if Path(command[0]).name == "hromada-verify" else 3  # the script, or python -m verifier.cli
    with tempfile.NamedTemporaryFile(prefix="hromada-peak-", delete=False) as peak_file:
        peak = Path(peak_file.name)
    env = {**os.environ, "HROMADA_PEAK_FILE": str(peak)}
    proc = subprocess.Popen(
        [sys.executable, "-c", PEAK_WRAPPER, *command[head:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else b"")),
        threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else b"")),
    ]
    for t in readers:
        t.start()
    killer = threading.Timer(TIMEOUT, proc.kill)
    killer.start()
    started = time.perf_counter()
    _, status, _usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    killer.cancel()
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = b"".join(out).decode("utf-8", "replace").strip()
    doc = None
    if text:
        try:
            doc = json.loads(text.splitlines()[-1])
        except ValueError:
            doc = None
    outcome = hostile.Outcome(proc.returncode, doc, b"".join(err).decode("utf-8", "replace"), seconds)
    try:
        own, children = (int(x) for x in peak.read_text().split())
    except ValueError:  # killed before its exit handlers ran: no figure
        own = children = 0
    finally:
        peak.unlink(missing_ok=True)
    return outcome, max(own, children)


def _scratch() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    for path in hostile.cases():
        recipe = hostile.load(path)
        variants = hostile.expand(recipe)[:1] if quick else hostile.expand(recipe)
        worst_s, worst_kib, problems, exits = 0.0, 0, [], set()
        for variant in variants:
            with tempfile.TemporaryDirectory(dir=_scratch(), prefix="hromada-hostile-") as tmp:
                source = hostile.build(variant, Path(tmp) / "input")
                outcome, kib = measure(source)
            worst_s, worst_kib = max(worst_s, outcome.seconds), max(worst_kib, kib)
            exits.add(outcome.exit)
            problems += hostile.check(variant, outcome)
        bounded = worst_s < MAX_SECONDS and worst_kib / 1024 < MAX_RSS_MIB
        note = (
            f"exit {'/'.join(map(str, sorted(exits)))}, {'expected answer' if not problems else 'WRONG ANSWER'}; "
            f"{'bounded' if bounded else 'OVER'} (< {MAX_SECONDS:g} s, < {MAX_RSS_MIB} MiB)"
        )
        op = f"hostile: {recipe['case']}"
        rows.append(_row(op, len(variants), worst_s, "s", note))
        rows.append(_row(op + " (peak RSS)", len(variants), worst_kib / 1024, "MiB", ""))
        print(f"  {recipe['case']}: {worst_s:.2f} s, {worst_kib / 1024:.0f} MiB; {note}", file=sys.stderr)
    return rows


def _row(operation: str, n: int, value: float, unit: str, note: str = "") -> Row:
    return {"system": "hromada-verify", "operation": operation, "n": n, "value": value, "unit": unit, "note": note}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
