"""Petition rules (docs/domain.md "Petitions"), failure cases first, on bundles written by the test builder."""

from __future__ import annotations

from pathlib import Path

from tests.verifier_rules.builder import History, audit, codes, findings
from verifier.rules.model import stream_id

DUE = "2026-01-19"  # 10th working day after Monday 2026-01-05 (martial law: holidays are working days)


def signed_to_threshold(h: History, pid: str, threshold: int = 3) -> dict[str, object]:
    last = {}
    for n in range(threshold):
        last = h.sign(pid, n)
    return last


def test_second_signature_by_the_same_pseudonym(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=10)
    h.publish(pid)
    h.sign(pid, 1)
    second = h.sign(pid, 1, version=2)  # the same stream S(petition, P, signature, signer), version 2
    report = audit(h.write(tmp_path / "b"))
    [f] = findings(report, 4)
    assert (f.code, f.index, f.event_id, f.event_type) == ("duplicate_signature", 3, second["id"], "petition.signed")
    assert (f.expected, f.found) == ("version 1", 2)


def test_signature_outside_its_stream(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=10)
    h.publish(pid)
    h.sign(pid, 1)
    other = h.sign(pid, 1, stream="0b6e4a4e-8b5b-4d7c-9a5e-3c3f2f7b1a11")  # a second stream for one signer
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert f.code == "signature_stream_mismatch" and f.event_id == other["id"]
    assert f.found == other["stream"] and f.expected == stream_id("petition", pid, "signature", other["data"]["signer"])


def test_signature_before_publication(tmp_path: Path) -> None:
    h = History()
    pid = h.petition()
    early = h.sign(pid, 1)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == (
        "signature_before_publication",
        early["id"],
        "published",
        "pending",
    )


def test_signature_after_the_deadline(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(period={"days": 10})
    published = h.publish(pid)
    h.sign(pid, 1)
    h.wait(days=10)
    late = h.sign(pid, 2)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.index, f.event_id) == ("signature_after_deadline", 3, late["id"])
    assert f.expected == f"time < {published['data']['deadline']}" and f.found == late["time"]


def test_signature_after_closure(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(period={"days": 1})
    h.publish(pid)
    h.wait(days=1)
    h.emit(pid, "petition.closed", {"kind": "system", "id": "operator"}, {"reason": "deadline", "signatures": 0})
    late = h.sign(pid, 1)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id) == ("signature_after_closure", late["id"])


def test_deadline_must_follow_the_period(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(period={"months": 1})
    h.wait(days=26, hours=2)  # published 2026-01-31 09:00Z: one month later is clamped to 2026-02-28
    bad = h.publish(pid, deadline="2026-03-03T09:00:00.000000Z")
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.found) == ("deadline_mismatch", bad["id"], "2026-03-03T09:00:00.000000Z")
    assert f.expected == bad["time"].replace("2026-01-31", "2026-02-28")


def test_threshold_reached_exactly_once_and_exactly_when(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=2)
    h.publish(pid)
    first = h.sign(pid, 1)
    early = h.threshold(pid, first, 1, DUE)  # count 1 < threshold 2
    second = h.sign(pid, 2)
    again = h.threshold(pid, second, 2, DUE)  # second threshold_reached
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id) for f in findings(report, 4)]
    assert ("threshold_early", early["id"]) in got
    assert ("threshold_repeated", again["id"]) in got


def test_threshold_missing_names_the_signature_that_reached_it(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=2)
    h.publish(pid)
    h.sign(pid, 1)
    reaching = h.sign(pid, 2)
    h.sign(pid, 3)
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.index) == ("threshold_missing", reaching["id"], 3)


def test_threshold_due_date_follows_the_calendar(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=1)
    h.publish(pid)
    s = h.sign(pid, 1)
    bad = h.threshold(pid, s, 1, "2026-01-15")  # ten calendar days, not ten working days
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("due_date_mismatch", bad["id"], DUE, "2026-01-15")


def test_threshold_names_a_signature_and_its_time(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=1)
    h.publish(pid)
    s = h.sign(pid, 1)
    h.wait(seconds=5)
    bad = h.emit(
        pid,
        "petition.threshold_reached",
        {"kind": "system", "id": "rules"},
        {"count": 1, "signature": s["stream"], "due_date": DUE},
    )
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("threshold_time_mismatch", bad["id"], s["time"], bad["time"])


def test_response_and_closing(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=1, period={"days": 2})
    h.publish(pid)
    s = h.sign(pid, 1)
    h.threshold(pid, s, 1, DUE)
    wrong = h.emit(
        pid,
        "petition.responded",
        {"kind": "service", "id": "council"},
        {"response": "ok", "due_date": DUE, "on_time": False},
    )
    early_close = h.emit(
        pid, "petition.closed", {"kind": "system", "id": "operator"}, {"reason": "deadline", "signatures": 5}
    )
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id) for f in findings(report, 4)]
    assert got == [
        ("on_time_mismatch", wrong["id"]),
        ("closed_before_deadline", early_close["id"]),
        ("close_count_mismatch", early_close["id"]),
    ]


def test_lawful_petition_passes(tmp_path: Path) -> None:
    h = History()
    h.city()
    pid = h.petition(threshold=3, period={"days": 2})
    h.publish(pid)
    reaching = signed_to_threshold(h, pid, 3)
    h.threshold(pid, reaching, 3, DUE)  # type: ignore[arg-type]
    h.sign(pid, 7)
    h.emit(
        pid,
        "petition.responded",
        {"kind": "service", "id": "council"},
        {"response": "ok", "due_date": DUE, "on_time": True},
    )
    h.wait(days=2)
    h.emit(pid, "petition.closed", {"kind": "system", "id": "operator"}, {"reason": "deadline", "signatures": 4})
    report = audit(h.write(tmp_path / "b"))
    assert codes(report, 4) == [] and codes(report, 5) == []


def test_signer_pseudonym_of_another_key_version(tmp_path: Path) -> None:
    h = History()
    pid = h.petition(threshold=10)
    h.publish(pid)
    signer = "cit:v2:" + "ab" * 32  # the petition froze key version 1
    rotated = h.emit(
        stream_id("petition", pid, "signature", signer),
        "petition.signed",
        {"kind": "citizen", "id": signer},
        {"petition": pid, "signer": signer, "identity_method": "diia"},
    )
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("pseudonym_mismatch", rotated["id"], "cit:v1:<64 hex>", signer)
