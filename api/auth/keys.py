"""Service API keys: `hk_<key id>_<secret>`; only SHA-256(secret) is stored (table `api_keys`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from api.schema import api_keys
from domain.identity import validate_scope

KEY_PREFIX = "hk_"
_KEY_RE = re.compile(r"^hk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ServiceKey:
    key_id: str
    service: str
    scopes: tuple[str, ...]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def create_key(engine: Engine, service: str, scopes: Iterable[str]) -> str:
    """Create a key for `service` with `scopes`; return the key (shown once, never stored)."""
    scope_list = sorted({validate_scope(s) for s in scopes})
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                service=service,
                scopes=json.dumps(scope_list),
                secret_hash=_hash(secret),
                created_at=_now(),
            )
        )
    return f"{KEY_PREFIX}{key_id}_{secret}"


def revoke_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        res = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    return bool(res.rowcount)


def revoke_service_keys(engine: Engine, service: str) -> int:
    """Revoke every active key of `service` (its revocation in the log); return how many were revoked."""
    with engine.begin() as conn:
        res = conn.execute(
            update(api_keys)
            .where(api_keys.c.service == service, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    return int(res.rowcount)


def list_keys(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
    return [
        {
            "key_id": r.key_id,
            "service": r.service,
            "scopes": json.loads(r.scopes),
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


class KeyVerifier:
    """Checks bearer keys against the table; caches positive answers briefly (revocation takes ≤ ttl)."""

    def __init__(self, engine: Engine, ttl: float = 30.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ServiceKey]] = {}

    def cached(self, token: str, now: float) -> ServiceKey | None:
        """The key from the cache, without touching the database (None: not cached or expired)."""
        hit = self._cache.get(token)
        return hit[1] if hit is not None and hit[0] > now else None

    def forget_service(self, service: str) -> None:
        """Drop the cached keys of `service` (revoked here: this process stops accepting them at once; other
        processes within their ttl, and the domain refuses a revoked service's writes anyway)."""
        for token, (_, key) in list(self._cache.items()):
            if key.service == service:
                self._cache.pop(token, None)

    def verify(self, token: str, now: float) -> ServiceKey | None:
        m = _KEY_RE.fullmatch(token)
        if m is None:
            return None
        key_id, secret = m.groups()
        digest = _hash(secret)
        hit = self.cached(token, now)
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(bytes(row.secret_hash), digest):
            return None
        key = ServiceKey(key_id, row.service, tuple(json.loads(row.scopes)))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self.ttl, key)
        return key


def add_service(
    ledger: Any, service: str, scopes: list[str], name: str | None = None, at: datetime | None = None
) -> str:
    """Register `service` in the log (or update its scopes) and return a new API key for it (`ledger`: an open
    `ledger.runtime.Ledger` with the city app). `hromada service add` and the tests call it; `at` is the time of
    the decision (now by default; a test on a simulated clock passes its own)."""
    from domain.errors import NotFound, ServiceNotRegistered
    from domain.identity import Actor

    app = ledger.app
    operator = Actor.system("operator")
    now = datetime.now(UTC) if at is None else at
    try:
        current = app.get_service(service)
    except (ServiceNotRegistered, NotFound):
        current = None
    if current is not None and current.revoked:
        from domain.errors import ServiceRevoked

        raise ServiceRevoked("service was revoked: it gets no new key (register a new service id)", service=service)
    if current is None:
        app.register_service(by=operator, service=service, name=name or service, scopes=scopes, at=now)
    elif sorted(set(current.state["scopes"])) != sorted(set(scopes)):
        app.change_service_scopes(
            by=operator, service=service, scopes=sorted(set(scopes) | set(current.state["scopes"])), at=now
        )
    return create_key(ledger.engine, service, scopes)


def revoke_service(ledger: Any, service: str, reason: str, by: Any = None) -> int:
    """Revoke `service` in the log (``service.revoked``, by the operator unless `by` says who) and then every API key
    it holds; return how many keys were revoked. `hromada service revoke` calls it; the API route runs the same two
    steps (api/routers/services.py). The log's revocation comes first: a key revoked without it could be re-issued
    by `service add`, while a revoked service's writes are refused by the domain whatever key it shows."""
    from domain.identity import Actor

    ledger.app.revoke_service(by=by or Actor.system("operator"), service=service, reason=reason, at=datetime.now(UTC))
    return revoke_service_keys(ledger.engine, service)


def change_service_scopes(ledger: Any, service: str, scopes: list[str], by: Any = None) -> None:
    """Replace the scopes `service` holds in the log (``service.scopes_changed``). Its API keys keep their own
    scopes; a write needs the scope on the key (checked by the API) and in the log (checked by the domain), so
    narrowing the service narrows every key it holds."""
    from domain.identity import Actor

    ledger.app.change_service_scopes(
        by=by or Actor.system("operator"), service=service, scopes=scopes, at=datetime.now(UTC)
    )
