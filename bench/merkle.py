"""Merkle benchmark: our tile log on SQLite beside pymerkle (SqliteTree) and merkletools, same run.

`run()` returns one dict per measurement::

    {"system", "operation", "n", "value", "unit", "note"}

What is measured (leaf hashes are computed before timing; proofs use random indices/sizes, seed 1):

- ours, append: `append_leaves` into `SqlTileStore` on an SQLite file, batches of 10k leaves, one
  transaction per batch (commit included);
- ours, proofs (median of random samples) at tree size n, read from that file:
  - `warm`: one open connection, a new `TreeReader` per proof (no tile cache);
  - `warm+cache`: as warm, plus a shared `TileCache` (tiles reused across proofs);
  - `cold-conn`: a new SQLite connection per proof (the ledger's `make_engine` with NullPool, so its WAL and
    busy-timeout pragmas run on each connect), no cache; median and p99 of 1,000 proofs;
  - `cold-engine`: make_engine + connect + proof + dispose per proof (SQLAlchemy setup included); median, p99;
- pymerkle 7 `SqliteTree`: `append_entries` in batches of 10k, `prove_inclusion`/`prove_consistency`
  warm (its LRU cache on) and cold (`cache_clear()` before each proof); capped by time budget;
- merkletools 1.0.3 (in memory; not RFC 6962: no 0x00/0x01 domain separation, odd nodes promoted):
  `add_leaf(..., do_hash=True)` + `make_tree`, and `get_proof` (median, p99; it has no consistency proofs).
"""

from __future__ import annotations

import importlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from ledger.db.engine import make_engine
from ledger.db.schema import merkle_tiles, metadata
from ledger.merkle import SqlTileStore, TileCache, append_leaves, consistency_proof, inclusion_proof, leaf_hash

BATCH = 10_000
SAMPLES = 200
COLD_SAMPLES = 1000  # enough for a p99 that is not the single slowest call
Row = dict[str, Any]


def _row(system: str, operation: str, n: int, value: float, unit: str, note: str = "") -> Row:
    return {"system": system, "operation": operation, "n": n, "value": value, "unit": unit, "note": note}


def _timed_ms(fn: Callable[[], object], samples: int, budget_s: float = 30.0) -> list[float]:
    """Wall times of fn() in ms over up to `samples` calls, stopping early after `budget_s`."""
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
        if time.perf_counter() > deadline:
            break
    return times


def _median_ms(fn: Callable[[], object], samples: int, budget_s: float = 30.0) -> tuple[float, int]:
    """Median wall time of fn() in ms over up to `samples` calls, stopping early after `budget_s`."""
    times = _timed_ms(fn, samples, budget_s)
    return statistics.median(times), len(times)


def _p99(times: list[float]) -> float:
    """The 99th percentile (nearest rank) of `times`."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))]


def _latency_rows(system: str, operation: str, n: int, times: list[float], note: str) -> list[Row]:
    """A median and a p99 row for one measured series."""
    k = len(times)
    return [
        _row(system, operation, n, statistics.median(times), "ms median", f"{k} samples, {note}"),
        _row(system, operation, n, _p99(times), "ms p99", f"{k} samples, {note}"),
    ]


def _ours(n: int, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    url = f"sqlite:///{tmp / f'ours_{n}.db'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine, tables=[merkle_tiles])
    hashes = [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]
    size = 0
    t = time.perf_counter()
    for i in range(0, n, BATCH):
        with engine.begin() as conn:
            size = append_leaves(SqlTileStore(conn), size, hashes[i : i + BATCH])
    elapsed = time.perf_counter() - t
    rows.append(_row("ours", "append", n, n / elapsed, "leaves/s", f"SQLite file, batches of {BATCH}, tx each"))
    engine.dispose()

    rng = random.Random(1)

    def incl(store: SqlTileStore, cache: TileCache | None = None) -> None:
        inclusion_proof(store, rng.randrange(n), n, cache=cache)

    def cons(store: SqlTileStore, cache: TileCache | None = None) -> None:
        consistency_proof(store, rng.randrange(1, n), n, cache=cache)

    for name, proof in (("inclusion", incl), ("consistency", cons)):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            store = SqlTileStore(conn)
            ms, k = _median_ms(lambda: proof(store), SAMPLES)  # noqa: B023
            rows.append(_row("ours", f"{name} proof warm", n, ms, "ms median", f"{k} samples, no tile cache"))
            cache = TileCache()
            ms, k = _median_ms(lambda: proof(store, cache), SAMPLES)  # noqa: B023
            rows.append(_row("ours", f"{name} proof warm+cache", n, ms, "ms median", f"{k} samples"))
        engine.dispose()

        cold_engine = make_engine(url, poolclass=NullPool)

        def cold_conn(cold_engine: sa.Engine = cold_engine, proof: Callable[..., None] = proof) -> None:
            with cold_engine.connect() as c:
                proof(SqlTileStore(c))

        times = _timed_ms(cold_conn, COLD_SAMPLES)
        rows += _latency_rows(
            "ours", f"{name} proof cold-conn", n, times, "new connection each (ledger engine: WAL pragmas on connect)"
        )
        cold_engine.dispose()

        def cold_new_engine(proof: Callable[..., None] = proof) -> None:
            e = make_engine(url, poolclass=NullPool)
            with e.connect() as c:
                proof(SqlTileStore(c))
            e.dispose()

        times = _timed_ms(cold_new_engine, COLD_SAMPLES)
        rows += _latency_rows("ours", f"{name} proof cold-engine", n, times, "new engine + connection each")
    return rows


def _pymerkle(n: int, tmp: Path, append_budget_s: float) -> list[Row]:
    from pymerkle import SqliteTree

    tree = SqliteTree(str(tmp / f"pymerkle_{n}.db"))
    entries = [i.to_bytes(8, "big") for i in range(n)]
    t = time.perf_counter()
    done = 0
    for i in range(0, n, BATCH):
        tree.append_entries(entries[i : i + BATCH])
        done = min(n, i + BATCH)
        if time.perf_counter() - t > append_budget_s and done < n:
            break
    elapsed = time.perf_counter() - t
    rows = [
        _row("pymerkle", "append", done, done / elapsed, "leaves/s", f"SqliteTree.append_entries, batches of {BATCH}")
    ]
    if done < n:
        rows[0]["note"] += f"; stopped at {done} of {n} (time budget {append_budget_s:.0f}s)"
    size = done
    rng = random.Random(1)

    def incl() -> None:
        tree.prove_inclusion(rng.randrange(1, size + 1), size)

    def cons() -> None:
        tree.prove_consistency(rng.randrange(1, size), size)

    for name, fn in (("inclusion", incl), ("consistency", cons)):
        tree.cache_clear()
        ms, k = _median_ms(fn, SAMPLES, budget_s=30)
        rows.append(_row("pymerkle", f"{name} proof warm", size, ms, "ms median", f"{k} samples, its LRU cache on"))

        def cold(fn: Callable[[], None] = fn) -> None:
            tree.cache_clear()
            fn()

        ms, k = _median_ms(cold, SAMPLES, budget_s=30)
        rows.append(_row("pymerkle", f"{name} proof cold", size, ms, "ms median", f"{k} samples, cache_clear() each"))
    tree.close()
    return rows


def _merkletools(n: int) -> list[Row]:
    shim = str(Path(__file__).resolve().parent / "_shims")
    sys.path.insert(0, shim)
    try:
        merkletools = importlib.import_module("merkletools")
    finally:
        sys.path.remove(shim)
    mt = merkletools.MerkleTools(hash_type="sha256")
    values = [i.to_bytes(8, "big").hex() for i in range(n)]
    t = time.perf_counter()
    mt.add_leaf(values, do_hash=True)
    mt.make_tree()
    elapsed = time.perf_counter() - t
    rows = [_row("merkletools", "add_leaf+make_tree", n, n / elapsed, "leaves/s", "in memory, not RFC 6962")]
    rng = random.Random(1)
    times = _timed_ms(lambda: mt.get_proof(rng.randrange(n)), COLD_SAMPLES)
    rows += _latency_rows("merkletools", "inclusion proof (get_proof)", n, times, "in memory (no consistency proofs)")
    root = mt.get_merkle_root()
    idx = rng.randrange(n)
    ok = mt.validate_proof(mt.get_proof(idx), mt.get_leaf(idx), root)
    rows.append(_row("merkletools", "proof validates", n, float(ok), "bool", "sha3 shim used: hashlib only"))
    return rows


def run(sizes: tuple[int, ...] = (100_000, 1_000_000), *, pymerkle_budget_s: float = 120.0) -> list[Row]:
    """Measure everything at each size (see the module docstring); return the rows."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n in sizes:
            rows += _ours(n, tmp)
            rows += _pymerkle(n, tmp, pymerkle_budget_s)
            rows += _merkletools(n)
    return rows


def main() -> None:
    """Print the rows as an aligned table."""
    sizes = tuple(int(a) for a in sys.argv[1:]) or (100_000, 1_000_000)
    for r in run(sizes):
        print(f"{r['system']:<12} {r['operation']:<32} n={r['n']:>9,} {r['value']:>14,.3f} {r['unit']:<10} {r['note']}")


if __name__ == "__main__":
    main()
