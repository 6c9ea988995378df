from __future__ import annotations

from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.commitments import verify
from domain.kindergarten.aggregate import KindergartenQueue
from tests.domain.conftest import CITY, EDU, OPERATOR, T0, citizen, days


def queue(app: CityApp, **kw: object) -> UUID:
    return app.create_kindergarten_queue(by=EDU, name="Чернівці", institutions=["k1", "k2", "k3"], at=T0, **kw)  # type: ignore[arg-type]


def reg(app: CityApp, q: UUID, n: int, at_days: float, insts: list[str] | None = None, year: int = 2023) -> str:
    return app.register_kindergarten_entry(
        by=citizen(n),
        queue_id=q,
        child_key=f"I-КВ {n}",
        child_data={"name": f"Дитина {n}", "birth_certificate": f"I-КВ {n}", "born": f"{year}-05-01"},
        birth_year=year,
        institutions=insts or ["k1"],
        at=T0 + days(at_days),
    )


def test_create_validates(app: CityApp) -> None:
    with pytest.raises(errors.InvalidInput):
        app.create_kindergarten_queue(by=EDU, name="x", institutions=[], at=T0)
    with pytest.raises(errors.InvalidInput):
        app.create_kindergarten_queue(by=EDU, name="x", institutions=["a", "a"], at=T0)
    with pytest.raises(errors.InvalidInput):
        app.create_kindergarten_queue(by=EDU, name="x", institutions=["a"], acceptance_days=0, at=T0)
    with pytest.raises(errors.InvalidInput):
        app.create_kindergarten_queue(by=EDU, name="x", institutions=["a"], benefits=[{"code": "x"}], at=T0)
    with pytest.raises(errors.MissingScope):
        app.create_kindergarten_queue(by=CITY, name="x", institutions=["a"], at=T0)


def test_registration(app: CityApp) -> None:
    q = queue(app)
    e = reg(app, q, 1, 0)
    entry = app.get_kindergarten_queue(q).entry(e)
    assert entry["registered_at"] == "2026-03-02T09:00:00.000000Z"
    assert entry["applicant"] == app.pseudonymizer.citizen("diia:1")
    assert entry["child"].startswith("chd:v1:") and "КВ" not in str(entry)
    opened = app.vault.open(app.kindergarten_subject(e), entry["child_commitment"])  # type: ignore[union-attr]
    assert opened.data["name"] == "Дитина 1" and verify(entry["child_commitment"], opened.data, opened.salt)
    with pytest.raises(errors.DuplicateEntry):
        reg(app, q, 1, 1)
    with pytest.raises(errors.UnknownInstitution):
        reg(app, q, 2, 1, insts=["k9"])
    with pytest.raises(errors.InvalidInput):
        reg(app, q, 2, 1, insts=["k1", "k2", "k3", "k1"])
    with pytest.raises(errors.InvalidInput):
        reg(app, q, 2, 1, year=2031)
    with pytest.raises(errors.InvalidInput):
        app.register_kindergarten_entry(
            by=EDU, queue_id=q, child_key="x", child_data={}, birth_year=2023, institutions=["k1"], at=T0
        )
    # a service registers on behalf of an applicant
    e2 = app.register_kindergarten_entry(
        by=EDU, applicant=citizen(7), queue_id=q, child_key="z", child_data={"n": "x"}, birth_year=2023,
        institutions=["k1"], at=T0,
    )  # fmt: skip
    assert app.get_kindergarten_queue(q).entry(e2)["applicant"] == app.pseudonymizer.citizen("diia:7")
    with pytest.raises(errors.NotAuthorised):
        app.register_kindergarten_entry(
            by=citizen(8), applicant=citizen(9), queue_id=q, child_key="y", child_data={}, birth_year=2023,
            institutions=["k1"], at=T0,
        )  # fmt: skip


def test_failed_registration_leaves_no_vault_record(app: CityApp) -> None:
    q = queue(app)
    with pytest.raises(errors.UnknownInstitution):
        reg(app, q, 1, 0, insts=["nope"])
    store = app.vault._store  # type: ignore[union-attr]
    assert list(store.keys("rec/")) == []


def test_order_benefit_then_time_then_id(app: CityApp) -> None:
    q = queue(app)
    a = reg(app, q, 1, 0)
    b = reg(app, q, 2, 1)
    c = reg(app, q, 3, 2)
    d = reg(app, q, 4, 2)  # same registered_at as c
    app.grant_benefit(by=EDU, queue_id=q, entry=c, code="large_family", document={"cert": "1"}, at=T0 + days(3))
    app.grant_benefit(by=EDU, queue_id=q, entry=b, code="military_child", document={"cert": "2"}, at=T0 + days(3))
    order = [row["entry"] for row in app.kindergarten_list(q, "k1", 2023)]
    assert order[:2] == [b, c] and order[2] == a and order[3] == d
    # entries with equal rank and registered_at are ordered by entry id
    app.grant_benefit(by=EDU, queue_id=q, entry=d, code="large_family", document={"cert": "3"}, at=T0 + days(4))
    order = [row["entry"] for row in app.kindergarten_list(q, "k1", 2023)]
    assert order[1:3] == sorted([c, d])
    assert app.entry_positions(q, a) == {"k1": 4}


def test_benefits(app: CityApp) -> None:
    q = queue(app)
    e = reg(app, q, 1, 0)
    with pytest.raises(errors.UnknownBenefitCode):
        app.grant_benefit(by=EDU, queue_id=q, entry=e, code="vip", document={"x": "1"}, at=T0)
    with pytest.raises(errors.UnknownEntry):
        app.grant_benefit(by=EDU, queue_id=q, entry="nope", code="idp_child", document={"x": "1"}, at=T0)
    with pytest.raises(errors.NotAuthorised):
        app.grant_benefit(by=citizen(1), queue_id=q, entry=e, code="idp_child", document={"x": "1"}, at=T0)
    commitment = app.grant_benefit(by=EDU, queue_id=q, entry=e, code="idp_child", document={"x": "1"}, at=T0)
    granted = list(app.events.get(q))[-1]
    assert granted.basis.startswith("Law of Ukraine") and granted.document_commitment == commitment
    with pytest.raises(errors.BenefitAlreadyGranted):
        app.grant_benefit(by=EDU, queue_id=q, entry=e, code="idp_child", document={"x": "1"}, at=T0)
    with pytest.raises(errors.UnknownReasonCode):
        app.revoke_benefit(by=EDU, queue_id=q, entry=e, code="idp_child", reason="because", at=T0)
    with pytest.raises(errors.BenefitNotGranted):
        app.revoke_benefit(by=EDU, queue_id=q, entry=e, code="large_family", reason="status_ended", at=T0)
    app.revoke_benefit(by=EDU, queue_id=q, entry=e, code="idp_child", reason="status_ended", at=T0)
    assert app.get_kindergarten_queue(q).entry(e)["benefits"] == {}


def test_offer_goes_to_first_eligible(app: CityApp) -> None:
    q = queue(app)
    a = reg(app, q, 1, 0, insts=["k1", "k2"])
    b = reg(app, q, 2, 1, insts=["k2"])
    reg(app, q, 3, 2, insts=["k1"], year=2022)  # other age group
    with pytest.raises(errors.OfferOutOfTurn) as info:
        app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="g1", entry=b, at=T0 + days(3))
    assert info.value.evidence["expected"] == a and info.value.evidence["found"] == b
    with pytest.raises(errors.UnknownInstitution):
        app.issue_offer(by=EDU, queue_id=q, institution="k9", birth_year=2023, place="g1", at=T0 + days(3))
    with pytest.raises(errors.NoEligibleEntry):
        app.issue_offer(by=EDU, queue_id=q, institution="k3", birth_year=2023, place="g1", at=T0 + days(3))
    with pytest.raises(errors.MissingScope):
        app.issue_offer(by=CITY, queue_id=q, institution="k1", birth_year=2023, place="g1", at=T0 + days(3))
    o = app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="g1", entry=a, at=T0 + days(3))
    offer = app.get_kindergarten_queue(q).offer(o)
    assert offer["entry"] == a and offer["expires_at"] == "2026-04-04T09:00:00.000000Z"  # 30 days
    with pytest.raises(errors.PlaceUnavailable):
        app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="g1", at=T0 + days(3))
    # a holds a pending offer, so the next k2 place goes to b even though a is first in k2's list
    o2 = app.issue_offer(by=EDU, queue_id=q, institution="k2", birth_year=2023, place="g1", at=T0 + days(3))
    assert app.get_kindergarten_queue(q).offer(o2)["entry"] == b
    assert [r["offer_pending"] for r in app.kindergarten_list(q, "k2", 2023)] == [True, True]


def test_accept_decline_expire(app: CityApp) -> None:
    q = queue(app, acceptance_days=10)
    a = reg(app, q, 1, 0, insts=["k1", "k2"])
    b = reg(app, q, 2, 1, insts=["k1"])
    o1 = app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(2))
    with pytest.raises(errors.NotAuthorised):
        app.decline_offer(by=citizen(2), queue_id=q, offer=o1, at=T0 + days(3))
    with pytest.raises(errors.OfferNotExpired):
        app.expire_offer(by=OPERATOR, queue_id=q, offer=o1, at=T0 + days(3))
    app.decline_offer(by=citizen(1), queue_id=q, offer=o1, at=T0 + days(3))
    qa = app.get_kindergarten_queue(q)
    assert qa.entry(a)["institutions"] == ["k2"] and qa.entry(a)["status"] == "waiting"
    with pytest.raises(errors.OfferNotPending):
        app.accept_offer(by=citizen(1), queue_id=q, offer=o1, at=T0 + days(3))
    with pytest.raises(errors.UnknownOffer):
        app.accept_offer(by=citizen(1), queue_id=q, offer="nope", at=T0 + days(3))
    # the place is free again and goes to b, next in k1
    o2 = app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(4))
    assert app.get_kindergarten_queue(q).offer(o2)["entry"] == b
    with pytest.raises(errors.OfferExpired):
        app.accept_offer(by=citizen(2), queue_id=q, offer=o2, at=T0 + days(14))
    assert app.expire_due_offers(by=OPERATOR, queue_id=q, at=T0 + days(14)) == [o2]
    assert app.get_kindergarten_queue(q).entry(b)["institutions"] == []
    o3 = app.issue_offer(by=EDU, queue_id=q, institution="k2", birth_year=2023, place="p", at=T0 + days(15))
    app.accept_offer(by=citizen(1), queue_id=q, offer=o3, at=T0 + days(16))
    qa = app.get_kindergarten_queue(q)
    assert qa.entry(a)["status"] == "placed"
    with pytest.raises(errors.PlaceUnavailable):
        app.issue_offer(by=EDU, queue_id=q, institution="k2", birth_year=2023, place="p", at=T0 + days(17))
    with pytest.raises(errors.EntryNotActive):
        app.withdraw_entry(by=citizen(1), queue_id=q, entry=a, at=T0 + days(17))


def test_preferences_withdraw_remove(app: CityApp) -> None:
    q = queue(app)
    a = reg(app, q, 1, 0)
    b = reg(app, q, 2, 0)
    with pytest.raises(errors.NotAuthorised):
        app.change_preferences(by=citizen(2), queue_id=q, entry=a, institutions=["k2"], at=T0)
    with pytest.raises(errors.InvalidInput):
        app.change_preferences(by=citizen(1), queue_id=q, entry=a, institutions=["k1"], at=T0)
    app.change_preferences(by=citizen(1), queue_id=q, entry=a, institutions=["k2", "k1"], at=T0 + days(1))
    assert app.get_kindergarten_queue(q).entry(a)["registered_at"] == "2026-03-02T09:00:00.000000Z"
    o = app.issue_offer(by=EDU, queue_id=q, institution="k2", birth_year=2023, place="p", at=T0 + days(1))
    app.withdraw_entry(by=citizen(1), queue_id=q, entry=a, at=T0 + days(2))
    qa = app.get_kindergarten_queue(q)
    assert qa.offer(o)["status"] == "cancelled" and qa.state["held"] == {}
    with pytest.raises(errors.UnknownReasonCode):
        app.remove_entry(by=EDU, queue_id=q, entry=b, reason_code="dislike", at=T0 + days(3))
    with pytest.raises(errors.MissingScope):
        app.remove_entry(by=CITY, queue_id=q, entry=b, reason_code="duplicate", at=T0 + days(3))
    app.remove_entry(by=EDU, queue_id=q, entry=b, reason_code="duplicate", at=T0 + days(3))
    assert app.kindergarten_list(q, "k1", 2023) == []
    # after removal, the child may be registered again
    reg(app, q, 2, 4)


def test_two_offers_for_one_place_cannot_both_succeed(app: CityApp, monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(app)
    reg(app, q, 1, 0)
    reg(app, q, 2, 1)
    stale = app.get_kindergarten_queue(q)
    # writer 1 decides on the stale copy and saves first
    writer1 = app.get_kindergarten_queue(q)
    writer1.issue_offer(institution="k1", birth_year=2023, place="p", at=T0 + days(2), actor=EDU.as_dict())
    app.save(writer1)
    # writer 2 decided on the same version: its save conflicts ...
    stale.issue_offer(institution="k1", birth_year=2023, place="p", at=T0 + days(2), actor=EDU.as_dict())
    from eventsourcing.persistence import IntegrityError

    with pytest.raises(IntegrityError):
        app.save(stale)
    # ... and through the app the command is re-decided on fresh state
    with pytest.raises(errors.PlaceUnavailable):
        app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(2))
    offers = [e for e in app.events.get(q) if type(e).TYPE == "kindergarten.offer_issued"]
    assert len(offers) == 1


def test_concurrent_offer_is_redecided(app: CityApp, monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(app)
    reg(app, q, 1, 0)
    stale = app.get_kindergarten_queue(q)
    real = app._current
    first = {"done": False}

    def racing_current(aggregate_id, cls, what):  # type: ignore[no-untyped-def]
        # another writer (process) saves an offer between this command's version check and its save
        if cls is KindergartenQueue and not first["done"]:
            first["done"] = True
            other = app._get(aggregate_id, cls, what)
            other.issue_offer(institution="k1", birth_year=2023, place="p", at=T0 + days(2), actor=EDU.as_dict())
            app.save(other)
            return stale
        return real(aggregate_id, cls, what)

    monkeypatch.setattr(app, "_current", racing_current)
    with pytest.raises(errors.PlaceUnavailable):
        app.issue_offer(by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", at=T0 + days(2))


def test_concurrent_modification_after_retries(app: CityApp, monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(app)
    e = reg(app, q, 1, 0)
    stale = app.get_kindergarten_queue(q)
    app.change_preferences(by=citizen(1), queue_id=q, entry=e, institutions=["k2"], at=T0)
    import copy

    monkeypatch.setattr(app, "_current", lambda *a: copy.deepcopy(stale))
    with pytest.raises(errors.ConcurrentModification):
        app.withdraw_entry(by=citizen(1), queue_id=q, entry=e, at=T0 + days(1))


def test_all_group_orders_match_single_group_orders(app: CityApp) -> None:
    from domain.kindergarten.order import group_order, kindergarten_orders

    q = queue(app)
    for i in range(12):
        reg(app, q, i, i / 2, insts=[["k1"], ["k2", "k1"], ["k3"]][i % 3], year=2022 + i % 2)
    state = app.get_kindergarten_queue(q).state
    orders = kindergarten_orders(state)
    assert orders == {
        f"{i}/{y}": group_order(state, i, y)
        for i in ("k1", "k2", "k3")
        for y in (2022, 2023)
        if group_order(state, i, y)
    }
