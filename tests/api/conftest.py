"""Fixtures: a real ledger (SQLite file and PostgreSQL via `database_url`) behind the HTTP app, API keys for
services, development ID tokens for citizens, and a controllable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from api.schema import API_TABLES
from api.settings import ApiSettings
from ledger.config import Settings
from ledger.db.schema import metadata
from ledger.runtime import Ledger

ORIGIN = "test.hromada.local/api"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The API's clock in a test. Everything the fixtures write is at or before it (the statutes before any clock,
    services at its time): a fixture writing at real time after it was made would put the log's latest time ahead
    of it, the writer would move the test's next commands up to that time, and two of them one `advance` apart
    could carry the same time."""
    return Clock(datetime.now(UTC).replace(microsecond=0))


#: The shipped statutes are published this long before a test's clock starts (a fresh log per test).
STATUTES_BEFORE = timedelta(minutes=10)


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN, checkpoint_every_events=1)
    with Ledger(settings) as ledger:
        metadata.create_all(ledger.engine, tables=API_TABLES)
        publish_statutes(ledger, at=datetime.now(UTC) - STATUTES_BEFORE)
        yield ledger


def publish_statutes(ledger: Ledger, at: datetime | None = None) -> None:
    """The city of the tests has published the shipped statutes (kyiv, sumy, hradyzk) as its rule sets, as its legal
    department (`city.legal`, `rules:admin`) would before the first petition."""
    from domain.identity import Actor
    from domain.petitions.rules import STATUTES

    at = at or datetime.now(UTC)
    add_service(ledger, "city.legal", ["rules:admin"], at=at)
    for doc in STATUTES.values():
        ledger.app.publish_rule_set(by=Actor.service("city.legal"), **doc, at=at)


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings(citizen_rate=1000, citizen_burst=1000, service_rate=1000, service_burst=1000)


@pytest.fixture
def client(ledger: Ledger, clock: Clock, api_settings: ApiSettings) -> Iterator[TestClient]:
    app = create_app(ledger, settings=api_settings, clock=clock, create_tables=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def service_key(ledger: Ledger, clock: Clock) -> Callable[..., dict[str, str]]:
    """`service_key("city.council", "petition:*")` -> Authorization header with a new key (registered at the
    test's clock)."""

    def make(service: str, *scopes: str) -> dict[str, str]:
        key = add_service(ledger, service, list(scopes), at=clock())
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def citizen(tmp_path: Path) -> Callable[..., dict[str, str]]:
    issuer = DevIssuer(tmp_path)

    def make(sub: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(sub, **kw)}"}

    return make


def integrate(ledger: Ledger) -> None:
    ledger.integrate_and_checkpoint()


def problem(resp: Any, status: int, slug: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"https://hromada.example/problems/{slug}", body
    assert body["status"] == status
    return body


@pytest.fixture
def rule_set(client: TestClient, service_key: Callable[..., dict[str, str]]) -> Callable[..., str]:
    """`rule_set("kyiv")` publishes that shipped statute as it is; `rule_set(threshold=2)` a rule set of the city's
    (the Hradyzk statute with the changes, under a new name): through `POST /v1/rule-sets`, as the city's legal
    department (`rules:admin`). Returns the name a petition gives as its `rule_set`."""
    from domain.petitions.rules import STATUTES

    admin: list[dict[str, str]] = []
    made: list[str] = []

    def make(base: str = "hradyzk", **changes: Any) -> str:
        doc = STATUTES[base]
        if not changes:
            return base  # published with the ledger (publish_statutes)
        if not admin:
            admin.append(service_key("city.legal.tests", "rules:admin"))
        name = f"{base}-test-{len(made) + 1}"
        body = {**doc, "ruleset": name, "rules": {**doc["rules"], **changes}}
        r = client.post("/v1/rule-sets", json=body, headers=admin[0])
        assert r.status_code == 201, r.text
        made.append(name)
        return name

    return make


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium for the receipt page's tests, one per module (a module that needs more, such as the
    accessibility checker, defines its own)."""
    from tests.api.receipt_site import chromium, chromium_paths  # receipt_site imports this conftest

    if chromium_paths() is None:
        pytest.fail("chromium/chromedriver missing: apt-get install chromium chromium-driver (tests install nothing)")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as drv:
        yield drv
