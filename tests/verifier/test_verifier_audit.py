"""The audit against a factory-made bundle: a good bundle passes; each tamper is caught by the right step with
the right diagnosis (docs/audit.md, tamper matrix)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from verifier.audit import AuditReport, EnvelopeStep, Status, default_steps, run_audit
from verifier.errors import UnreadableInput
from verifier.note import parse_verifier_key

N = 60


@pytest.fixture
def bundle(tmp_path: Path) -> factory.BundleInfo:
    return factory.write_bundle(tmp_path / "bundle", n=N, checkpoint_sizes=[1, 15, 30, 45])


def audit(info: factory.BundleInfo, key: str | None = "own", **kw: Any) -> AuditReport:
    trusted = parse_verifier_key(info.key if key == "own" else key) if key else None
    return run_audit(info.path, trusted, **kw)


def found(report: AuditReport) -> set[tuple[int, str]]:
    return {(f.step, f.code) for f in report.findings()}


def finding(report: AuditReport, code: str) -> Any:
    return next(f for f in report.findings() if f.code == code)


def step(report: AuditReport, number: int) -> Any:
    return next(s for s in report.steps if s.number == number)


# --- good bundles ------------------------------------------------------------------------------------------------
def test_good_bundle_directory_passes(bundle: factory.BundleInfo) -> None:
    report = audit(bundle)
    assert report.verified and report.exit_code == 0, [f.describe() for f in report.findings()]
    assert report.events == N
    assert step(report, 1).status is Status.PASSED
    assert step(report, 2).status is Status.PASSED
    assert step(report, 2).stats["checkpoint_sizes_matching"] == [1, 15, 30, 45, 60]
    assert not report.complete
    assert {s.number: s.status for s in report.steps if s.status is Status.NOT_RUN} == {
        3: Status.NOT_RUN,
        4: Status.NOT_RUN,
        5: Status.NOT_RUN,
    }
    assert "not a domain history" in (step(report, 4).reason or "")
    # no anchors were checked: the operator could have rewritten and re-signed it all, and the report says so
    [warning] = report.warnings
    assert warning.startswith("OPERATOR REWRITE NOT CHECKED: step 3 (anchors) was NOT RUN (no --rpc URL given")
    assert not report.rewrite.checked and report.to_json()["operator_rewrite"]["checked"] is False


@pytest.mark.parametrize("top", ["bundle", None])
def test_good_bundle_tar_gz_passes(bundle: factory.BundleInfo, tmp_path: Path, top: str | None) -> None:
    tar = factory.make_tar(bundle.path, tmp_path / "bundle.tar.gz", top=top)
    report = run_audit(tar, parse_verifier_key(bundle.key))
    assert report.verified, [f.describe() for f in report.findings()]
    assert report.events == N
    assert step(report, 2).stats["checkpoints_verified"] == 5


def test_tampered_tar_gz_is_caught(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    factory.edit_event(bundle.path, 20, lambda e: e["data"].update(count=999))
    tar = factory.make_tar(bundle.path, tmp_path / "bundle.tar.gz")
    report = run_audit(tar, parse_verifier_key(bundle.key))
    assert (2, "root_mismatch") in found(report)


def test_streams_spilling_to_disk_do_not_change_the_verdict(bundle: factory.BundleInfo) -> None:
    steps = default_steps(max_streams_in_memory=1)
    report = run_audit(bundle.path, parse_verifier_key(bundle.key), steps=steps)
    assert report.verified
    assert step(report, 1).stats["streams_spilled_to_disk"] is True


def test_offline_says_anchor_checks_were_skipped(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=5)
    log = json.loads((info.path / "log.json").read_text())
    log["chain"] = {"chain_id": 31337, "contract": "0x" + "11" * 20, "deploy_block": 1}
    (info.path / "log.json").write_text(json.dumps(log))
    online = audit(info)
    assert step(online, 3).status is Status.NOT_RUN and "--rpc" in (step(online, 3).reason or "")
    offline = audit(info, offline=True)
    assert step(offline, 3).status is Status.NOT_RUN and "--offline" in step(offline, 3).reason


# --- tamper matrix: events ---------------------------------------------------------------------------------------
def test_edit_event_data(bundle: factory.BundleInfo) -> None:
    factory.edit_event(bundle.path, 20, lambda e: e["data"].update(count=999))
    report = audit(bundle)
    assert not report.verified and report.exit_code == 1
    assert found(report) == {(2, "root_mismatch")}
    f = finding(report, "root_mismatch")
    assert f.details["changed range"] == "[15, 30)"
    assert f.expected == factory.mth(bundle.leaves[:30]).hex()
    assert step(report, 1).status is Status.PASSED


def test_non_canonical_json(bundle: factory.BundleInfo) -> None:
    event = factory.edit_event(bundle.path, 7, lambda e: None, canonical=False)
    report = audit(bundle)
    f = finding(report, "not_canonical")
    assert (f.index, f.event_id, f.event_type) == (7, event["id"], event["type"])
    assert (2, "root_mismatch") in found(report)


def test_delete_event(bundle: factory.BundleInfo) -> None:
    lines = factory.read_lines(bundle.path)
    victim = json.loads(lines[33])
    # delete an event that has a successor in its stream, so the gap is visible too
    for i in range(33, N):
        e = json.loads(lines[i])
        if any(json.loads(x)["stream"] == e["stream"] for x in lines[i + 1 :]):
            victim = e
            del lines[i]
            break
    factory.write_lines(bundle.path, lines)
    report = audit(bundle)
    codes = found(report)
    assert (1, "event_count") in codes
    assert (1, "version_gap") in codes
    gap = finding(report, "version_gap")
    assert gap.expected == victim["version"] and gap.found == victim["version"] + 1
    assert (2, "root_mismatch") in codes or (2, "checkpoint_beyond_events") in codes
    count = finding(report, "event_count")
    assert (count.expected, count.found) == (N, N - 1)


def test_insert_event(bundle: factory.BundleInfo) -> None:
    lines = factory.read_lines(bundle.path)
    before = json.loads(lines[40])
    stream = str(uuid.uuid4())
    when = factory.BASE_TIME + timedelta(microseconds=1000 * 40 + 999)
    forged = factory.envelope(
        factory.ORIGIN, stream, 1, "petition.created", when, {"kind": "service", "id": "cnap"}, {"title": "x"}
    )
    assert forged["time"] >= before["time"]
    lines.insert(41, factory.jcs(forged))
    factory.write_lines(bundle.path, lines)
    report = audit(bundle)
    codes = found(report)
    assert (1, "event_count") in codes
    assert (2, "root_mismatch") in codes
    assert finding(report, "root_mismatch").details["changed range"] == "[30, 45)"


def test_swap_two_events(bundle: factory.BundleInfo) -> None:
    lines = factory.read_lines(bundle.path)
    lines[10], lines[11] = lines[11], lines[10]
    factory.write_lines(bundle.path, lines)
    report = audit(bundle)
    codes = found(report)
    assert (2, "root_mismatch") in codes
    assert finding(report, "root_mismatch").details["changed range"] == "[1, 15)"
    assert (1, "time_backwards") in codes  # the factory's times strictly increase
    assert finding(report, "time_backwards").index == 11


def test_wrong_id(bundle: factory.BundleInfo) -> None:
    bogus = str(uuid.uuid4())
    factory.edit_event(bundle.path, 5, lambda e: e.update(id=bogus))
    report = audit(bundle)
    f = finding(report, "id_mismatch")
    assert (f.index, f.found, f.event_id) == (5, bogus, bogus)
    assert f.expected != bogus


def test_version_gap(bundle: factory.BundleInfo) -> None:
    lines = factory.read_lines(bundle.path)
    e = json.loads(lines[50])
    e["version"] += 1
    e["id"] = str(uuid.uuid5(uuid.UUID(e["stream"]), str(e["version"])))  # a consistent id: only the gap is wrong
    lines[50] = factory.jcs(e)
    factory.write_lines(bundle.path, lines)
    report = audit(bundle)
    f = finding(report, "version_gap")
    assert (f.index, f.expected, f.found, f.event_id) == (50, e["version"] - 1, e["version"], e["id"])
    assert not any(x.code == "id_mismatch" for x in report.findings())


def test_time_goes_backwards(bundle: factory.BundleInfo) -> None:
    factory.edit_event(bundle.path, 25, lambda e: e.update(time="2020-01-01T00:00:00.000000Z"))
    report = audit(bundle)
    f = finding(report, "time_backwards")
    assert f.index == 26 or f.index == 25


def test_truncated_events_file(bundle: factory.BundleInfo) -> None:
    path = bundle.path / "events.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    report = audit(bundle)
    codes = found(report)
    assert (1, "truncated") in codes
    assert finding(report, "truncated").index == N - 1
    assert (1, "not_json") in codes
    assert (2, "root_mismatch") in codes


def test_truncated_by_whole_lines(bundle: factory.BundleInfo) -> None:
    factory.write_lines(bundle.path, factory.read_lines(bundle.path)[:50])
    report = audit(bundle)
    codes = found(report)
    assert (1, "event_count") in codes
    f = finding(report, "checkpoint_beyond_events")
    assert (f.expected, f.found) == (">= 60 events", 50)


def test_extra_field(bundle: factory.BundleInfo) -> None:
    factory.edit_event(bundle.path, 3, lambda e: e.update(ip="10.0.0.1"))
    f = finding(audit(bundle), "extra_field")
    assert (f.index, f.found) == (3, ["ip"])


def test_float_in_data(bundle: factory.BundleInfo) -> None:
    factory.edit_event(bundle.path, 4, lambda e: e["data"].update(amount=10.5))
    f = finding(audit(bundle), "float")
    assert f.index == 4 and "$.data.amount" in f.found


def test_oversize_line(bundle: factory.BundleInfo) -> None:
    factory.edit_event(bundle.path, 8, lambda e: e["data"].update(blob="я" * 40000))
    report = audit(bundle)
    f = finding(report, "too_large")
    assert f.index == 8 and f.found == f"{len(factory.read_lines(bundle.path)[8])} bytes"
    assert report.events == N


# --- tamper matrix: checkpoints and keys -------------------------------------------------------------------------
def test_bad_checkpoint_signature(bundle: factory.BundleInfo) -> None:
    path = bundle.path / "checkpoints" / "30"
    note = path.read_text()
    sig = note.rsplit(" ", 1)[1]
    flipped = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
    path.write_text(note.replace(sig, flipped))
    report = audit(bundle)
    f = finding(report, "note_signature_invalid")
    assert f.details["note"] == "checkpoints/30"
    assert step(report, 1).status is Status.PASSED


def test_wrong_key(bundle: factory.BundleInfo) -> None:
    other = factory.make_signer(factory.ORIGIN, tag=b"someone else")
    report = audit(bundle, key=other.verifier_key)
    codes = found(report)
    assert (2, "bundle_key_mismatch") in codes
    assert (2, "note_not_signed_by_trusted_key") in codes
    assert (2, "no_checkpoint_at_tree_size") in codes
    mismatch = finding(report, "bundle_key_mismatch")
    assert (mismatch.expected, mismatch.found) == (other.verifier_key, bundle.key)


def test_bundle_with_its_own_forged_key_passes_only_without_key(bundle: factory.BundleInfo) -> None:
    """An operator who rewrites history and re-signs with a new key fools an audit that trusts log.json's key,
    and the report says so loudly; with the published key the forgery is caught."""
    forger = factory.make_signer(factory.ORIGIN, tag=b"forger")
    factory.edit_event(bundle.path, 2, lambda e: e["data"].update(count=12345))
    lines = factory.read_lines(bundle.path)
    forged = factory.write_bundle(bundle.path.parent / "forged", lines=lines, checkpoint_sizes=[30], signer=forger)
    trusting = audit(forged, key=None)
    assert trusting.verified
    assert trusting.warnings and "TRUSTING THE BUNDLE'S OWN KEY" in trusting.warnings[0]
    assert "NOT independently trusted" in step(trusting, 2).stats["key_source"]
    independent = audit(forged, key=bundle.key)
    assert (2, "bundle_key_mismatch") in found(independent)


def test_fork_second_checkpoint_file_for_one_size(bundle: factory.BundleInfo) -> None:
    other_root = factory.mth([factory.h_leaf(b"another history")] * 30)
    fork_note = factory.signed_checkpoint(bundle.signer, factory.ORIGIN, 30, other_root)
    (bundle.path / "checkpoints" / "30.fork").write_text(fork_note)
    report = audit(bundle)
    f = finding(report, "fork")
    assert f.details["size"] == 30
    notes = [v for k, v in f.details.items() if k.startswith("note ")]
    assert fork_note in notes and (bundle.path / "checkpoints" / "30").read_text() in notes
    assert {f.expected, f.found} == {other_root.hex(), factory.mth(bundle.leaves[:30]).hex()}
    assert (2, "root_mismatch") in found(report)  # and the leaves say which one is the bundle's history


def test_fork_via_extra_checkpoint_notes(bundle: factory.BundleInfo) -> None:
    a = factory.signed_checkpoint(bundle.signer, factory.ORIGIN, 45, factory.mth([b"\x01" * 32] * 45))
    b = factory.signed_checkpoint(bundle.signer, factory.ORIGIN, 45, factory.mth([b"\x02" * 32] * 45))
    report = audit(bundle, extra_checkpoints=[("held-a", a.encode()), ("held-b", b.encode())])
    assert (2, "fork") in found(report)


def test_extra_checkpoint_that_agrees_is_fine(bundle: factory.BundleInfo) -> None:
    note = (bundle.path / "checkpoints" / "45").read_bytes()
    assert audit(bundle, extra_checkpoints=[("held", note)]).verified


def test_checkpoint_origin_mismatch(bundle: factory.BundleInfo) -> None:
    note = factory.signed_checkpoint(bundle.signer, "ledger.hromada.example/kyiv", 15, factory.mth(bundle.leaves[:15]))
    (bundle.path / "checkpoints" / "15").write_text(note)
    f = finding(audit(bundle), "checkpoint_origin_mismatch")
    assert (f.expected, f.found) == (factory.ORIGIN, "ledger.hromada.example/kyiv")


def test_checkpoint_file_name_and_size_disagree(bundle: factory.BundleInfo) -> None:
    (bundle.path / "checkpoints" / "16").write_text((bundle.path / "checkpoints" / "15").read_text())
    f = finding(audit(bundle), "checkpoint_size_name_mismatch")
    assert (f.expected, f.found) == (16, 15)


def test_missing_final_checkpoint(bundle: factory.BundleInfo) -> None:
    (bundle.path / "checkpoints" / str(N)).unlink()
    assert (2, "no_checkpoint_at_tree_size") in found(audit(bundle))


def test_log_json_origin_changed(bundle: factory.BundleInfo) -> None:
    log = json.loads((bundle.path / "log.json").read_text())
    log["origin"] = "ledger.hromada.example/elsewhere"
    (bundle.path / "log.json").write_text(json.dumps(log))
    codes = found(audit(bundle))
    assert (1, "log_mismatch") in codes
    assert (2, "checkpoint_origin_mismatch") in codes
    assert (2, "key_name_mismatch") in codes


# --- cannot run --------------------------------------------------------------------------------------------------
def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput):
        run_audit(tmp_path / "nothing", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableInput):
        run_audit(tmp_path / "empty", None)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(UnreadableInput):
        run_audit(tmp_path / "junk.tar.gz", None)


def test_findings_are_capped_but_counted(tmp_path: Path) -> None:
    info = factory.write_bundle(tmp_path / "b", n=400)
    lines = [ln.replace(b'"format":1', b'"format":1,"x":1') for ln in factory.read_lines(info.path)]
    factory.write_lines(info.path, lines)
    report = audit(info)
    s1 = step(report, 1)
    assert s1.findings_total >= 400 and len(s1.findings) == 200
    assert isinstance(EnvelopeStep().result.findings, list)


# --- parallel line checks give the same report -------------------------------------------------------------------
def test_parallel_workers_give_the_same_findings(bundle: factory.BundleInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier.parallel as parallel_module

    monkeypatch.setattr(parallel_module, "CHUNK_LINES", 7)
    lines = factory.read_lines(bundle.path)
    lines[3] = lines[3].replace(b'"format":1', b'"format":1,"x":2')
    lines[10], lines[11] = lines[11], lines[10]
    lines[20] = lines[20][:-1] + b" }"
    del lines[40]
    big = json.loads(lines[30])
    big["data"]["blob"] = "z" * 70000
    lines[30] = factory.jcs(big)
    factory.write_lines(bundle.path, lines)
    with (bundle.path / "events.jsonl").open("ab") as f:
        f.write(b'{"unterminated":')
    serial = audit(bundle, workers=1)
    parallel = audit(bundle, workers=2)
    assert [f.to_json() for f in serial.findings()] == [f.to_json() for f in parallel.findings()]
    assert step(serial, 1).stats == step(parallel, 1).stats
    assert serial.events == parallel.events == N
    assert {"extra_field", "time_backwards", "not_canonical", "too_large", "truncated", "root_mismatch"} <= {
        f.code for f in parallel.findings()
    }
