"""The writer's clock (domain/sequencing.py): event time never goes backwards in log order. A command up to MAX_LAG
behind the log's latest event is written with that event's time; one further back is refused with TimeBeforeLog and
writes nothing; a refused command moves no clock; the clock starts at the last stored event."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.base import rfc3339
from domain.housing.aggregate import HousingRegister
from domain.identity import Pseudonymizer
from domain.pii import InMemoryKeyValueStore, PersonalDataVault
from domain.sequencing import MAX_LAG, NestedDecision
from tests.domain.conftest import HOUSING, KEYS, OPERATOR, T0, citizen, days, make_app

US = timedelta(microseconds=1)


def log(app: CityApp) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10**6)]


def vault_items(app: CityApp) -> dict[str, bytes]:
    store = app.vault._store  # type: ignore[union-attr]
    assert isinstance(store, InMemoryKeyValueStore)
    return dict(store._data)


def register_entry(app: CityApp, r: UUID, n: int, at: datetime) -> str:
    return app.register_housing_entry(by=citizen(n), register_id=r, household_data={"address": f"вул. {n}"}, at=at)


def times(app: CityApp) -> list[datetime]:
    return [e.timestamp for e in log(app)]


def test_a_time_further_back_than_max_lag_is_refused_and_writes_nothing(app: CityApp) -> None:
    r = app.open_housing_register(by=HOUSING, name="h", at=T0 + days(1))
    last = T0 + days(1)
    assert app.sequencer.last == last
    before, sealed = log(app), vault_items(app)
    with pytest.raises(errors.TimeBeforeLog) as info:
        register_entry(app, r, 1, last - MAX_LAG - US)  # sealing the household data would be a vault write
    assert info.value.code == "time_before_log" and info.value.status == 409
    assert info.value.evidence == {"expected": f">= {rfc3339(last)}", "found": rfc3339(last - MAX_LAG - US)}
    assert log(app) == before and vault_items(app) == sealed  # nothing in the log, nothing in the vault
    assert app.sequencer.last == last
    assert app.get_housing_register(r).state["entries"] == {}
    # the same for a command that creates an aggregate, and for one far back
    with pytest.raises(errors.TimeBeforeLog):
        app.open_housing_register(by=HOUSING, name="h2", at=T0)
    assert log(app) == before
    # exactly MAX_LAG behind is still a lag: written, at the log's latest time
    register_entry(app, r, 1, last - MAX_LAG)
    assert times(app)[-1] == last


def test_a_lag_within_max_lag_is_written_with_the_previous_events_time(app: CityApp) -> None:
    last = T0 + days(1)
    r = app.open_housing_register(by=HOUSING, name="h", at=last)
    a = register_entry(app, r, 1, last - timedelta(seconds=30))
    ev = log(app)[-1]
    assert type(ev).TYPE == "housing.entry_registered" and ev.timestamp == last  # clamped, not 30 s back
    assert app.get_housing_register(r).entry(a)["registered_at"] == rfc3339(last)  # the decision used the clamped time
    b = register_entry(app, r, 2, last + timedelta(seconds=1))  # a later time is taken as it is
    assert times(app)[-1] == last + timedelta(seconds=1) == app.sequencer.last
    assert app.housing_list(r, "general") == [a, b]
    assert times(app) == sorted(times(app))


def test_a_refused_command_moves_no_clock(app: CityApp) -> None:
    r = app.open_housing_register(by=HOUSING, name="h", at=T0)
    a = register_entry(app, r, 1, T0)
    n = len(log(app))
    with pytest.raises(errors.DuplicateEntry):  # decided at T0 + 10 days and refused by the domain
        register_entry(app, r, 1, T0 + days(10))
    with pytest.raises(errors.UnknownReasonCode):
        app.remove_housing_entry(by=HOUSING, register_id=r, entry=a, reason_code="nope", at=T0 + days(20))
    assert app.sequencer.last == T0 and len(log(app)) == n
    b = register_entry(app, r, 2, T0 + days(1))  # long before the refused times: neither moved the clock
    assert log(app)[-1].timestamp == T0 + days(1)
    assert app.get_housing_register(r).entry(b)["registered_at"] == rfc3339(T0 + days(1))


def test_a_save_that_conflicts_still_moves_the_clock(app: CityApp) -> None:
    """Its events were queued in decision order before the store refused them (with a group committer, the next
    decision may already have started on that time), so the clock stays moved. Nothing later is lawful that is
    before a time a decision already queued; the cost is only that a simulated clock cannot step back to before it."""
    n = len(log(app))
    with pytest.raises(errors.ServiceAlreadyRegistered):  # a conflict on commit (the stream exists)
        app.register_service(by=OPERATOR, service="kyiv.housing", name="Again", scopes=[], at=T0 + days(1))
    assert len(log(app)) == n
    assert app.sequencer.last == T0 + days(1)


def test_the_clock_starts_at_the_last_stored_event(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "log.sqlite")}

    def start() -> CityApp:
        vault = PersonalDataVault(InMemoryKeyValueStore(), b"m" * 32)
        return CityApp(env=env, pseudonymizer=Pseudonymizer(KEYS, current=1), vault=vault)

    first = start()
    assert first.sequencer.last is None  # an empty log: any time goes
    first.register_service(by=OPERATOR, service="kyiv.housing", name="Housing", scopes=["queue:housing:*"], at=T0)
    r = first.open_housing_register(by=HOUSING, name="h", at=T0 + days(3))
    first.close()

    second = start()  # a restart (its clock may be set back): the constructor rebuilds the projections
    assert second.sequencer.last == T0 + days(3)
    n = len(log(second))
    with pytest.raises(errors.TimeBeforeLog):
        register_entry(second, r, 1, T0 + days(1))
    assert len(log(second)) == n
    register_entry(second, r, 1, T0 + days(3) - timedelta(seconds=5))
    assert log(second)[-1].timestamp == T0 + days(3)
    # rebuild_projections itself moves the clock: another writer appended to the same store meanwhile
    third = start()
    register_entry(third, r, 2, T0 + days(4))
    third.close()
    second.rebuild_projections()
    assert second.sequencer.last == T0 + days(4)
    with pytest.raises(errors.TimeBeforeLog):
        register_entry(second, r, 3, T0 + days(3) + timedelta(hours=1))
    second.close()


def test_saving_outside_a_decision_is_refused() -> None:
    app = make_app()
    r = app.open_housing_register(by=HOUSING, name="h", at=T0)
    n = len(log(app))
    reg = app.get_housing_register(r)
    assert isinstance(reg, HousingRegister)
    reg.register(
        applicant="cit:v1:" + "a" * 64, household_commitment="sha256:" + "b" * 64, at=T0, actor=HOUSING.as_dict()
    )
    with pytest.raises(RuntimeError, match="outside a decision"):
        app._save(reg)
    assert len(log(app)) == n and app.get_housing_register(r).state["entries"] == {}
    with app.sequencer.deciding(T0) as now:  # inside a decision the same save goes through
        assert now == T0
        with pytest.raises(NestedDecision), app.sequencer.deciding(T0):  # decisions do not nest
            pass
        app._save(reg)
    assert len(log(app)) == n + 1
    app.close()
