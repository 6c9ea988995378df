"""The HTTP application: `create_app(ledger)` is what `hromada serve` runs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import capture, problems
from api.auth.deps import limit_requests
from api.auth.keys import KeyVerifier
from api.auth.ratelimit import RateLimiter
from api.auth.tokens import TokenVerifier
from api.booth import mount_booth
from api.idempotency import IdempotencyStore
from api.metrics import Metrics
from api.receipt_page import page_config
from api.schema import API_TABLES
from api.serving.bodies import BodyGuard
from api.settings import ApiSettings
from api.state import ApiState, utc_now
from ledger.db.schema import metadata

STATIC = Path(__file__).parent / "static"

DESCRIPTION = """\
Hromada Ledger: city petitions, ballots and queues as events in a signed, anchored Merkle log.

* **Services** authenticate with an API key (`Authorization: Bearer hk_…`), checked against its scopes.
* **Citizens** authenticate with an OpenID Connect ID token (`Authorization: Bearer <JWT>`).
* Every write accepts an `Idempotency-Key` header; a retry returns the first answer.
* Every error is an RFC 9457 problem (`application/problem+json`) with a stable `type`.
* Writes answer with the event ids and leaf hashes; `GET /v1/receipts/{event_id}` gives the receipt.
"""


class MetricsMiddleware:
    """Pure ASGI middleware: request counts and latency per route template (refusals of api/serving/bodies.py
    included)."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = route_label(scope)
            self.state.metrics.observe(scope["method"], path, status, time.perf_counter() - start)


def route_label(scope: Scope) -> str:
    """The route template of a handled request: FastAPI's own routes name themselves in `scope["route"]`; the
    plain Starlette routes FastAPI adds (/openapi.json, /docs, /redoc) leave only their endpoint, looked up in the
    application's routes. Anything else is "unmatched"."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    endpoint = scope.get("endpoint")
    app = scope.get("app")
    if endpoint is not None and app is not None:
        for route in getattr(app, "routes", ()):
            if getattr(route, "endpoint", None) is endpoint and getattr(route, "path", None):
                return str(route.path)
    return "unmatched"


def create_app(
    ledger: Any,
    *,
    settings: ApiSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    create_tables: bool = True,
    http_client: Any = None,
    bundle_anchors: Callable[[], tuple[dict[str, Any] | None, Any]] | None = None,
) -> FastAPI:
    """The FastAPI application over an open `ledger.runtime.Ledger` (with the city app). `bundle_anchors`, from
    the composition root, gives the chain and the anchors that GET /v1/export puts in a bundle."""
    settings = settings or ApiSettings()
    if create_tables:  # until the Alembic migration for the API tables lands; harmless afterwards
        metadata.create_all(ledger.engine, tables=API_TABLES, checkfirst=True)
    capture.install(ledger.app)
    hot = getattr(ledger.app, "hot", None)
    if hot is not None:
        hot.enabled = settings.aggregate_cache
    state = ApiState(
        ledger=ledger,
        settings=settings,
        keys=KeyVerifier(ledger.engine),
        tokens=TokenVerifier(settings, Path(ledger.settings.data_dir), http_client),
        idempotency=IdempotencyStore(ledger.engine, settings.idempotency_hours * 3600),
        metrics=Metrics(),
        citizen_limits=RateLimiter(settings.citizen_rate, settings.citizen_burst),
        service_limits=RateLimiter(settings.service_rate, settings.service_burst),
        anonymous_limits=RateLimiter(settings.anonymous_rate, settings.anonymous_burst),
        clock=clock or utc_now,
    )
    if bundle_anchors is not None:
        state.extras["bundle_anchors"] = bundle_anchors
    if settings.group_commit:
        from ledger.groupcommit import install as install_group_commit

        state.extras["group_commit"] = install_group_commit(ledger.app, settings.group_commit_max, state.metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        gc = state.extras.get("group_commit")
        if gc is not None:
            gc.stop()

    from api.routers import (
        ballots,
        ballots_secret,
        erasures,
        housing,
        kindergarten,
        log,
        open_data,
        ops,
        petitions,
        receipts,
        rulesets,
        services,
    )

    # one router per resource, each with its OpenAPI tag; a kind of aggregate adds its router here
    routers = (petitions, rulesets, services, ballots, kindergarten, housing, erasures, receipts, log, ops, open_data)
    app = FastAPI(
        lifespan=lifespan,
        dependencies=[Depends(limit_requests)],
        title="Hromada Ledger API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[module.TAG for module in routers],
        license_info={"name": "Apache-2.0"},
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
            "operation_spans": settings.opentelemetry,
        },
    )
    app.state.api = state
    problems.install(app)
    problems.install_openapi(app)

    for module in routers:
        app.include_router(module.router)
    app.include_router(ballots_secret.router)  # encrypted ballots: under the ballots tag

    if settings.receipt_page:
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

        @app.get("/receipt-config.json", include_in_schema=False)
        def receipt_config() -> dict[str, Any]:  # the deploy-time pins of the page (api/receipt_page.py)
            return page_config(state.settings)

        mount_booth(app)

    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)  # inside the metrics: they count its 413s
    app.add_middleware(MetricsMiddleware, state=state)

    return app
