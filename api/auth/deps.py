"""`Annotated` dependencies of authentication: the caller of every request (a verified service key or citizen
token, or nobody) and its rate limit, the principal a route requires, scope checks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth.keys import looks_like_key
from api.auth.principals import CitizenPrincipal, Principal, ServicePrincipal
from api.auth.ratelimit import retry_after_header
from api.auth.tokens import NeedsFetch
from api.problems import ApiProblem
from api.state import ApiState, StateDep
from domain.identity import has_scope

bearer = HTTPBearer(
    auto_error=False,
    description="A service API key (`hk_…`) or a citizen's OpenID Connect ID token (JWT).",
)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_UNAUTH = {"WWW-Authenticate": "Bearer"}


def enforce_rate_limit(state: ApiState, principal: Principal) -> None:
    """Take one request from the principal's token bucket, or refuse with 429 and Retry-After."""
    limiter = state.service_limits if isinstance(principal, ServicePrincipal) else state.citizen_limits
    wait = limiter.take(principal.key)
    if wait > 0:
        raise ApiProblem(
            429,
            "rate-limited",
            "Too many requests",
            f"rate limit for {principal.key.split(':')[0]}s; retry in {wait:.2f} s",
            headers=retry_after_header(wait),
        )


def _limit_anonymous(request: Request, state: ApiState) -> None:
    """Take one request from the client address's anonymous bucket, or refuse with 429 and Retry-After."""
    client = request.client.host if request.client else "unknown"
    wait = state.anonymous_limits.take(f"anonymous:{client}")
    if wait > 0:
        raise ApiProblem(
            429,
            "rate-limited",
            "Too many requests",
            f"rate limit per client address; retry in {wait:.2f} s",
            headers=retry_after_header(wait),
        )


async def _verify(state: ApiState, token: str) -> Principal:
    """The principal of a bearer token, or ApiProblem(401). Async on purpose: dependencies that are plain
    functions each cost a thread hop. Only database lookups (an API key not in the cache) and JWKS fetches leave
    the event loop."""
    if looks_like_key(token):
        now = time.monotonic()
        key = state.keys.cached(token, now) or await run_in_threadpool(state.keys.verify, token, now)
        if key is None:
            raise ApiProblem(401, "invalid-token", "Invalid token", "unknown or revoked API key", headers=_UNAUTH)
        return ServicePrincipal(key.service, key.scopes, key.key_id)
    try:
        identity, issuer = state.tokens.verify(token, may_fetch=False)
    except NeedsFetch:
        identity, issuer = await run_in_threadpool(state.tokens.verify, token)
    return CitizenPrincipal(identity, issuer)


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the verified principal, or None (no credential, or one that did not verify: then
    `refusal` is the 401 a route that needs a principal answers)."""

    principal: Principal | None
    refusal: ApiProblem | None = None


async def identify(request: Request, state: StateDep, credentials: Credentials) -> Caller:
    """Once per request (FastAPI caches it; the app runs it for every route): verify the credential and take one
    request from one bucket, the principal's when it verified, else the client address's anonymous one. A
    credential that does not verify counts as none, so junk tokens cannot skip the anonymous limit, and the 401
    for them is rate-limited too."""
    if credentials is not None:
        try:
            principal = await _verify(state, credentials.credentials)
        except ApiProblem as refusal:
            _limit_anonymous(request, state)
            return Caller(None, refusal)
        enforce_rate_limit(state, principal)
        return Caller(principal)
    _limit_anonymous(request, state)
    return Caller(None)


CallerDep = Annotated[Caller, Depends(identify)]


async def limit_requests(caller: CallerDep) -> None:
    """App-wide dependency: every request is identified and rate-limited (in `identify`) before its route runs."""


async def authenticate(caller: CallerDep) -> Principal | None:
    """The verified principal, None without a credential; a credential that did not verify is refused (401)."""
    if caller.refusal is not None:
        raise caller.refusal
    return caller.principal


OptionalPrincipal = Annotated[Principal | None, Depends(authenticate)]


async def require_principal(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise ApiProblem(401, "unauthenticated", "Authentication required", "send a bearer token", headers=_UNAUTH)
    return principal


AnyPrincipal = Annotated[Principal, Depends(require_principal)]


async def require_citizen(principal: AnyPrincipal) -> CitizenPrincipal:
    if not isinstance(principal, CitizenPrincipal):
        raise ApiProblem(403, "forbidden", "Forbidden", "only citizens (with an identity token) may do this")
    return principal


Citizen = Annotated[CitizenPrincipal, Depends(require_citizen)]


def service_scope(scope: str) -> Callable[[Principal], Awaitable[ServicePrincipal]]:
    """Dependency: a service whose API key holds `scope` (the log's registration is checked by the domain)."""

    async def dep(principal: AnyPrincipal) -> ServicePrincipal:
        if not isinstance(principal, ServicePrincipal):
            raise ApiProblem(403, "forbidden", "Forbidden", f"only services holding {scope!r} may do this")
        if not has_scope(principal.scopes, scope):
            raise ApiProblem(
                403, "missing-scope", "Missing scope", f"the API key lacks the scope {scope!r}", required=scope
            )
        return principal

    return dep


def scoped_or_citizen(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: a citizen (the domain decides which one may act), or a service whose key holds `scope`."""

    async def dep(principal: AnyPrincipal) -> Principal:
        if isinstance(principal, ServicePrincipal) and not has_scope(principal.scopes, scope):
            raise ApiProblem(
                403, "missing-scope", "Missing scope", f"the API key lacks the scope {scope!r}", required=scope
            )
        return principal

    return dep


def by(principal: Principal) -> Any:
    """The domain's `by=` for a principal."""
    return principal.actor if isinstance(principal, ServicePrincipal) else principal.identity
