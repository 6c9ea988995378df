"""An honest ledger under concurrent writes audits clean, and a writer killed at a random moment loses nothing
it acknowledged: a real `hromada serve` (SQLite and PostgreSQL, with and without `--fronts`), loopback clients
(tests/e2e/load.py)."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.load import Acknowledged, City, load


def _findings(report: dict[str, object]) -> list[object]:
    steps: list[dict[str, list[object]]] = report["steps"]  # type: ignore[assignment]
    return [f for step in steps for f in step["findings"]]


def _bundle_ids(bundle: Path) -> set[str]:
    import json

    return {json.loads(line)["id"] for line in (bundle / "events.jsonl").read_text().splitlines()}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("fronts", [0, 2])
def test_concurrent_signatures_votes_and_revotes_audit_clean(tmp_path: Path, database_url: str, fronts: int) -> None:
    city = City(tmp_path / "city", database_url, fronts=fronts)
    city.start()
    acknowledged = Acknowledged()
    try:
        with httpx.Client(base_url=city.url, timeout=60) as client:
            petition, ballot = city.open_petition_and_ballot(client)
        load(city, petition, ballot, signers=range(600), voters=range(300), revotes=40, acknowledged=acknowledged)
    finally:
        city.stop()
    assert acknowledged.statuses.get(201, 0) >= 600 + 300, acknowledged.statuses
    assert set(acknowledged.statuses) <= {201, 409}, acknowledged.statuses  # 409: a revote that kept conflicting
    report = city.audit(tmp_path / "bundle")
    assert report["exit_code"] == 0 and not _findings(report), _findings(report)[:10]
    assert acknowledged.event_ids <= _bundle_ids(tmp_path / "bundle")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("fronts", [0, 2])
def test_a_writer_killed_at_a_random_moment_loses_nothing_it_acknowledged(
    tmp_path: Path, database_url: str, fronts: int
) -> None:
    seed = int(os.environ.get("HROMADA_CRASH_SEED", str(time.time_ns())))  # a failure names it: rerun with it
    rng = random.Random(seed)
    city = City(tmp_path / "city", database_url, fronts=fronts)
    city.start()
    acknowledged = Acknowledged()
    errors: list[BaseException] = []
    try:
        with httpx.Client(base_url=city.url, timeout=60) as client:
            petition, ballot = city.open_petition_and_ballot(client)
        writing = threading.Thread(
            target=load,
            args=(city, petition, ballot),
            kwargs={
                "signers": range(3000),
                "voters": range(1000),
                "revotes": 40,
                "acknowledged": acknowledged,
                "on_error": errors.append,
            },
        )
        writing.start()
        time.sleep(rng.uniform(0.5, 3.0))
        city.kill()  # with fronts: the writer; its fronts and worker stop with it (PR_SET_PDEATHSIG)
        writing.join(300)
        assert not writing.is_alive()
        before = len(acknowledged.event_ids)
        city.start()  # at once, on the same port
        load(city, petition, ballot, signers=range(3000, 3100), voters=range(0), revotes=0, acknowledged=acknowledged)
        assert len(acknowledged.event_ids) >= before + 100
    finally:
        city.stop()
    report = city.audit(tmp_path / "bundle")
    assert report["exit_code"] == 0 and not _findings(report), (seed, _findings(report)[:10])
    lost = acknowledged.event_ids - _bundle_ids(tmp_path / "bundle")
    assert not lost, (seed, sorted(lost)[:10])
