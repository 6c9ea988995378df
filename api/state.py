"""What the routers share: the ledger, the city app and the HTTP layer's services (one per FastAPI app)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.idempotency import IdempotencyStore
from api.keys import KeyVerifier
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.tokens import TokenVerifier
from domain.identity import Actor, CitizenIdentity
from ledger.receipts import AnchorLookup


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServicePrincipal:
    service: str
    scopes: tuple[str, ...]
    key_id: str

    @property
    def actor(self) -> Actor:
        return Actor.service(self.service)

    @property
    def key(self) -> str:
        return f"service:{self.service}"


@dataclass(frozen=True)
class CitizenPrincipal:
    identity: CitizenIdentity
    issuer: str

    @property
    def key(self) -> str:
        # Not the subject itself: a hash is enough to key buckets and idempotency records.
        return "citizen:" + hashlib.sha256(self.identity.subject.encode()).hexdigest()[:32]


Principal = ServicePrincipal | CitizenPrincipal


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
