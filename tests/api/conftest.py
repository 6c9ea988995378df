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
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN, checkpoint_every_events=1)
    with Ledger(settings) as ledger:
        metadata.create_all(ledger.engine, tables=API_TABLES)
        yield ledger


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings(citizen_rate=1000, citizen_burst=1000, service_rate=1000, service_burst=1000)


@pytest.fixture
def client(ledger: Ledger, clock: Clock, api_settings: ApiSettings) -> Iterator[TestClient]:
    app = create_app(ledger, settings=api_settings, clock=clock, create_tables=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def service_key(ledger: Ledger) -> Callable[..., dict[str, str]]:
    """`service_key("city.council", "petition:*")` -> Authorization header with a new key."""

    def make(service: str, *scopes: str) -> dict[str, str]:
        key = add_service(ledger, service, list(scopes))
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
