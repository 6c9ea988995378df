"""The cast ballots' proofs shared between the audit's two processes (verifier/voting/precheck.py): the rule worker's
report is the serial one, tamper cases included; the outcomes the main process sends are used; and an outcome made
with other inputs than the worker's (a lying or confused main process) is never taken."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from tests.verifier_rules.builder import ORIGIN, History
from tests.verifier_voting.builder import Encrypted
from verifier.audit import AuditReport, default_steps, run_audit
from verifier.bundle import Bundle
from verifier.note import parse_verifier_key
from verifier.voting import ballot as bal
from verifier.voting import precheck
from verifier.voting.group import base

VOTES = {v: [["o0", "o1"], [f"o{v % 6}"]] if v % 3 == 0 else [[f"o{v % 5}", "o5"]] for v in range(1, 13)}


def _swap(d: dict[str, Any]) -> dict[str, Any]:
    from domain.ballots.crypto.hashing import tracker

    p = d["proofs"]
    d = {**d, "proofs": {**p, "options": [p["options"][1], *p["options"][1:]]}}
    return {**d, "tracker": tracker(d)}


def _change(d: dict[str, Any]) -> dict[str, Any]:
    cts = d["ciphertexts"]
    return {**d, "ciphertexts": [cts[1], *cts[1:]]}


def _bundle(tmp_path: Path) -> Path:
    h = History()
    h.city()
    # bad proofs and changed ciphertexts on casts the main process checks and on casts the worker checks
    tamper = {"cast:2:0": _swap, "cast:3:0": _swap, "cast:4:0": _change, "cast:5:0": _change}
    Encrypted(h, tamper=tamper).run(VOTES)
    return h.write(tmp_path / "b")


def _report(path: Path, rule_worker: bool) -> AuditReport:
    key = parse_verifier_key(factory.make_signer(ORIGIN).verifier_key)
    return run_audit(path, key, offline=True, workers=1, steps=default_steps(rules=True), rule_worker=rule_worker)


def _main_outcomes(monkeypatch: pytest.MonkeyPatch, change: Callable[[precheck.Outcome], Any]) -> None:
    """The main process sends ``change(outcome)`` instead of each outcome it computed (None stays None)."""
    see = precheck.Prechecker.see

    def changed(self: precheck.Prechecker, event: Any) -> precheck.Outcome | None:
        got = see(self, event)
        return None if got is None else change(got)

    monkeypatch.setattr(precheck.Prechecker, "see", changed)


def _comparable(report: AuditReport) -> dict[str, Any]:
    out = report.to_json()
    del out["seconds"], out["events_per_second"]
    return out


@pytest.mark.parametrize("sent_lines", [False, True], ids=["worker_reads", "lines_sent"])
def test_the_rule_worker_with_shared_proof_checks_reports_as_the_serial_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent_lines: bool
) -> None:
    import verifier.parallel as parallel_module
    import verifier.ruleworker as ruleworker_module

    monkeypatch.setattr(parallel_module, "worker_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(ruleworker_module, "RULE_FEED_EVERY", 4)
    if sent_lines:
        monkeypatch.setattr(Bundle, "local", False)
    path = _bundle(tmp_path)
    serial = _report(path, rule_worker=False)
    shared: list[precheck.Outcome] = []

    def keep(got: precheck.Outcome) -> precheck.Outcome:
        shared.append(got)
        return got

    _main_outcomes(monkeypatch, keep)
    parallel = _report(path, rule_worker=True)
    assert _comparable(serial) == _comparable(parallel)
    codes = {f.code for f in parallel.findings()}
    assert {"voting.bad_proof", "voting.changed_ciphertext"} <= codes
    # the main process checked every other cast (16 of them) and sent refusals as well as passes
    assert len(shared) == 8
    assert any(o.refused for o in shared) and any(o.cts for o in shared)


def test_an_outcome_made_with_other_inputs_is_not_taken() -> None:
    st = bal.Statement((0, 1), (1,))
    h = base(5)
    outcome = precheck.Outcome(b"m" * 32, h.enc(), st, cts=((h.hex(), h.hex()),) * 2)
    for index, (manifest, key, statement) in enumerate(
        [(b"x" * 32, h, st), (b"m" * 32, base(6), st), (b"m" * 32, h, bal.Statement((0, 1), (1, 2)))]
    ):
        precheck.offer({index: outcome})
        assert precheck.checked(index, manifest, key, statement) is None  # the worker checks it itself
    precheck.offer({7: outcome})
    assert precheck.checked(7, b"m" * 32, h, st) == [(h, h), (h, h)]
    assert precheck.checked(7, b"m" * 32, h, st) is None  # taken once
    refused = precheck.Outcome(b"m" * 32, h.enc(), st, refused=("proofs.count", "fails"))
    precheck.offer({8: refused})
    with pytest.raises(bal.Refused) as e:
        precheck.checked(8, b"m" * 32, h, st)
    assert e.value.where == "proofs.count"
    precheck.offer({9: outcome})
    precheck.discard(9)
    assert precheck.checked(9, b"m" * 32, h, st) is None


def test_a_lying_main_process_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A main process that says every ballot it checked passed, with the inputs it read off ballot.opened, but
    another key: the worker's election holds the ceremony's key, takes none of it, and reports as the serial audit."""
    import verifier.parallel as parallel_module

    monkeypatch.setattr(parallel_module, "worker_context", lambda: multiprocessing.get_context("fork"))
    path = _bundle(tmp_path)
    serial = _report(path, rule_worker=False)
    _main_outcomes(
        monkeypatch,
        lambda got: precheck.Outcome(got.manifest, base(99).enc(), got.st, cts=((base(1).hex(), base(2).hex()),) * 6),
    )
    assert _comparable(_report(path, rule_worker=True)) == _comparable(serial)


def test_the_worker_takes_an_outcome_made_with_its_own_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the test above: an outcome with the worker's very inputs is what the worker reports (here
    a main process made to refuse every ballot it checks), so the shared checks are really not done twice."""
    import verifier.parallel as parallel_module

    monkeypatch.setattr(parallel_module, "worker_context", lambda: multiprocessing.get_context("fork"))
    path = _bundle(tmp_path)
    serial = _report(path, rule_worker=False)
    refusal = ("proofs.count", "refused by the test")
    _main_outcomes(monkeypatch, lambda got: precheck.Outcome(got.manifest, got.h, got.st, refused=refusal))
    shared = _report(path, rule_worker=True)
    bad = [f for f in shared.findings() if f.code == "voting.bad_proof"]
    assert len(bad) > len([f for f in serial.findings() if f.code == "voting.bad_proof"])
    assert any("refused by the test" in f.message for f in bad)
