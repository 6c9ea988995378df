"""Audit benchmark: `hromada-verify audit` throughput and peak memory on factory-made bundles.

``run(n_events)`` returns one dict for one size::

    {"n": ..., "events_per_s": ..., "cpu_events_per_s": ..., "seconds": ..., "peak_rss_mb": ..., "verified": ...}

``run(sizes=(...))`` (what ``python -m bench`` calls) returns rows ``{"system", "operation", "n", "value", "unit",
"note"}`` for each size, beside a peer measured in the same run: the naive per-line check that canonicalises
every line with ``rfc8785`` (plus SHA-256), i.e. what the verifier would cost without its fast path. Up to 1e5
events it also audits the lawful bundle through its ledger URL (``verifier/remote.py``), served in process with a
simulated round trip per request, fetching ahead and, as the peer, one request at a time.

Each audit runs in a fresh child process, and reports its peak RSS as ``VmHWM`` from ``/proc/self/status`` (reset
by ``exec``), falling back to ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` elsewhere (on Linux that value is
inherited across fork+exec, so it would include the parent's size). Bundles come from
``tests/verifier/factory.py``, are generated in a separate process and cached under ``.bench/`` keyed by size and
the factory's source hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
Row = dict[str, Any]

_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from verifier.audit import default_steps, run_audit
from verifier.note import parse_verifier_key
bundle, key, mode, workers = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
wall, cpu = time.perf_counter(), time.process_time()
if mode in ("audit", "audit-rules"):  # steps 1-2 only, or 1-2 + rule replay + authorisation (4, 5)
    steps = default_steps(rules=mode == "audit-rules")
    report = run_audit(bundle, parse_verifier_key(key), offline=True, workers=workers, steps=steps)
    events, ok = report.events, report.verified
elif mode.startswith("url"):  # the full audit of the bundle served as a ledger (verifier/remote.py), in process
    import httpx
    from verifier import remote
    from verifier.merkle import leaf_hash, root_of
    remote.FETCH_AHEAD = int(mode.split(":")[1])
    rtt = float(mode.split(":")[2]) / 1000
    lines = open(bundle + "/events.jsonl", "rb").read().split(b"\n")[:-1]
    log = json.load(open(bundle + "/log.json"))
    routes = {"/checkpoint": open(f"{bundle}/checkpoints/{len(lines)}", "rb").read(),
              "/v1/log": json.dumps({"verifier_key": log["verifier_key"]}).encode()}
    for i in range(0, len(lines), 256):
        part = lines[i:i + 256]
        routes["/" + remote.entries_path(i // 256, len(part))] = b"".join(len(x).to_bytes(2, "big") + x for x in part)
    level, hashes = 0, [leaf_hash(x) for x in lines]
    while hashes:  # every hash tile, full and partial, at every level (C2SP tlog-tiles)
        above = []
        for i in range(0, len(hashes), 256):
            tile = hashes[i:i + 256]
            routes["/" + remote.tile_path(level, i // 256, len(tile))] = b"".join(tile)
            if len(tile) == 256:
                above.append(root_of(tile))
        hashes, level = above, level + 1
    del lines

    def answer(request):
        time.sleep(rtt)  # one round trip per request, as to a remote ledger
        body = routes.get(request.url.path)
        return httpx.Response(404) if body is None else httpx.Response(200, content=body)

    source = remote.LedgerSource("http://ledger.test", client=httpx.Client(transport=httpx.MockTransport(answer)))
    wall, cpu = time.perf_counter(), time.process_time()
    report = run_audit(source, parse_verifier_key(key), offline=True, workers=workers,
                       steps=default_steps(rules=True))
    source.close()
    events, ok = report.events, report.verified
else:  # naive peer: rfc8785 re-canonicalisation + leaf hash per line
    import hashlib, rfc8785
    events, ok = 0, True
    with open(bundle + "/events.jsonl", "rb") as f:
        for line in f:
            raw = line[:-1]
            ok &= rfc8785.dumps(json.loads(raw)) == raw
            hashlib.sha256(b"\x00" + raw).digest()
            events += 1
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    rss_kb = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
except (OSError, StopIteration):
    pass
# The rule worker's (--workers 0) peak RSS is polled from outside by the bench (no thread here: the audit forks its
# worker only from a single-threaded process); RUSAGE_CHILDREN's ru_maxrss is the fallback (an upper bound: a forked
# child's counts start from this process's size).
children = resource.getrusage(resource.RUSAGE_CHILDREN)
child_kb, child_cpu = children.ru_maxrss, children.ru_utime + children.ru_stime
print(json.dumps({"events": events, "seconds": wall, "cpu": cpu, "rss_kb": rss_kb, "child_rss_kb": child_kb,
                  "child_cpu": child_cpu, "verified": bool(ok)}))
"""


_GENERATE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from tests.verifier import factory
path, n = Path(sys.argv[2]), int(sys.argv[3])
step = max(1, n // 8)
info = factory.write_bundle(path, n=n, checkpoint_sizes=range(step, n + 1, step), exotic=False)
(path / "verifier.key").write_text(info.key)
"""


def _bundle(n: int) -> tuple[Path, str]:
    """A cached factory bundle with n events (a checkpoint every n/8 events) and its verifier key."""
    digest = hashlib.sha256((ROOT / "tests" / "verifier" / "factory.py").read_bytes()).hexdigest()[:12]
    path = CACHE / f"audit-bundle-{n}-{digest}"
    key_file = path / "verifier.key"
    if not key_file.exists():
        subprocess.run([sys.executable, "-c", _GENERATE, str(ROOT), str(path), str(n)], check=True)
    return path, key_file.read_text()


_PUBLISH_STATE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from verifier.audit import default_steps, run_audit
from verifier.note import parse_verifier_key
from verifier.rules.steps import RuleReplayStep
src, dst, key = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
steps = default_steps(rules=True)
replay = steps[3]
assert isinstance(replay, RuleReplayStep)
states = []
replay._compare_state = lambda ctx: states.append(replay.replay.public_state())
run_audit(src, parse_verifier_key(key), offline=True, steps=steps, workers=1)
(dst / "state.json").write_text(json.dumps(states[0], indent=2, sort_keys=True), encoding="utf-8")
"""


def _with_state(path: Path, key: str) -> Path:
    """The lawful bundle with its replayed public state published as ``state.json`` (as ``hromada export``
    writes it: sorted keys, indented), so step 4's comparison runs in full; cached beside it. The state comes from
    the verifier's own serial replay: this measures the comparison's cost, not whether it is right (the tests do)."""
    out = path.with_name(path.name + "-state")
    if out.exists() and any(p.is_symlink() for p in out.iterdir()):  # made by an older bench: the verifier refuses
        shutil.rmtree(out)  # a bundle's symbolic links (docs/audit.md, "Limits on hostile input")
    if not (out / "state.json").exists():
        out.mkdir(exist_ok=True)
        for member in path.iterdir():  # hard links (regular files), copies across file systems
            if member.name != "state.json" and not (out / member.name).exists():
                if member.is_dir():
                    shutil.copytree(member, out / member.name, copy_function=_link)
                else:
                    _link(str(member), str(out / member.name))
        subprocess.run([sys.executable, "-c", _PUBLISH_STATE, str(ROOT), str(path), str(out), key], check=True)
    return out


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _lawful_bundle(n: int) -> tuple[Path, str]:
    """A cached lawful city-like bundle (bench/lawful.py) with about n events, and its verifier key."""
    sources = b"".join(
        (ROOT / p).read_bytes()
        for p in ("bench/lawful.py", "tests/verifier_rules/builder.py", "tests/verifier/factory.py")
    )
    path = CACHE / f"lawful-bundle-{n}-{hashlib.sha256(sources).hexdigest()[:12]}"
    if not (path / "log.json").exists():
        subprocess.run([sys.executable, "-m", "bench.lawful", str(path), str(n)], check=True, cwd=ROOT)
    return path, str(json.loads((path / "log.json").read_text())["verifier_key"])


def _peak_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        return None


def _child(path: Path, key: str, mode: str, workers: int = 1) -> dict[str, Any]:
    """Runs one audit in a fresh process; meanwhile polls the peak RSS (VmHWM) of that process's children (the rule
    worker) every 50 ms from here (the last reading may miss a final rise of less than 50 ms)."""
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ROOT), str(path), key, mode, str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        worker_hwm_kb: dict[str, int] = {}
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    pids = f.read().split()
            except OSError:
                pids = []
            for pid in pids:
                kb = _peak_rss_kb(int(pid))
                if kb is not None:
                    worker_hwm_kb[pid] = max(worker_hwm_kb.get(pid, 0), kb)
            time.sleep(0.05)
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, out, err)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if worker_hwm_kb:  # measured (the waited child's ru_maxrss can include what it inherited from its parent)
        result["child_rss_kb"] = max(worker_hwm_kb.values())
    return result


def measure(n_events: int, workers: int = 1) -> dict[str, Any]:
    path, key = _bundle(n_events)
    r = _child(path, key, "audit", workers)
    return {
        "n": r["events"],
        "events_per_s": r["events"] / r["seconds"],
        "cpu_events_per_s": r["events"] / r["cpu"] if r["cpu"] else 0.0,
        "seconds": r["seconds"],
        "peak_rss_mb": r["rss_kb"] / 1024,
        "verified": r["verified"],
        "workers": workers,
    }


@overload
def run(n_events: int) -> dict[str, Any]: ...
@overload
def run(n_events: None = None, sizes: Sequence[int] = ...) -> list[Row]: ...
def run(n_events: int | None = None, sizes: Sequence[int] = (100_000, 1_000_000)) -> dict[str, Any] | list[Row]:
    """``run(n)``: one measurement as a dict. ``run(sizes=...)``: rows for ``python -m bench``."""
    if n_events is not None:
        return measure(n_events)
    rows: list[Row] = []
    for n in sizes:
        started = time.perf_counter()
        m = measure(n)
        note = "verified" if m["verified"] else "NOT VERIFIED (bug)"
        rows.append(_row("hromada-verify", "audit (steps 1-2)", n, m["events_per_s"], "events/s", note))
        lawful, lawful_key = _lawful_bundle(n)
        full = _child(lawful, lawful_key, "audit-rules")
        rows.append(
            _row(
                "hromada-verify",
                "full audit (steps 1, 2, 4, 5)",
                full["events"],
                full["events"] / full["seconds"],
                "events/s",
                ("verified" if full["verified"] else "NOT VERIFIED (bug)")
                + f"; lawful city-like bundle, offline; CPU-time rate {full['events'] / full['cpu']:,.0f}/s",
            )
        )
        rows.append(_row("hromada-verify", "full audit peak RSS", full["events"], full["rss_kb"] / 1024, "MiB", ""))
        if (os.cpu_count() or 1) > 1:  # --workers 0: the rule steps in one worker process of their own
            rw = _child(lawful, lawful_key, "audit-rules", 0)
            note = "verified" if rw["verified"] else "NOT VERIFIED (bug)"
            note += f"; CPU s: main {rw['cpu']:.1f}, worker {rw.get('child_cpu', 0):.1f}"
            rows.append(
                _row(
                    "hromada-verify",
                    "full audit, rule worker",
                    rw["events"],
                    rw["events"] / rw["seconds"],
                    "events/s",
                    note + "; --workers 0: the worker replays queues, housing, ballots",
                )
            )
            rows.append(
                _row(
                    "hromada-verify",
                    "full audit, rule worker: peak RSS main + worker",
                    rw["events"],
                    (rw["rss_kb"] + rw.get("child_rss_kb", 0)) / 1024,
                    "MiB",
                    f"main {rw['rss_kb'] / 1024:.0f}, worker {rw.get('child_rss_kb', 0) / 1024:.0f}",
                )
            )
            published = _with_state(lawful, lawful_key)
            size = (published / "state.json").stat().st_size / 1e6
            ps = _child(published, lawful_key, "audit-rules", 0)
            note = "verified" if ps["verified"] else "NOT VERIFIED (bug)"
            rows.append(
                _row(
                    "hromada-verify",
                    "full audit, rule worker, state.json published",
                    ps["events"],
                    ps["events"] / ps["seconds"],
                    "events/s",
                    f"{note}; the replayed state published ({size:.1f} MB), compared streaming",
                )
            )
            rows.append(
                _row(
                    "hromada-verify",
                    "full audit, state.json published: peak RSS main + worker",
                    ps["events"],
                    (ps["rss_kb"] + ps.get("child_rss_kb", 0)) / 1024,
                    "MiB",
                    f"main {ps['rss_kb'] / 1024:.0f}, worker {ps.get('child_rss_kb', 0) / 1024:.0f}",
                )
            )
        rows.append(_row("hromada-verify", "audit CPU-bound rate", n, m["cpu_events_per_s"], "events/s", ""))
        rows.append(_row("hromada-verify", "audit peak RSS", n, m["peak_rss_mb"], "MiB", "child process"))
        cpus = os.cpu_count() or 1
        if cpus > 1:
            p = measure(n, workers=cpus)
            rows.append(_row("hromada-verify", f"audit, {cpus} worker processes", n, p["events_per_s"], "events/s", ""))
            rows.append(_row("hromada-verify", "audit peak RSS (main)", n, p["peak_rss_mb"], "MiB", "workers extra"))
        path, key = _bundle(n)
        peer = _child(path, key, "naive")
        rows.append(
            _row(
                "naive rfc8785 loop",
                "re-canonicalise + hash",
                n,
                peer["events"] / peer["seconds"],
                "events/s",
                "peer: rfc8785.dumps per line, no other checks",
            )
        )
        rows.append(_row("naive rfc8785 loop", "peak RSS", n, peer["rss_kb"] / 1024, "MiB", ""))
        if n <= URL_MAX_EVENTS:
            rows.extend(_url_rows(lawful, lawful_key))
        print(f"  audit n={n}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


#: The ledger-URL audit is measured up to this size (one request at a time, 1e6 events would take ~3 min).
URL_MAX_EVENTS = 100_000
URL_RTT_MS = 20


def _url_rows(lawful: Path, key: str) -> list[Row]:
    """The full audit of the lawful bundle served as a ledger through an in-process transport that waits
    ``URL_RTT_MS`` per request (a remote ledger's round trip), fetching ahead (the default) and, as the peer, one
    request at a time."""
    from verifier.remote import FETCH_AHEAD

    rows = []
    for ahead, what in ((FETCH_AHEAD, f"{FETCH_AHEAD} bundles ahead"), (0, "peer: one request at a time")):
        r = _child(lawful, key, f"url:{ahead}:{URL_RTT_MS}", 0)
        note = "verified" if r["verified"] else "NOT VERIFIED (bug)"
        rows.append(
            _row(
                "hromada-verify" if ahead else "sequential ledger client",
                f"full audit by URL, {URL_RTT_MS} ms per request",
                r["events"],
                r["events"] / r["seconds"],
                "events/s",
                f"{note}; {what}; --workers 0",
            )
        )
    return rows


def _row(system: str, operation: str, n: int, value: float, unit: str, note: str = "") -> Row:
    return {"system": system, "operation": operation, "n": n, "value": value, "unit": unit, "note": note}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(run(n), indent=2))
