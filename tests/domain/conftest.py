"""Fixtures for the domain tests: a CityApp on in-memory (POPO) persistence, a vault, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.app import CityApp
from domain.identity import Actor, CitizenIdentity, Pseudonymizer
from domain.pii import InMemoryKeyValueStore, PersonalDataVault

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
OPERATOR = Actor.system("operator")
EDU = Actor.service("kyiv.education")
CITY = Actor.service("kyiv.city")
HOUSING = Actor.service("kyiv.housing")
KEYS = {1: b"k" * 32, 2: b"q" * 32}
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def citizen(n: int | str, method: str = "diia", **kw: object) -> CitizenIdentity:
    return CitizenIdentity(subject=f"diia:{n}", method=method, **kw)  # type: ignore[arg-type]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def make_app(env: dict[str, str] | None = None, **kw: object) -> CityApp:
    app = CityApp(
        env=env or POPO,
        pseudonymizer=Pseudonymizer(KEYS, current=1),
        vault=PersonalDataVault(InMemoryKeyValueStore(), b"m" * 32),
        **kw,  # type: ignore[arg-type]
    )
    app.register_service(
        by=OPERATOR, service="kyiv.education", name="Education", scopes=["queue:kindergarten:*"], at=T0
    )
    app.register_service(
        by=OPERATOR,
        service="kyiv.city",
        name="City council",
        scopes=["petition:*", "ballot:open", "ballot:close"],
        at=T0,
    )
    app.register_service(by=OPERATOR, service="kyiv.housing", name="Housing", scopes=["queue:housing:*"], at=T0)
    return app


@pytest.fixture
def app() -> Iterator[CityApp]:
    a = make_app()
    yield a
    a.close()
