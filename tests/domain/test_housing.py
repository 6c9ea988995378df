from __future__ import annotations

from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.base import rfc3339
from tests.domain.conftest import EDU, HOUSING, OPERATOR, T0, citizen, days


def register(app: CityApp) -> UUID:
    return app.open_housing_register(by=HOUSING, name="Квартирний облік", at=T0)


def entry(app: CityApp, r: UUID, n: int, at_days: float) -> str:
    return app.register_housing_entry(
        by=citizen(n), register_id=r, household_data={"address": f"вул. {n}", "members": 3}, at=T0 + days(at_days)
    )


def test_open_validates(app: CityApp) -> None:
    with pytest.raises(errors.InvalidInput):
        app.open_housing_register(by=HOUSING, name="x", list_bases={"general": []}, at=T0)
    with pytest.raises(errors.InvalidInput):
        app.open_housing_register(by=HOUSING, name="", at=T0)
    with pytest.raises(errors.MissingScope):
        app.open_housing_register(by=EDU, name="x", at=T0)


def test_general_list_by_registration_time(app: CityApp) -> None:
    r = register(app)
    a = entry(app, r, 1, 1)
    b = entry(app, r, 2, 2)
    c = entry(app, r, 3, 3)
    # the special lists go by inclusion (c, then a): the general list still goes by registration time
    for n, e in enumerate((c, a)):
        app.include_in_list(
            by=HOUSING, register_id=r, entry=e, list_name="first_priority", code="art45.disabled",
            document={"d": str(n)}, at=T0 + days(4 + n),
        )  # fmt: skip
    assert app.housing_list(r, "first_priority") == [c, a]
    assert app.housing_list(r, "general") == [a, b, c]
    with pytest.raises(errors.DuplicateEntry):
        entry(app, r, 1, 6)
    with pytest.raises(errors.UnknownList):
        app.housing_list(r, "vip")
    # a service registering for an applicant takes its place by registration time too
    d = app.register_housing_entry(
        by=HOUSING, applicant=citizen(9), register_id=r, household_data={"a": "b"}, at=T0 + days(6)
    )
    general = app.housing_list(r, "general")
    assert general == [a, b, c, d]
    entries = app.get_housing_register(r).state["entries"]
    assert [entries[e]["registered_at"] for e in general] == [rfc3339(T0 + days(n)) for n in (1, 2, 3, 6)]
    assert general == sorted(entries, key=lambda e: (entries[e]["registered_at"], e))  # the rule's order key


def test_special_lists_by_inclusion_time(app: CityApp) -> None:
    r = register(app)
    a = entry(app, r, 1, 0)
    b = entry(app, r, 2, 1)
    app.include_in_list(
        by=HOUSING, register_id=r, entry=b, list_name="first_priority", code="art45.disabled", document={"d": "1"},
        at=T0 + days(2),
    )  # fmt: skip
    app.include_in_list(
        by=HOUSING, register_id=r, entry=a, list_name="first_priority", code="art45.combatant", document={"d": "2"},
        at=T0 + days(3),
    )  # fmt: skip
    assert app.housing_list(r, "first_priority") == [b, a]
    assert app.housing_list(r, "general") == [a, b]
    with pytest.raises(errors.AlreadyInList):
        app.include_in_list(
            by=HOUSING, register_id=r, entry=a, list_name="first_priority", code="art45.disabled",
            document={"d": "3"}, at=T0 + days(4),
        )  # fmt: skip
    with pytest.raises(errors.UnknownBenefitCode):
        app.include_in_list(
            by=HOUSING, register_id=r, entry=a, list_name="out_of_turn", code="art45.disabled", document={"d": "3"},
            at=T0 + days(4),
        )  # fmt: skip
    with pytest.raises(errors.UnknownList):
        app.include_in_list(
            by=HOUSING, register_id=r, entry=a, list_name="general", code="x", document={"d": "3"}, at=T0 + days(4)
        )
    with pytest.raises(errors.UnknownReasonCode):
        app.exclude_from_list(
            by=HOUSING, register_id=r, entry=b, list_name="first_priority", reason="x", at=T0 + days(4)
        )
    with pytest.raises(errors.NotInList):
        app.exclude_from_list(
            by=HOUSING, register_id=r, entry=b, list_name="out_of_turn", reason="basis_ended", at=T0 + days(4)
        )
    app.exclude_from_list(
        by=HOUSING, register_id=r, entry=b, list_name="first_priority", reason="basis_ended", at=T0 + days(5)
    )
    assert app.housing_list(r, "first_priority") == [a]


def test_removal_needs_legal_reason(app: CityApp) -> None:
    r = register(app)
    a = entry(app, r, 1, 0)
    with pytest.raises(errors.UnknownReasonCode):
        app.remove_housing_entry(by=HOUSING, register_id=r, entry=a, reason_code="annoying", at=T0)
    app.remove_housing_entry(by=HOUSING, register_id=r, entry=a, reason_code="art40.2", at=T0 + days(1))
    removed = list(app.events.get(r))[-1]
    assert removed.statute == "Housing Code of Ukraine, art. 40 (2)"
    assert app.housing_list(r, "general") == []
    with pytest.raises(errors.EntryNotActive):
        app.remove_housing_entry(by=HOUSING, register_id=r, entry=a, reason_code="art40.2", at=T0 + days(2))


def test_annual_reregistration_proposes_never_drops(app: CityApp) -> None:
    r = register(app)
    a = entry(app, r, 1, 0)
    b = entry(app, r, 2, 1)
    app.reregister_housing_entry(by=citizen(1), register_id=r, entry=a, year=2027, at=T0 + days(380))
    with pytest.raises(errors.AlreadyReregistered):
        app.reregister_housing_entry(by=HOUSING, register_id=r, entry=a, year=2027, at=T0 + days(381))
    with pytest.raises(errors.InvalidInput):
        app.reregister_housing_entry(by=citizen(1), register_id=r, entry=a, year=2030, at=T0 + days(381))
    late = app.register_housing_entry(by=citizen(3), register_id=r, household_data={"x": "y"}, at=T0 + days(400))
    with pytest.raises(errors.NotAuthorised):  # late's applicant is not b's
        app.reregister_housing_entry(by=citizen(3), register_id=r, entry=b, year=2027, at=T0 + days(401))
    proposed = app.propose_housing_removals(by=OPERATOR, register_id=r, year=2027, at=T0 + days(660))
    assert proposed == [b]  # a re-registered; `late` registered in 2027 itself
    assert app.housing_list(r, "general") == [a, b, late]  # nobody dropped
    ev = list(app.events.get(r))[-1]
    assert type(ev).TYPE == "housing.removal_proposed" and ev.reason_code == "reregistration_missed"
    assert app.propose_housing_removals(by=OPERATOR, register_id=r, year=2027, at=T0 + days(661)) == []
    app.reregister_housing_entry(by=citizen(2), register_id=r, entry=b, year=2027, at=T0 + days(662))
    assert app.get_housing_register(r).entry(b)["proposed"] == []


def test_allocation_in_turn(app: CityApp) -> None:
    r = register(app)
    a = entry(app, r, 1, 0)
    b = entry(app, r, 2, 1)
    with pytest.raises(errors.NoEligibleEntry):
        app.allocate_dwelling(by=HOUSING, register_id=r, list_name="out_of_turn", dwelling="f1", at=T0 + days(2))
    with pytest.raises(errors.OfferOutOfTurn) as info:
        app.allocate_dwelling(by=HOUSING, register_id=r, list_name="general", dwelling="f1", entry=b, at=T0 + days(2))
    assert info.value.evidence["expected"] == a
    with pytest.raises(errors.MissingScope):
        app.allocate_dwelling(by=EDU, register_id=r, list_name="general", dwelling="f1", at=T0 + days(2))
    assert app.allocate_dwelling(by=HOUSING, register_id=r, list_name="general", dwelling="f1", at=T0 + days(2)) == a
    with pytest.raises(errors.PlaceUnavailable):
        app.allocate_dwelling(by=HOUSING, register_id=r, list_name="general", dwelling="f1", at=T0 + days(2))
    with pytest.raises(errors.UnknownList):
        app.allocate_dwelling(by=HOUSING, register_id=r, list_name="vip", dwelling="f2", at=T0 + days(2))
    assert app.housing_list(r, "general") == [b]
