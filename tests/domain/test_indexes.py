"""The lookup indexes queues and registers keep as events apply (domain/kindergarten/order.py ``QueueIndex``,
domain/housing/order.py ``RegisterIndex``) answer what the scans of the whole state answer, after any sequence of
commands: the first eligible entry of every group, the due offers in issue order, the first entry of every housing
list, the active entry of each applicant. And the cached copy the commands run on equals a replay of the log."""

from __future__ import annotations

import random
from typing import Any

from domain import errors
from domain.app import CityApp
from domain.housing.aggregate import HousingRegister
from domain.housing.order import RegisterIndex, list_order
from domain.housing.rules import HOUSING_LISTS
from domain.kindergarten.aggregate import KindergartenQueue
from domain.kindergarten.order import QueueIndex, first_eligible
from domain.kindergarten.rules import BENEFIT_REVOKE_REASONS
from tests.domain.conftest import EDU, HOUSING, T0, citizen, days

INSTITUTIONS = ["k1", "k2", "k3"]
YEARS = [2022, 2023]
CODES = ["military_child", "large_family", "idp_child"]


def scan_due(state: dict[str, Any], now: str) -> list[str]:
    return [oid for oid, o in state["offers"].items() if o["status"] == "pending" and o["expires_at"] <= now]


def check_queue(app: CityApp, q: Any, now: str) -> None:
    cached = app.cache.get(q)
    assert isinstance(cached, KindergartenQueue)
    state = cached.state
    rebuilt = QueueIndex(state)  # what a fresh load builds
    for inst in INSTITUTIONS:
        for year in YEARS:
            expected = first_eligible(state, inst, year)
            assert cached.index().first_eligible(state, inst, year) == expected, (inst, year)
            assert rebuilt.first_eligible(state, inst, year) == expected
    assert cached.index().due_expiries(state, now) == scan_due(state, now) == rebuilt.due_expiries(state, now)
    assert app.get_kindergarten_queue(q).state == state  # the cached copy is the log's state


def test_queue_index_agrees_with_the_scans(app: CityApp) -> None:
    rng = random.Random(14)
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=INSTITUTIONS, at=T0)
    entries: list[tuple[str, int]] = []
    offers: list[str] = []
    t = T0
    for step in range(400):
        t += days(rng.choice([0.01, 0.5, 3]))
        op = rng.random()
        try:
            if op < 0.3 or not entries:
                n = len(entries)
                entry = app.register_kindergarten_entry(
                    by=citizen(n), queue_id=q, child_key=f"c{n}", child_data={"n": n},
                    birth_year=rng.choice(YEARS), institutions=rng.sample(INSTITUTIONS, rng.randint(1, 3)), at=t,
                )  # fmt: skip
                entries.append((entry, n))
            elif op < 0.42:
                entry, _ = rng.choice(entries)
                app.grant_benefit(by=EDU, queue_id=q, entry=entry, code=rng.choice(CODES), document={"d": 1}, at=t)
            elif op < 0.48:
                entry, _ = rng.choice(entries)
                app.revoke_benefit(
                    by=EDU, queue_id=q, entry=entry, code=rng.choice(CODES), reason=BENEFIT_REVOKE_REASONS[0], at=t
                )
            elif op < 0.54:
                entry, n = rng.choice(entries)
                app.change_preferences(
                    by=citizen(n), queue_id=q, entry=entry, institutions=rng.sample(INSTITUTIONS, 2), at=t
                )
            elif op < 0.72:
                offers.append(
                    app.issue_offer(
                        by=EDU,
                        queue_id=q,
                        institution=rng.choice(INSTITUTIONS),
                        birth_year=rng.choice(YEARS),
                        place=f"p{step}",
                        at=t,
                    )
                )
            elif op < 0.82 and offers:
                offer = rng.choice(offers)
                holder = app.kindergarten_offer(q, offer)["entry"]
                n = next(n for e, n in entries if e == holder)
                if rng.random() < 0.5:
                    app.accept_offer(by=citizen(n), queue_id=q, offer=offer, at=t)
                else:
                    app.decline_offer(by=citizen(n), queue_id=q, offer=offer, at=t)
            elif op < 0.88:
                app.expire_due_offers(by=EDU, queue_id=q, at=t)
            elif op < 0.94:
                entry, n = rng.choice(entries)
                app.withdraw_entry(by=citizen(n), queue_id=q, entry=entry, at=t)
            else:
                entry, _ = rng.choice(entries)
                app.remove_entry(by=EDU, queue_id=q, entry=entry, reason_code="duplicate", at=t)
        except errors.DomainError:
            pass
        if step % 20 == 0:
            check_queue(app, q, (t + days(rng.choice([0, 10, 40]))).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    check_queue(app, q, (t + days(60)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    kinds = {type(e).TYPE for e in app.events.get(q)}
    assert {"kindergarten.offer_issued", "kindergarten.offer_expired", "kindergarten.benefit_revoked"} <= kinds


def check_register(app: CityApp, reg: Any) -> None:
    cached = app.cache.get(reg)
    assert isinstance(cached, HousingRegister)
    state = cached.state
    rebuilt = RegisterIndex(state)
    for name in HOUSING_LISTS:
        order = list_order(state, name)
        expected = order[0] if order else None
        assert cached.index().first(state, name) == expected == rebuilt.first(state, name), name
    active = {e["applicant"]: eid for eid, e in state["entries"].items() if e["status"] == "active"}
    assert cached.index().active == active == rebuilt.active
    assert app.get_housing_register(reg).state == state


def test_register_index_agrees_with_the_scans(app: CityApp) -> None:
    rng = random.Random(41)
    reg = app.open_housing_register(by=HOUSING, name="r", at=T0)
    entries: list[tuple[str, int]] = []
    t = T0
    for step in range(300):
        t += days(0.2)
        op = rng.random()
        try:
            if op < 0.35 or not entries:
                n = rng.randrange(120)  # some applicants try twice: DuplicateEntry while active
                entries.append(
                    (app.register_housing_entry(by=citizen(n), register_id=reg, household_data={"n": n}, at=t), n)
                )
            elif op < 0.55:
                entry, _ = rng.choice(entries)
                name = rng.choice(["first_priority", "out_of_turn"])
                code = "art45.combatant" if name == "first_priority" else "art46.orphan"
                app.include_in_list(
                    by=HOUSING, register_id=reg, entry=entry, list_name=name, code=code, document={"d": 1}, at=t
                )
            elif op < 0.62:
                state = app.get_housing_register(reg).state
                listed = [(eid, name) for eid, e in state["entries"].items() for name in e["lists"]]
                entry, name = rng.choice(listed) if listed else (entries[0][0], "out_of_turn")
                app.exclude_from_list(
                    by=HOUSING, register_id=reg, entry=entry, list_name=name, reason="basis_ended", at=t
                )
            elif op < 0.8:
                app.allocate_dwelling(
                    by=HOUSING, register_id=reg, list_name=rng.choice(HOUSING_LISTS), dwelling=f"d{step}", at=t
                )
            else:
                entry, _ = rng.choice(entries)
                app.remove_housing_entry(by=HOUSING, register_id=reg, entry=entry, reason_code="art40.2", at=t)
        except errors.DomainError:
            pass
        if step % 20 == 0:
            check_register(app, reg)
    check_register(app, reg)
    kinds = {type(e).TYPE for e in app.events.get(reg)}
    assert {"housing.dwelling_allocated", "housing.list_excluded", "housing.entry_removed"} <= kinds
