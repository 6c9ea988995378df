"""The parallel audits with the rule steps on - worker processes for step 1's line checks, or the rule steps in
a worker process of their own - give exactly the serial report: every finding, every stat, the exit code."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from tests.verifier_rules.builder import BALLOT_RULES, HOUSING_RULES, KG_RULES, ORIGIN, History
from verifier.audit import AuditReport, default_steps, run_audit
from verifier.bundle import Bundle
from verifier.note import parse_verifier_key
from verifier.rules.steps import RuleReplayStep


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
        h.sign(pid, 1, version=3 + c)  # step 4 findings of the main process between the rule worker's
    entry = h.register_child(queue, 9, ("k1",), 2023)
    h.grant(queue, entry, basis="no such statute")  # step 4 in the rule worker: benefit_basis_mismatch
    copied = h.events[-1]["data"]["document_commitment"]
    h.grant(queue, h.register_child(queue, 10, ("k1",), 2023), document=copied)  # document_commitment_reused
    h.sign(pid, 1, version=7)
    h.offer(queue, entry, birth_year=2024)  # offer_out_of_turn, rule worker
    register = h.register()
    h.register_household(register, 1)
    h.register_household(register, 1)  # duplicate_applicant, rule worker
    # rule sets: replayed by both processes, reported by the main one; the queues and ballots naming them are the
    # rule worker's, and report their own findings
    h.legal()
    h.rule_set("kg", "kindergarten", KG_RULES)
    h.rule_set("homes", "housing", HOUSING_RULES)
    h.rule_set("polls", "ballot", BALLOT_RULES)
    h.rule_set("kg", "kindergarten", KG_RULES, version=2, stream="7d0c4d55-8a1e-4b8e-9d77-1f3c2a9e5b10")  # main
    h.queue(rule_set={"name": "kg", "version": 1})  # lawful
    h.queue(acceptance_days=3, rule_set={"name": "kg", "version": 1})  # ruleset_mismatch, rule worker
    h.rule_set("kg", "kindergarten", KG_RULES, version=1)  # ruleset_republished, main
    h.register()  # ruleset_missing, rule worker
    h.ballot(rule_set={"name": "polls", "version": 2})  # ruleset_unpublished, rule worker
    h.ballot(rule_set={"name": "polls", "version": 1})  # lawful
    h.rule_set("homes", "housing", {**HOUSING_RULES, "removal_reasons": []}, version=2)  # ruleset_malformed, main
    h.register(rule_set={"name": "homes", "version": 2})  # ruleset_mismatch (its own tables), rule worker
    return h


def _report(path: Path, workers: int, rule_worker: bool = False, state_of: bool = False) -> Any:
    key = parse_verifier_key(factory.make_signer(ORIGIN).verifier_key)
    steps = default_steps(rules=True)
    if state_of:  # the replayed public state, with one value changed in the petitions and the housing parts
        replay = steps[3]
        assert isinstance(replay, RuleReplayStep)
        states: list[dict[str, Any]] = []
        replay._compare_state = lambda ctx: states.append(replay.replay.public_state())  # type: ignore[method-assign]
        run_audit(path, key, offline=True, steps=steps)
        state = states[0]
        first = next(iter(state["petitions"].values()))
        first["signatures"] += 1
        state["housing"]["extra"] = {}
        return state
    return run_audit(path, key, offline=True, workers=workers, steps=steps, rule_worker=rule_worker)


def _comparable(report: AuditReport) -> dict[str, Any]:
    out = report.to_json()
    del out["seconds"], out["events_per_second"]
    return out


@pytest.mark.parametrize("cap", [200, 3])
@pytest.mark.parametrize(
    "mode", ["step1_workers", "step1_workers_spawned", "rule_worker", "rule_worker_spawned", "rule_worker_sent_lines"]
)
@pytest.mark.parametrize("damage", ["none", "lines"])
def test_parallel_with_rules_equals_serial(
    tmp_path: Path, damage: str, mode: str, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier.parallel as parallel_module
    import verifier.report as report_module
    import verifier.ruleworker as ruleworker_module

    # the workers forked (what a single-threaded auditor gets on Linux), or spawned (another thread runs)
    start = "spawn" if mode.endswith("_spawned") else "fork"
    monkeypatch.setattr(parallel_module, "worker_context", lambda: multiprocessing.get_context(start))
    pools: list[str] = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, max_workers: int, mp_context: Any) -> None:
            pools.append(mp_context.get_start_method())
            super().__init__(max_workers=max_workers, mp_context=mp_context)

    monkeypatch.setattr(parallel_module, "ProcessPoolExecutor", Pool)
    if mode == "rule_worker_sent_lines":  # as for a ledger read over the network: the worker gets the lines sent
        monkeypatch.setattr(Bundle, "local", False)
    monkeypatch.setattr(report_module, "MAX_FINDINGS_PER_STEP", cap)  # 3: the capped lists are merged right
    monkeypatch.setattr(parallel_module, "CHUNK_LINES", 5)
    monkeypatch.setattr(ruleworker_module, "RULE_FEED_EVERY", 3)
    history = _history()
    path = history.write(tmp_path / "b")
    if damage == "none":  # a published state that differs from the replay in a part of each process
        published = _report(path, 1, state_of=True)
        (path / "state.json").write_text(json.dumps(published), encoding="utf-8")
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
    step1_workers = mode.startswith("step1_workers")
    parallel = _report(path, 2) if step1_workers else _report(path, 1, rule_worker=True)
    assert pools == ([start] if step1_workers else [])
    if not step1_workers:
        assert parallel_module.worker_context().get_start_method() == start
    assert _comparable(serial) == _comparable(parallel)
    assert serial.exit_code == parallel.exit_code
    if damage == "none" and cap > 3:
        codes = [f.code for f in parallel.findings()]
        assert set(codes) >= {"duplicate_signature", "signature_stream_mismatch", "state_mismatch"}
        assert {
            "benefit_basis_mismatch",
            "offer_out_of_turn",
            "duplicate_applicant",
            "document_commitment_reused",
        } <= set(codes)
        rule_sets = [c for c in codes if c.startswith("ruleset_")]  # each once, in log order across the processes
        assert rule_sets == [
            "ruleset_stream_mismatch",
            "ruleset_mismatch",
            "ruleset_republished",
            "ruleset_missing",
            "ruleset_unpublished",
            "ruleset_malformed",
            "ruleset_mismatch",
        ]
        # log order across the two processes: main, worker, main, worker
        worker_first = codes.index("benefit_basis_mismatch")
        assert (
            codes.index("duplicate_signature")
            < worker_first
            < max(i for i, c in enumerate(codes) if c == "duplicate_signature")
        )
    elif damage == "lines" and cap > 3:
        assert {"extra_field", "not_canonical", "too_large", "truncated"} <= {f.code for f in parallel.findings()}


@pytest.mark.parametrize("state", ["{}", "not json", None])
def test_rule_worker_with_an_empty_unreadable_or_absent_state(tmp_path: Path, state: str | None) -> None:
    path = _history().write(tmp_path / "b")
    if state is not None:
        (path / "state.json").write_text(state, encoding="utf-8")
    serial, parallel = _report(path, 1), _report(path, 1, rule_worker=True)
    assert _comparable(serial) == _comparable(parallel)
    step4 = parallel.steps[3]
    assert step4.stats["state_json"] if state != "not json" else "state_unreadable" in {f.code for f in step4.findings}


def test_the_rule_worker_is_forked_only_from_a_single_threaded_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork while another thread runs (e.g. a progress bar's refresher) could copy a lock that thread holds,
    held forever in the child: then the worker is spawned (a fresh interpreter) instead."""
    import verifier.parallel as parallel_module

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert parallel_module.worker_context().get_start_method() == "fork"
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert parallel_module.worker_context().get_start_method() == "spawn"
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # e.g. Windows
    assert parallel_module.worker_context().get_start_method() == "spawn"


@pytest.mark.parametrize("local", [True, False])
@pytest.mark.parametrize("fail_at", [0, 5])
def test_a_failing_rule_worker_stops_the_audit_with_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int, local: bool
) -> None:
    """The worker fails at its first line (the main process then finds it gone while sending) or at a later one,
    reading the bundle itself or getting the lines sent; the audit stops with the worker's own traceback, not a
    broken pipe or a hang."""
    import verifier.parallel as parallel_module
    import verifier.ruleworker as ruleworker_module

    monkeypatch.setattr(Bundle, "local", local)

    monkeypatch.setattr(parallel_module, "worker_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(ruleworker_module, "RULE_FEED_EVERY", 1)
    real = ruleworker_module.parse_accepted
    parsed: list[bytes] = []

    def parse(line: bytes, origin: str | None) -> dict[str, Any]:
        if len(parsed) == fail_at:
            raise ValueError("the worker broke here")
        parsed.append(line)
        return real(line, origin)

    monkeypatch.setattr(ruleworker_module, "parse_accepted", parse)  # the forked worker inherits it
    path = _history().write(tmp_path / "b")
    with pytest.raises(RuntimeError, match=r"(?s)rule worker process failed.*the worker broke here"):
        _report(path, 1, rule_worker=True)


@pytest.mark.parametrize("mode", ["rule_worker", "rule_worker_sent_lines", "step1_workers"])
@pytest.mark.parametrize("packed", ["directory", "tar.gz"])
def test_parallel_audits_stop_at_the_signed_size_as_the_serial_one(
    tmp_path: Path, mode: str, packed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines beyond the largest signed tree size are read by no process (the rule worker reads its own copy of
    events.jsonl, from the archive's spool for a .tar.gz), and the report is the serial one."""
    import verifier.parallel as parallel_module
    import verifier.ruleworker as ruleworker_module

    if mode == "rule_worker_sent_lines":
        monkeypatch.setattr(Bundle, "local", False)
    monkeypatch.setattr(parallel_module, "CHUNK_LINES", 5)
    monkeypatch.setattr(ruleworker_module, "RULE_FEED_EVERY", 3)
    path = _history().write(tmp_path / "b")
    lines = factory.read_lines(path)
    factory.write_lines(path, lines + lines[-5:] + [b""] * 1000)  # replayed, they would be duplicates
    source = factory.make_tar(path, tmp_path / "b.tar.gz") if packed == "tar.gz" else path
    serial = _report(source, 1)
    parallel = _report(source, 2) if mode == "step1_workers" else _report(source, 1, rule_worker=True)
    assert _comparable(serial) == _comparable(parallel)
    assert serial.events == len(lines)
    assert {"beyond_signed_size", "event_count"} <= {f.code for f in parallel.findings()}
