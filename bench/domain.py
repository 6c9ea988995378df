"""Domain benchmark: the city rules on eventsourcing's in-memory (POPO) store, beside raw eventsourcing.

`run(scale=1.0)` returns rows ``{"system", "operation", "n", "value", "unit", "note"}``:

- petition signatures/s: ``CityApp.sign_petition`` for 100,000 distinct citizens (x scale) into one petition
  (uniqueness by deterministic signature stream id, count from the projection, threshold emitted once);
- votes/s: ``CityApp.cast_vote`` for 1,000,000 votes (x scale) in one approval ballot, 10 % of them revotes,
  then the time to close it (tally of every voter's last vote);
- kindergarten queue of 20,000 entries (x scale, at least 1,000): time to load it (snapshot + tail), to compute
  one group's ordered list, every group's list, and one ``issue_offer`` command end to end;
- peer: raw eventsourcing (``Aggregate`` + ``Application.save`` of one created event per item, same store).
- command latency on SQLite (the ledger's store: a file, the JCS envelope mapper, ``CityApp`` as the API runs it,
  cached petitions and ballots): median and p99 of ``register_kindergarten_entry``, ``grant_benefit`` and
  ``issue_offer`` on a kindergarten queue of 1e3, 1e4 and 1e5 entries (x scale), of ``sign_petition`` on a petition
  with that many signatures and ``cast_vote`` on an open ballot with that many voters; the entries, signatures
  and votes already there are written in batches beforehand (not timed), then one command loads the queue (timed
  apart: snapshot + tail) and the next ones decide on the cached copy. Peer: raw eventsourcing saving one event
  per call on the same kind of store (a SQLite file, SQLAlchemy).

Pseudonymisation (HMAC-SHA256) is included in the domain figures. No persistence other than POPO is used here:
the ledger's own benchmark measures the same commands through SQL and the Merkle log.
"""

from __future__ import annotations

import contextlib
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.app import CityApp
from domain.errors import DuplicateSignature
from domain.identity import Actor, CitizenIdentity, Pseudonymizer
from domain.kindergarten.order import group_order, kindergarten_orders
from domain.kindergarten.rules import CHERNIVTSI_KINDERGARTEN_BENEFITS
from domain.petitions.rules import KYIV
from domain.pii import InMemoryKeyValueStore, PersonalDataVault

Row = dict[str, Any]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
OPERATOR = Actor.system("operator")
CITY = Actor.service("bench.city")
EDU = Actor.service("bench.education")


def _row(system: str, operation: str, n: int, value: float, unit: str, note: str = "") -> Row:
    return {"system": system, "operation": operation, "n": n, "value": value, "unit": unit, "note": note}


def _app() -> CityApp:
    app = CityApp(
        env=POPO,
        pseudonymizer=Pseudonymizer({1: b"b" * 32}),
        vault=PersonalDataVault(InMemoryKeyValueStore(), b"v" * 32),
    )
    app.register_service(by=OPERATOR, service="bench.city", name="City", scopes=["petition:*", "ballot:*"], at=T0)
    app.register_service(by=OPERATOR, service="bench.education", name="Edu", scopes=["queue:kindergarten:*"], at=T0)
    return app


class _Item(Aggregate):
    def __init__(self, petition: str, signer: str) -> None:
        self.petition = petition
        self.signer = signer


def bench_raw(n: int) -> Row:
    app: Application[Any] = Application(env=POPO)
    started = time.perf_counter()
    for i in range(n):
        app.save(_Item(petition="p", signer=str(i)))
    elapsed = time.perf_counter() - started
    return _row("raw eventsourcing", "Aggregate created + save", n, n / elapsed, "items/s", "peer, same POPO store")


def bench_signatures(n: int) -> list[Row]:
    app = _app()
    pid = app.create_petition(
        by=CitizenIdentity("diia:author", "diia"), title="Bench", text="x", rules=dict(KYIV, threshold=n // 2), at=T0
    )
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    citizens = [CitizenIdentity(f"diia:{i}", "diia") for i in range(n)]
    at = T0 + timedelta(days=1)
    gc.collect()
    started = time.perf_counter()
    for c in citizens:
        app.sign_petition(by=c, petition_id=pid, at=at)
    elapsed = time.perf_counter() - started
    assert app.signature_count(pid) == n
    dup_started = time.perf_counter()
    k = min(1000, n)
    for c in citizens[:k]:
        with contextlib.suppress(DuplicateSignature):
            app.sign_petition(by=c, petition_id=pid, at=at)
    dup = time.perf_counter() - dup_started
    return [
        _row("hromada domain", "sign_petition", n, n / elapsed, "signatures/s", "one petition, POPO"),
        _row(
            "hromada domain", "duplicate signature refused", k, dup / k * 1e3, "ms/op", "IntegrityError -> domain error"
        ),
    ]


def bench_votes(n: int) -> list[Row]:
    app = _app()
    options = [{"id": f"o{i}", "title": f"Option {i}"} for i in range(10)]
    bid = app.open_ballot(
        by=CITY,
        title="Bench",
        kind="poll",
        options=options,
        method={"type": "approval", "max_choices": 3},
        opens_at=T0,
        closes_at=T0 + timedelta(days=30),
        eligibility={"identity_methods": ["diia"]},
        at=T0,
    )
    rng = random.Random(1)
    voters = max(1, int(n * 0.9))
    ids = [f"o{i}" for i in range(10)]
    plan = [(i if i < voters else rng.randrange(voters), rng.sample(ids, rng.randint(1, 3))) for i in range(n)]
    identities = [CitizenIdentity(f"diia:{i}", "diia") for i in range(voters)]
    at = T0 + timedelta(days=1)
    gc.collect()
    started = time.perf_counter()
    for who, sel in plan:
        app.cast_vote(by=identities[who], ballot_id=bid, selection=sel, at=at)
    elapsed = time.perf_counter() - started
    close_started = time.perf_counter()
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + timedelta(days=30))
    close = time.perf_counter() - close_started
    assert tally["voters"] == voters
    return [
        _row("hromada domain", "cast_vote (10% revotes)", n, n / elapsed, "votes/s", "one ballot, POPO"),
        _row("hromada domain", "close_ballot (tally)", voters, close, "s", "tally of every voter's last vote"),
    ]


def bench_queue(n: int) -> list[Row]:
    app = _app()
    institutions = [f"k{i}" for i in range(20)]
    q = app.create_kindergarten_queue(by=EDU, name="Bench", institutions=institutions, at=T0)
    queue = app.get_kindergarten_queue(q)
    rng = random.Random(2)
    codes = [b["code"] for b in CHERNIVTSI_KINDERGARTEN_BENEFITS]
    actor = EDU.as_dict()
    build_started = time.perf_counter()
    for i in range(n):
        at = T0 + timedelta(minutes=i)
        entry = queue.register(
            applicant=app.pseudonymizer.citizen(f"diia:{i}"),
            child=app.pseudonymizer.child(f"cert-{i}"),
            child_commitment="sha256:" + f"{i:064x}",
            birth_year=rng.choice([2021, 2022, 2023, 2024]),
            institutions=rng.sample(institutions, 3),
            at=at,
            actor=actor,
        )
        if i % 10 == 0:
            queue.grant_benefit(
                entry=entry, code=rng.choice(codes), document_commitment="sha256:" + f"{i:064x}", at=at, actor=actor
            )
        if len(queue.pending_events) >= 1000:
            with app.sequencer.deciding(at):
                app._save(queue)
    with app.sequencer.deciding(at):
        app._save(queue)
    build = time.perf_counter() - build_started
    version = queue.version
    gc.collect()
    t = time.perf_counter()
    loaded = app.get_kindergarten_queue(q)
    load = time.perf_counter() - t
    t = time.perf_counter()
    events = list(app.events.get(q))
    full: Any = None
    for e in events:
        full = e.mutate(full)
    replay = time.perf_counter() - t
    assert full.state == loaded.state
    t = time.perf_counter()
    one = group_order(loaded.state, "k0", 2023)
    group = time.perf_counter() - t
    t = time.perf_counter()
    orders = kindergarten_orders(loaded.state)
    every = time.perf_counter() - t
    t = time.perf_counter()
    app.issue_offer(by=EDU, queue_id=q, institution="k0", birth_year=2023, place="g1-1", at=T0 + timedelta(days=90))
    offer = time.perf_counter() - t
    note = f"{version} events, snapshot every {CityApp.snapshotting_intervals[type(loaded)]}"
    return [
        _row("hromada domain", "build queue (aggregate, batched saves)", n, build, "s", note),
        _row("hromada domain", "load queue (snapshot + tail)", n, load * 1e3, "ms", note),
        _row("hromada domain", "load queue (full replay, no snapshot)", n, replay * 1e3, "ms", "for comparison"),
        _row("hromada domain", "one group's ordered list", len(one), group * 1e3, "ms", "k0 / 2023"),
        _row("hromada domain", "every group's ordered list", len(orders), every * 1e3, "ms", "groups"),
        _row("hromada domain", "issue_offer end to end", n, offer * 1e3, "ms", "load + decide + save"),
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency_rows(system: str, operation: str, n: int, times: list[tuple[float, float]], note: str) -> list[Row]:
    """Rows for ``(wall, cpu)`` seconds per command: wall median and p99, CPU median (the process's own time,
    without waiting for the disk: the part that would grow with the queue if a command scanned it)."""
    ms = [w * 1e3 for w, _ in times]
    cpu = [c * 1e3 for _, c in times]
    p50, p99 = statistics.median(ms), _percentile(ms, 0.99)
    detail = f"{note}; {len(ms)} commands, max {max(ms):.2f} ms"
    return [
        _row(system, f"{operation} median", n, p50, "ms", detail),
        _row(system, f"{operation} p99", n, p99, "ms", detail),
        _row(system, f"{operation} CPU median", n, statistics.median(cpu), "ms", "process time, no I/O wait"),
    ]


class RawPeer:
    """Raw eventsourcing on its own SQLite file: one ``Application.save`` of one created event, timed between the
    commands measured, so peer and commands see the same disk at the same moments."""

    def __init__(self, path: Path) -> None:
        from ledger.app import persistence_env

        env = {**persistence_env(f"sqlite:///{path}")}
        env.pop("MAPPER_TOPIC")
        self.app: Application[Any] = Application(env=env)
        self.times: list[tuple[float, float]] = []

    def save_one(self) -> None:
        item = _Item(petition="p", signer=str(len(self.times)))
        w, c = time.perf_counter(), time.process_time()
        self.app.save(item)
        self.times.append((time.perf_counter() - w, time.process_time() - c))

    def rows(self, n: int, note: str) -> list[Row]:
        rows = _latency_rows("raw eventsourcing", "save of one event", n, self.times, f"peer: {note}")
        self.times = []
        return rows


def _timed(times: list[tuple[float, float]], peer: RawPeer, command: Callable[..., Any], **kwargs: Any) -> None:
    w, c = time.perf_counter(), time.process_time()
    command(**kwargs)
    times.append((time.perf_counter() - w, time.process_time() - c))
    peer.save_one()


def _sqlite_city(path: Path) -> CityApp:
    from ledger.app import open_application

    app = open_application(
        CityApp,
        database_url=f"sqlite:///{path}",
        origin="bench.hromada.local/ledger",
        pseudonymizer=Pseudonymizer({1: b"b" * 32}),
        vault=PersonalDataVault(InMemoryKeyValueStore(), b"v" * 32),
        single_writer=True,  # as `hromada serve` runs it (api/settings.py aggregate_cache)
    )
    app.register_service(by=OPERATOR, service="bench.city", name="City", scopes=["petition:*", "ballot:*"], at=T0)
    app.register_service(by=OPERATOR, service="bench.education", name="Edu", scopes=["queue:kindergarten:*"], at=T0)
    return app


def bench_queue_commands(path: Path, n: int, k: int) -> list[Row]:
    """Queue commands at a queue of ``n`` entries; see the module docstring."""
    app = _sqlite_city(path)
    peer = RawPeer(path.with_suffix(".raw.db"))
    system = "hromada domain (SQLite)"
    institutions = [f"k{i}" for i in range(20)]
    q = app.create_kindergarten_queue(by=EDU, name="Bench", institutions=institutions, at=T0)
    queue = app.get_kindergarten_queue(q)
    rng = random.Random(3)
    codes = [b["code"] for b in CHERNIVTSI_KINDERGARTEN_BENEFITS]
    actor = EDU.as_dict()
    years = [2021, 2022, 2023, 2024]
    entries = []
    at = T0
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        entries.append(
            queue.register(
                applicant=app.pseudonymizer.citizen(f"diia:{i}"),
                child=app.pseudonymizer.child(f"cert-{i}"),
                child_commitment="sha256:" + f"{i:064x}",
                birth_year=rng.choice(years),
                institutions=rng.sample(institutions, 3),
                at=at,
                actor=actor,
            )
        )
        if len(queue.pending_events) >= 1000:
            with app.sequencer.deciding(at):
                app._save(queue)
    with app.sequencer.deciding(at):
        app._save(queue)
    del queue
    gc.collect()
    clock = [at]

    def tick() -> datetime:
        clock[0] += timedelta(seconds=1)
        return clock[0]

    t = time.perf_counter()  # the first command loads the queue (snapshot + tail) and caches it
    app.register_kindergarten_entry(
        by=CitizenIdentity("diia:first", "diia"), queue_id=q, child_key="first", child_data={"n": "first"},
        birth_year=2023, institutions=["k0"], at=tick(),
    )  # fmt: skip
    cold = time.perf_counter() - t
    rows = [_row(system, "first command (loads the queue: snapshot + tail)", n, cold * 1e3, "ms", "then cached")]
    times: list[tuple[float, float]] = []
    for j in range(k):
        who = CitizenIdentity(f"diia:new-{j}", "diia")
        sample = rng.sample(institutions, 3)
        _timed(
            times, peer, app.register_kindergarten_entry, by=who, queue_id=q, child_key=f"new-{j}",
            child_data={"n": str(j)}, birth_year=rng.choice(years), institutions=sample, at=tick(),
        )  # fmt: skip
    rows += _latency_rows(system, "register_kindergarten_entry", n, times, f"queue of {n:,}")
    times = []
    for entry in rng.sample(entries, k):
        code = rng.choice(codes)
        _timed(
            times, peer, app.grant_benefit, by=EDU, queue_id=q, entry=entry, code=code, document={"doc": entry},
            at=tick(),
        )  # fmt: skip
    rows += _latency_rows(system, "grant_benefit", n, times, f"queue of {n:,}")
    times = []
    for j in range(k):
        inst, year = rng.choice(institutions), rng.choice(years)
        _timed(
            times, peer, app.issue_offer, by=EDU, queue_id=q, institution=inst, birth_year=year, place=f"p{j}",
            at=tick(),
        )  # fmt: skip
    rows += _latency_rows(system, "issue_offer", n, times, f"queue of {n:,}")
    return rows + peer.rows(n, f"between the queue commands at {n:,}")


def bench_sign_and_vote(path: Path, n: int, k: int) -> list[Row]:
    """``sign_petition`` on a petition with ``n`` signatures, ``cast_vote`` on a ballot with ``n`` voters."""
    from domain.ballots.aggregate import VoteRecord
    from domain.petitions.aggregate import Signature

    app = _sqlite_city(path)
    peer = RawPeer(path.with_suffix(".raw.db"))
    system = "hromada domain (SQLite)"
    pid = app.create_petition(
        by=CitizenIdentity("diia:author", "diia"), title="Bench", text="x", rules=dict(KYIV, threshold=10 * n),
        at=T0,
    )  # fmt: skip
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    bid = app.open_ballot(
        by=CITY, title="Bench", kind="poll", options=[{"id": f"o{i}", "title": f"Option {i}"} for i in range(10)],
        method={"type": "approval", "max_choices": 3}, opens_at=T0, closes_at=T0 + timedelta(days=30),
        eligibility={"identity_methods": ["diia"]}, at=T0,
    )  # fmt: skip
    petition, ballot = app.get_petition(pid), app.get_ballot(bid)
    at = T0 + timedelta(hours=1)
    batch: list[Any] = []
    for i in range(n):
        signer = app.pseudonymizer.citizen(f"diia:{i}", petition.state["pseudonym_key"])
        batch.append(
            Signature.sign(
                petition=petition, signer=signer, identity_method="diia", at=at, actor={"kind": "citizen", "id": signer}
            )
        )
        voter = app.voter_pseudonym(ballot, f"diia:{i}")
        batch.append(
            VoteRecord.cast(
                ballot=ballot, voter=voter, selection=["o1"], district=None, identity_method="diia", at=at,
                actor={"kind": "citizen", "id": voter},
            )
        )  # fmt: skip
        if len(batch) >= 1000:
            with app.sequencer.deciding(at):
                app._save(*batch)
            batch = []
    if batch:
        with app.sequencer.deciding(at):
            app._save(*batch)
    assert app.signature_count(pid) == n
    gc.collect()
    times: list[tuple[float, float]] = []
    for j in range(k):
        who = CitizenIdentity(f"diia:new-{j}", "diia")
        _timed(times, peer, app.sign_petition, by=who, petition_id=pid, at=at)
    rows = _latency_rows(system, "sign_petition", n, times, f"petition with {n:,} signatures")
    times = []
    for j in range(k):
        who = CitizenIdentity(f"diia:new-{j}", "diia")
        _timed(times, peer, app.cast_vote, by=who, ballot_id=bid, selection=["o2", "o3"], at=at)
    rows += _latency_rows(system, "cast_vote (open ballot)", n, times, f"ballot with {n:,} voters")
    return rows + peer.rows(n, f"between the signatures and votes at {n:,}")


def bench_command_latency(sizes: tuple[int, ...], k: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hromada-bench-") as tmp:
        for n in sizes:
            rows += bench_queue_commands(Path(tmp) / f"queue-{n}.db", n, k)
            gc.collect()
            rows += bench_sign_and_vote(Path(tmp) / f"petition-{n}.db", n, k)
            gc.collect()
    by_op: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["operation"].endswith(" median"):
            by_op.setdefault(f"{r['system']}|{r['operation']}", {}).setdefault(r["n"], r["value"])
    for key, values in by_op.items():
        system, op = key.split("|")
        lo, hi = min(values), max(values)
        if lo != hi and system.startswith("hromada"):
            rows.append(
                _row(system, f"{op} at {hi:,} / at {lo:,}", hi, values[hi] / values[lo], "x",
                     "flat in size: target <= 1.5")
            )  # fmt: skip
    return rows


def run(scale: float = 1.0) -> list[Row]:
    rows: list[Row] = []
    n_sig = max(100, int(100_000 * scale))
    rows.append(bench_raw(n_sig))
    rows += bench_signatures(n_sig)
    rows += bench_votes(max(100, int(1_000_000 * scale)))
    rows += bench_queue(max(1_000, int(20_000 * scale)))
    sizes = tuple(sorted({max(1_000, int(size * scale)) for size in (1_000, 10_000, 100_000)}))
    rows += bench_command_latency(sizes, k=200 if scale >= 1 else 50)
    return rows


if __name__ == "__main__":
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(r)
