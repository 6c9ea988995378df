"""What the routers share: the ledger, the city app and the HTTP layer's services (one per FastAPI app), and the
dependency that gives it to a route (`StateDep`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth.keys import KeyVerifier
from api.auth.ratelimit import RateLimiter
from api.auth.tokens import TokenVerifier
from api.idempotency import IdempotencyStore
from api.metrics import Metrics
from api.settings import ApiSettings
from ledger.receipts import AnchorLookup


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApiState:
    ledger: Any
    settings: ApiSettings
    keys: KeyVerifier
    tokens: TokenVerifier
    idempotency: IdempotencyStore
    metrics: Metrics
    citizen_limits: RateLimiter
    service_limits: RateLimiter
    anonymous_limits: RateLimiter
    clock: Callable[[], datetime] = utc_now
    anchor_lookup_override: AnchorLookup | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.ledger.app

    @property
    def anchor_lookup(self) -> AnchorLookup | None:
        if self.anchor_lookup_override is not None:
            return self.anchor_lookup_override
        lookup: AnchorLookup | None = getattr(self.ledger, "anchor_lookup", None)
        return lookup


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]
