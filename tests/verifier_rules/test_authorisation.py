"""Step 5: actor authorisation (docs/domain.md "Actors and authorisation"), failure cases first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verifier_rules.builder import SYSTEM, History, audit, cit, codes, findings, pseudonym, svc
from verifier.rules.model import stream_id
from verifier.rules.services import scope_matches


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        ("queue:kindergarten:*", "queue:kindergarten:offer", True),
        ("*", "queue:housing:lists", True),
        ("*", "service:admin", True),
        ("queue:*:offer", "queue:housing:offer", True),
        ("queue:*:offer", "queue:housing:lists", False),
        ("queue:*:offer", "queue:housing:x:offer", False),
        ("queue:*", "queue:housing:lists", True),  # a last '*' matches one or more segments
        ("queue:*", "queue", False),
        ("queue:housing", "queue:housing:lists", False),
        ("queue:housing:lists", "queue:housing", False),
        ("petition:moderate", "petition:moderate", True),
        ("petition:respond", "petition:moderate", False),
    ],
)
def test_scope_matching(granted: str, required: str, ok: bool) -> None:
    assert scope_matches(granted, required) is ok


def test_service_without_the_scope(tmp_path: Path) -> None:
    h = History()
    h.city()
    h.service("clerk", ["queue:kindergarten:register"])
    q = h.queue()
    e = h.register_child(q, 1)
    h.offer(q, e, actor=svc("clerk"))
    offer = h.events[-1]
    report = audit(h.write(tmp_path / "b"))
    assert codes(report, 4) == []
    [f] = findings(report, 5)
    assert (f.code, f.event_id, f.event_type) == ("scope_missing", offer["id"], "queue.offer_issued")
    assert (f.expected, f.found) == ("queue:kindergarten:offer", ["queue:kindergarten:register"])


def test_unregistered_revoked_and_narrowed_services(tmp_path: Path) -> None:
    h = History()
    ghost = h.emit(
        "8c1d9a3e-5b1f-4f0e-8a7d-2b6c4d5e6f70",
        "queue.created",
        svc("ghost"),
        {
            "kind": "kindergarten",
            "name": "Q",
            "institutions": ["k1"],
            "benefits": [],
            "removal_reasons": [],
            "acceptance_days": 7,
            "max_preferences": 3,
            "pseudonym_key": 1,
        },
    )
    h.service("edu", ["queue:kindergarten:*"])
    h.emit(
        stream_id("service", "edu"),
        "service.scopes_changed",
        SYSTEM,
        {"service": "edu", "scopes": ["queue:kindergarten:register"]},
    )
    narrowed = h.emit("8c1d9a3e-5b1f-4f0e-8a7d-2b6c4d5e6f71", "queue.created", svc("edu"), ghost["data"])
    h.emit(stream_id("service", "edu"), "service.revoked", SYSTEM, {"service": "edu", "reason": "key leaked"})
    revoked = h.emit("8c1d9a3e-5b1f-4f0e-8a7d-2b6c4d5e6f72", "queue.created", svc("edu"), ghost["data"])
    got = [(f.code, f.event_id) for f in findings(audit(h.write(tmp_path / "b")), 5)]
    assert got == [
        ("service_not_registered", ghost["id"]),
        ("scope_missing", narrowed["id"]),
        ("service_revoked", revoked["id"]),
    ]


def test_citizen_events_name_the_right_pseudonym(tmp_path: Path) -> None:
    h = History()
    h.city()
    pid = h.petition()
    h.publish(pid)
    signer = pseudonym("cit", 1)
    forged = h.emit(
        stream_id("petition", pid, "signature", signer),
        "petition.signed",
        cit(pseudonym("cit", 2)),
        {"petition": pid, "signer": signer, "identity_method": "diia"},
    )
    q = h.queue()
    e = h.register_child(q, 1)
    o = h.offer(q, e)
    stranger = h.answer(q, o, e, "queue.offer_accepted", cit(pseudonym("cit", "parent9")))
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id, f.expected, f.found) for f in findings(report, 5)]
    assert got == [
        ("citizen_mismatch", forged["id"], signer, pseudonym("cit", 2)),
        ("citizen_mismatch", stranger["id"], pseudonym("cit", "parent1"), pseudonym("cit", "parent9")),
    ]


def test_system_only_where_allowed(tmp_path: Path) -> None:
    h = History()
    h.city()
    q = h.queue()
    e = h.register_child(q, 1)
    o = h.offer(q, e)
    by_operator = h.answer(q, o, e, "queue.offer_accepted", SYSTEM)  # the system never accepts for a family
    pid = h.petition(threshold=1)
    h.publish(pid)
    s = h.sign(pid, 1)
    not_rules = h.emit(
        pid, "petition.threshold_reached", SYSTEM, {"count": 1, "signature": s["stream"], "due_date": "2026-01-19"}
    )
    citizen_publishes = h.emit(pid, "petition.rejected", cit(pseudonym("cit", 1)), {"reason": "x"})
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id) for f in findings(report, 5)]
    assert got == [
        ("system_not_allowed", by_operator["id"]),
        ("system_id_mismatch", not_rules["id"]),
        ("citizen_not_allowed", citizen_publishes["id"]),
    ]
