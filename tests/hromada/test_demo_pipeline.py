"""The demo's citizens act at once (hromada/pipeline.py through the ledger's group committer) and still write the
log they would write one after the other: the same events, in the same order, at the same times, with the same
checkpoints. What differs between two runs anyway (hashes and keys: commitments behind the vault's random salts,
the encrypted budget's keys, proofs and ciphertexts) is left out of the comparison, and ids drawn at random (a
petition's, a ballot's, and those derived from them) are compared by where they first appear; the pseudonym keys
are the same in both."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hromada.demo import Demo
from ledger.config import Settings
from ledger.runtime import Ledger

KEYS = f"1={'cd' * 32}"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|vot:v1:[0-9a-f]{64}")
HEX = re.compile(r"[0-9a-f]{32,}")


def _log(tmp: Path, concurrency: int) -> tuple[list[Any], list[int]]:
    with Ledger(Settings(data_dir=tmp, pseudonym_keys=KEYS)) as ledger:
        ledger.app.hot.enabled = True  # type: ignore[attr-defined]  # the one writer, as `hromada demo` runs
        report = Demo(ledger, events=300, seed=1, secret_ballot=True, concurrency=concurrency).run()
        rows = ledger.app.recorder.select_notifications(start=1, limit=100_000)
        assert ledger.app.recorder.insert_events.__self__ is ledger.app.recorder  # the committer was removed
    log = []
    ids: dict[str, str] = {}
    for r in rows:
        e = json.loads(r.state)
        line = json.dumps([e["type"], e["stream"], e["version"], e["time"], e["actor"], e["data"]], sort_keys=True)
        line = UUID.sub(lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"), line)
        log.append(HEX.sub("hex", line))  # salted commitments, the encrypted budget's keys and proofs: random
    return log, report.checkpoints


def test_concurrent_citizens_write_the_log_of_the_sequential_ones(tmp_path: Path) -> None:
    one_by_one, cps_1 = _log(tmp_path / "one", concurrency=1)
    at_once, cps_16 = _log(tmp_path / "many", concurrency=16)
    assert cps_1 == cps_16
    assert len(at_once) == len(one_by_one) == cps_1[-1]
    for i, (a, b) in enumerate(zip(one_by_one, at_once, strict=True)):
        assert a == b, f"event {i} differs"
