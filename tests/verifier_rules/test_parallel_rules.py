"""The parallel audits with the rule steps on - worker processes for step 1's line checks, or the rule steps in
a worker process of their own - give exactly the serial report: every finding, every stat, the exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from tests.verifier_rules.builder import ORIGIN, History
from verifier.audit import AuditReport, default_steps, run_audit
from verifier.note import parse_verifier_key


def _history() -> History:
    h = History()
    h.city()
    pid = h.petition(threshold=3)
    h.publish(pid)
    for n in range(6):
        h.sign(pid, n)
    h.sign(pid, 1, version=2)  # step 4: duplicate signature
    h.sign(pid, 2, stream="0b6e4a4e-8b5b-4d7c-9a5e-3c3f2f7b1a11")  # step 4: stream mismatch
    ballot = h.ballot(method={"type": "approval", "max_choices": 2}, hours=24)
    for v in range(5):
        h.vote(ballot, v, ["a", "b"])
    queue = h.queue(institutions=("k1",))
    for c in range(4):
        h.register_child(queue, c, ("k1",), 2023)
    register = h.register()
    h.register_household(register, 1)
    return h


def _report(path: Path, workers: int, rule_worker: bool = False) -> AuditReport:
    key = parse_verifier_key(factory.make_signer(ORIGIN).verifier_key)
    steps = default_steps(rules=True)
    return run_audit(path, key, offline=True, workers=workers, steps=steps, rule_worker=rule_worker)


def _comparable(report: AuditReport) -> dict[str, Any]:
    out = report.to_json()
    del out["seconds"], out["events_per_second"]
    return out


@pytest.mark.parametrize("mode", ["step1_workers", "rule_worker"])
@pytest.mark.parametrize("damage", ["none", "lines"])
def test_parallel_with_rules_equals_serial(
    tmp_path: Path, damage: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier.audit as audit_module

    monkeypatch.setattr(audit_module, "CHUNK_LINES", 5)
    monkeypatch.setattr(audit_module, "RULE_FEED_EVERY", 3)
    path = _history().write(tmp_path / "b")
    if damage == "lines":
        lines = factory.read_lines(path)
        lines[3] = lines[3].replace(b'"format":1', b'"format":1,"x":2')  # step 1 rejects: not replayed
        lines[8] = lines[8][:-1] + b" }"  # not canonical
        lines[12], lines[13] = lines[13], lines[12]  # order
        big = json.loads(lines[20])
        big["data"]["blob"] = "z" * 70000  # oversize: handled in the main process
        lines[20] = factory.jcs(big)
        del lines[25]
        factory.write_lines(path, lines)
        with (path / "events.jsonl").open("ab") as f:
            f.write(b'{"unterminated":')
    serial = _report(path, 1)
    parallel = _report(path, 2) if mode == "step1_workers" else _report(path, 1, rule_worker=True)
    assert _comparable(serial) == _comparable(parallel)
    assert serial.exit_code == parallel.exit_code
    if damage == "none":
        assert {f.code for f in parallel.findings()} >= {"duplicate_signature", "signature_stream_mismatch"}
    else:
        assert {"extra_field", "not_canonical", "too_large", "truncated"} <= {f.code for f in parallel.findings()}
