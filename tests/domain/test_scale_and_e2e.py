"""A small in-memory scale smoke test (no timing asserts: speed lives in bench/domain.py) and the end-to-end
city scenario on the in-memory store. ``run_city_scenario`` is reusable: the ledger runs it through SQL and
the Merkle log."""

from __future__ import annotations

import random
from typing import Any

from domain.app import CityApp
from domain.petitions.rules import SUMY
from tests.domain.conftest import CITY, EDU, OPERATOR, T0, citizen, days, make_app


def test_scale_smoke() -> None:
    app = make_app()
    pid = app.create_petition(by=citizen("a"), title="t", text="x", rules=dict(SUMY, threshold=1500), at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    for i in range(2000):
        app.sign_petition(by=citizen(i), petition_id=pid, at=T0 + days(1))
    assert app.signature_count(pid) == 2000
    assert [type(e).TYPE for e in app.events.get(pid)].count("petition.threshold_reached") == 1
    bid = app.open_ballot(
        by=CITY, title="b", kind="poll", options=[{"id": f"o{i}", "title": "x"} for i in range(5)],
        method={"type": "approval", "max_choices": 2}, opens_at=T0 + days(1), closes_at=T0 + days(5),
        eligibility={"identity_methods": ["diia"]}, at=T0 + days(1),
    )  # fmt: skip
    rng = random.Random(3)
    last: dict[int, list[str]] = {}
    for _ in range(5000):
        who = rng.randrange(3000)
        sel = sorted(rng.sample([f"o{i}" for i in range(5)], rng.randint(1, 2)))
        app.cast_vote(by=citizen(who), ballot_id=bid, selection=sel, at=T0 + days(1))
        last[who] = sel
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(5))
    assert tally["voters"] == len(last)
    assert tally["counts"] == {f"o{i}": sum(f"o{i}" in s for s in last.values()) for i in range(5)}
    k0 = T0 + days(5)
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1", "k2"], at=k0)
    queue = app.get_kindergarten_queue(q)
    # 1000 registrations in one save, decided directly on the aggregate: their times are the aggregate's own, so
    # the decision takes the last of them (the log's time never goes backwards)
    with app.sequencer.deciding(k0 + days(999 / 1000)):
        for i in range(1000):
            queue.register(
                applicant=f"cit:v1:{i:064x}", child=f"chd:v1:{i:064x}", child_commitment="sha256:" + f"{i:064x}",
                birth_year=2023, institutions=["k1", "k2"], at=k0 + days(i / 1000), actor=EDU.as_dict(),
            )  # fmt: skip
        app._save(queue)
    rows = app.kindergarten_list(q, "k1", 2023)
    assert [r["position"] for r in rows] == list(range(1, 1001))
    assert rows == sorted(rows, key=lambda r: (r["benefit_rank"], r["registered_at"], r["entry"]))


def run_city_scenario(app: CityApp) -> dict[str, Any]:
    """One petition to its response, one participatory-budget ballot to its tally, and a kindergarten queue
    through registrations, a benefit grant, offers, a decline and an acceptance. ``app`` must have the
    services of ``tests.domain.conftest.make_app`` registered."""
    pid = app.create_petition(by=citizen(1), title="Велодоріжка", text="Текст", rules=dict(SUMY, threshold=3), at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0 + days(1))
    for i in range(1, 5):
        app.sign_petition(by=citizen(i), petition_id=pid, at=T0 + days(2))
    app.respond_to_petition(by=CITY, petition_id=pid, response="Буде збудовано у 2027 році", at=T0 + days(9))
    b0 = T0 + days(9)  # each phase starts where the previous one ended: the log's time never goes backwards
    bid = app.open_ballot(
        by=CITY, title="Бюджет участі", kind="participatory_budget", secrecy="open",
        options=[
            {"id": "park", "title": "Парк", "cost": 800_000_00, "district": "podil"},
            {"id": "gym", "title": "Спортмайданчик", "cost": 300_000_00, "district": "podil"},
            {"id": "lib", "title": "Бібліотека", "cost": 400_000_00, "district": "podil"},
        ],
        method={"type": "budget", "budgets": {"podil": 1_000_000_00}}, opens_at=b0, closes_at=b0 + days(14),
        eligibility={"identity_methods": ["diia", "bankid"], "min_age": 14}, at=b0,
    )  # fmt: skip
    trackers = []
    for i, sel in enumerate([["park"], ["gym", "lib"], ["park"], ["gym"]]):
        trackers.append(
            app.cast_vote(by=citizen(i, age=30, district="podil"), ballot_id=bid, selection=sel, at=b0 + days(3))
        )
    trackers.append(
        app.cast_vote(by=citizen(3, age=30, district="podil"), ballot_id=bid, selection=["lib"], at=b0 + days(4))
    )
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=b0 + days(14))
    k0 = b0 + days(14)
    q = app.create_kindergarten_queue(by=EDU, name="Садочки Подолу", institutions=["dnz-1", "dnz-2"], at=k0)
    entries = [
        app.register_kindergarten_entry(
            by=citizen(10 + i),
            queue_id=q,
            child_key=f"I-КВ {i}",
            child_data={"name": f"Дитина {i}", "born": "2023-01-01"},
            birth_year=2023,
            institutions=["dnz-1", "dnz-2"],
            at=k0 + days(i),
        )
        for i in range(3)
    ]
    app.grant_benefit(
        by=EDU, queue_id=q, entry=entries[2], code="military_child", document={"cert": "№ 1"}, at=k0 + days(5)
    )
    o1 = app.issue_offer(by=EDU, queue_id=q, institution="dnz-1", birth_year=2023, place="g1-1", at=k0 + days(6))
    app.decline_offer(by=citizen(12), queue_id=q, offer=o1, at=k0 + days(7))
    o2 = app.issue_offer(by=EDU, queue_id=q, institution="dnz-1", birth_year=2023, place="g1-1", at=k0 + days(8))
    app.accept_offer(by=citizen(10), queue_id=q, offer=o2, at=k0 + days(9))
    app.close_expired_petitions(by=OPERATOR, at=T0 + days(60))
    return {"petition": pid, "ballot": bid, "tally": tally, "queue": q, "entries": entries, "offers": [o1, o2],
            "trackers": trackers}  # fmt: skip


def test_city_scenario_in_memory() -> None:
    app = make_app()
    out = run_city_scenario(app)
    assert out["tally"] == {
        "voters": 4,
        "counts": {"park": 2, "gym": 1, "lib": 2},
        "funded": {"podil": ["park"]},  # park (2 votes) first; lib (2 votes, 400k) no longer fits 200k
    }
    q = app.get_kindergarten_queue(out["queue"])
    o1, o2 = (q.offer(o) for o in out["offers"])
    assert o1["entry"] == out["entries"][2] and o1["status"] == "declined"  # the benefit holder came first
    assert o2["entry"] == out["entries"][0] and o2["status"] == "accepted"
    p = app.get_petition(out["petition"])
    assert p.state["responded"] and p.status == "closed"
    log = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10_000)]
    types = [type(e).TYPE for e in log]
    for t in ("petition.threshold_reached", "petition.responded", "ballot.closed", "kindergarten.benefit_granted",
              "kindergarten.offer_declined", "kindergarten.offer_accepted", "petition.closed"):  # fmt: skip
        assert t in types
    # every event any command produced is in the log, exactly once, in commit order
    ids = [(e.originator_id, e.originator_version) for e in log]
    assert len(ids) == len(set(ids))
    assert [e.timestamp for e in log] == sorted(e.timestamp for e in log)  # and time never goes backwards in it
    tracker_ids = {(t.originator_id, t.originator_version) for t in out["trackers"]}
    assert tracker_ids <= set(ids)
