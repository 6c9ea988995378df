"""Property-based run over the whole OpenAPI schema (schemathesis): no 5xx and every response conforms to the
schema, on SQLite and PostgreSQL. Bounded: a few examples per operation and a per-operation time budget, so the
whole run stays well under three minutes."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from api.settings import ApiSettings
from ledger.config import Settings
from ledger.runtime import Ledger

MAX_EXAMPLES = 12
BUDGET_SECONDS = 6.0  # per operation and database

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.content_type_conformance,
]


@pytest.fixture
def fuzz(ledger: Any, clock: Any) -> Iterator[dict[str, Any]]:
    settings_ = ApiSettings(citizen_rate=1e6, citizen_burst=10**6, service_rate=1e6, service_burst=10**6)
    app = create_app(ledger, settings=settings_, clock=clock, create_tables=False)
    key = add_service(ledger, "fuzz.service", ["*"])
    token = DevIssuer(ledger.settings.data_dir).issue("fuzzer", age=30, district="podil")
    # something to find: a published petition, an open ballot and a queue with an entry
    with TestClient(app) as c:
        svc = {"Authorization": f"Bearer {key}"}
        cit = {"Authorization": f"Bearer {token}"}
        pid = c.post("/v1/petitions", json={"title": "t", "text": "t"}, headers=cit).json()["petition_id"]
        c.post(f"/v1/petitions/{pid}/publish", headers=svc)
        ledger.integrate_and_checkpoint()
    CURRENT.app = app
    yield {"app": app, "service": svc, "citizen": cit, "deadline": 0.0}
    CURRENT.app = None


class _CurrentApp:
    """The ASGI app schemathesis calls: each test points it at its own app (fresh database)."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


CURRENT = _CurrentApp()


def _load_schema() -> Any:
    with tempfile.TemporaryDirectory() as tmp, Ledger(Settings(data_dir=Path(tmp), origin="schema.local/x")) as ledger:
        CURRENT.app = create_app(ledger)
        loaded = schemathesis.openapi.from_asgi("/openapi.json", CURRENT)
        CURRENT.app = None
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_no_server_errors_and_schema_conformance(case: Any, fuzz: dict[str, Any]) -> None:
    if not fuzz["deadline"]:
        fuzz["deadline"] = time.monotonic() + BUDGET_SECONDS
    if time.monotonic() > fuzz["deadline"]:
        return  # this operation's time budget is spent
    summary = (case.operation.definition.raw.get("summary") or "").lower()
    citizen_op = "citizen" in summary and "service:" not in summary
    headers = dict(case.headers or {})
    if "authorization" not in {k.lower() for k in headers}:
        headers.update(fuzz["citizen"] if citizen_op else fuzz["service"])
    case.headers = headers
    case.call_and_validate(checks=CHECKS)
