"""Who sent a request, once its credential verified: a city service (its API key) or a citizen (an ID token)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domain.identity import Actor, CitizenIdentity


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
