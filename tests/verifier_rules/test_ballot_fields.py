"""``ballot.opened`` of an open ballot in both field sets (legacy logs and the secrecy fields of new logs) audits
clean; any other field set is a ``data_fields`` violation (verifier/kinds.py ``EventRow.alternatives``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.ballots.crypto.hashing import manifest_hash
from tests.verifier_rules.builder import History, audit, findings

NEW = {"secrecy": "open", "trustees": [], "threshold": None, "public_key": None, "manifest_hash": ""}


def _with(h: History, bid: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the ballot.opened just emitted by ``h.ballot()`` with ``extra`` fields."""
    env = h.events[-1]
    assert env["type"] == "ballot.opened" and env["stream"] == bid
    env["data"].update(extra)
    if "manifest_hash" in extra:  # the verifier checks it for open ballots too: the real hash of this manifest
        env["data"]["manifest_hash"] = manifest_hash(bid, env["data"]).hex()
    return env


def test_open_ballots_of_old_and_new_logs_audit_clean(tmp_path: Path) -> None:
    h = History()
    h.city()
    old = h.ballot(hours=1)
    new = h.ballot(hours=1)
    _with(h, new, NEW)
    h.vote(old, 1, ["a"])
    h.vote(new, 1, ["b"])
    h.wait(hours=1)
    h.close_ballot(old, {"voters": 1, "counts": {"a": 1, "b": 0, "c": 0}, "funded": None})
    h.close_ballot(new, {"voters": 1, "counts": {"a": 0, "b": 1, "c": 0}, "funded": None})
    report = audit(h.write(tmp_path / "b"))
    assert [f.code for s in report.steps for f in s.findings] == []


def test_another_field_set_is_refused(tmp_path: Path) -> None:
    h = History()
    h.city()
    partial = h.ballot()
    bad = _with(h, partial, {k: v for k, v in NEW.items() if k != "manifest_hash"})
    extra = h.ballot()
    worse = _with(h, extra, {**NEW, "count": 3})
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 4) if f.code == "data_fields"]
    assert got == [("data_fields", bad["id"]), ("data_fields", worse["id"])]
