"""Citizen identity tokens: OpenID Connect ID tokens (JWT) verified against each trusted issuer's JWKS, and the
development issuer (`hromada dev-token`), whose Ed25519 key lives under the data directory.

The verified `sub`, prefixed per issuer, becomes `CitizenIdentity.subject`, which the domain turns into
pseudonyms; the token itself is never stored.
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.problems import ApiProblem
from api.settings import DEV_AUDIENCE, DEV_ISSUER, ApiSettings, OidcIssuer
from domain.errors import InvalidInput
from domain.identity import CitizenIdentity

DEV_KEY_FILE = "dev-issuer.pem"
DEV_KID = "hromada-dev-1"
DEV_PREFIX = "dev"
_WWW = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


#: RFC 7519 §4.1.4-6: these claims are NumericDates, a JSON number of seconds since the epoch.
TIME_CLAIMS = ("exp", "nbf", "iat")


def is_numeric_date(value: Any) -> bool:
    """A JSON number (not a bool, not a string of digits, not NaN or an infinity)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


class NeedsFetch(Exception):
    """The issuer's keys must be (re)fetched: retry the verification off the event loop."""


def invalid_token(detail: str) -> ApiProblem:
    return ApiProblem(401, "invalid-token", "Invalid token", detail, headers=_WWW)


class DevIssuer:
    """The built-in development issuer: EdDSA (Ed25519) tokens with `iss` = DEV_ISSUER, `aud` = DEV_AUDIENCE."""

    def __init__(self, data_dir: Path) -> None:
        path = Path(data_dir) / DEV_KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        self.private_key: Ed25519PrivateKey = key
        self.public_key: Ed25519PublicKey = key.public_key()

    def issue(
        self,
        sub: str,
        *,
        method: str = "diia",
        age: int | None = None,
        district: str | None = None,
        hours: float = 12.0,
        now: float | None = None,
    ) -> str:
        t = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": sub,
            "iat": t,
            "nbf": t - 5,
            "exp": t + int(hours * 3600),
            "jti": str(uuid.uuid4()),
            "hromada_method": method,
        }
        if age is not None:
            claims["age"] = age
        if district is not None:
            claims["district"] = district
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": DEV_KID})


class JwksCache:
    """JWKS per issuer, refreshed after `ttl` seconds or (at most every 30 s) when an unknown `kid` shows up."""

    def __init__(self, ttl: float, client: httpx.Client | None = None) -> None:
        self.ttl = ttl
        self.client = client
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._fetched: dict[str, float] = {}
        self._lock = threading.Lock()

    def _fetch(self, uri: str) -> dict[str, jwt.PyJWK]:
        client = self.client or httpx.Client(timeout=5.0)
        try:
            resp = client.get(uri)
            resp.raise_for_status()
            data = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            raise invalid_token(f"cannot fetch the issuer's keys: {type(e).__name__}") from e
        finally:
            if self.client is None:
                client.close()
        keys: dict[str, jwt.PyJWK] = {}
        for i, jwk in enumerate(data.get("keys", []) if isinstance(data, dict) else []):
            try:
                keys[str(jwk.get("kid", f"#{i}"))] = jwt.PyJWK(jwk)
            except (jwt.PyJWTError, ValueError, TypeError):
                continue  # unsupported key types are skipped, not fatal
        return keys

    def key(self, uri: str, kid: str | None, *, may_fetch: bool = True) -> jwt.PyJWK:
        now = time.monotonic()
        with self._lock:
            entry = self._keys.get(uri)
            stale = entry is None or entry[0] < now
            unknown = entry is not None and kid is not None and kid not in entry[1]
            if stale or (unknown and now - self._fetched.get(uri, 0.0) > 30.0):
                if not may_fetch:
                    raise NeedsFetch(uri)
                self._keys[uri] = (now + self.ttl, self._fetch(uri))
                self._fetched[uri] = now
            keys = self._keys[uri][1]
        if kid is not None:
            if kid not in keys:
                raise invalid_token("unknown key id")
            return keys[kid]
        if len(keys) != 1:
            raise invalid_token("token has no key id and the issuer has several keys")
        return next(iter(keys.values()))


class TokenVerifier:
    def __init__(self, settings: ApiSettings, data_dir: Path, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.issuers: dict[str, OidcIssuer] = {i.issuer: i for i in settings.oidc_issuers}
        self.dev: DevIssuer | None = DevIssuer(data_dir) if settings.dev_issuer_enabled() else None
        self.jwks = JwksCache(settings.jwks_cache_seconds, client)

    def verify(self, token: str, *, may_fetch: bool = True) -> tuple[CitizenIdentity, str]:
        """Return the citizen identity and the issuer; raise ApiProblem(401) on anything wrong.
        With `may_fetch=False` (on the event loop) raise NeedsFetch instead of fetching the issuer's keys."""
        try:  # one parse for the header and the claims that choose the key (verified below)
            parts = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as e:
            raise invalid_token("malformed token") from e
        header, unverified = parts["header"], parts["payload"]
        for claim in TIME_CLAIMS:  # PyJWT would take int("1796178512") and True as times
            if claim in unverified and not is_numeric_date(unverified[claim]):
                raise invalid_token(f"{claim} is not a NumericDate (RFC 7519: a JSON number of seconds)")
        iss = unverified.get("iss")
        alg = header.get("alg")
        kid = header.get("kid")
        if not isinstance(iss, str) or not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
            raise invalid_token("token lacks an issuer or algorithm")
        key: Any
        if iss == DEV_ISSUER:
            if self.dev is None:
                raise invalid_token("development tokens are not accepted here")
            key, algorithms, audience, prefix = self.dev.public_key, ["EdDSA"], DEV_AUDIENCE, DEV_PREFIX
            cfg: OidcIssuer | None = None
        else:
            cfg = self.issuers.get(iss)
            if cfg is None:
                raise invalid_token("untrusted issuer")
            if alg not in cfg.algorithms:
                raise invalid_token("algorithm not allowed for this issuer")
            jwk = self.jwks.key(cfg.jwks_uri, kid, may_fetch=may_fetch)
            key, algorithms, audience, prefix = jwk.key, [alg], cfg.audience, cfg.subject_prefix
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=iss,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise invalid_token("token expired") from e
        except jwt.InvalidAudienceError as e:
            raise invalid_token("token is for another audience") from e
        except jwt.PyJWTError as e:
            raise invalid_token(f"token rejected: {type(e).__name__}") from e
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise invalid_token("bad subject")
        if cfg is None:
            method = claims.get("hromada_method", "diia")
            age_claim: str | None = "age"
            district_claim: str | None = "district"
        else:
            method = claims.get(cfg.method_claim, cfg.method) if cfg.method_claim else cfg.method
            age_claim, district_claim = cfg.age_claim, cfg.district_claim
        age = claims.get(age_claim) if age_claim else None
        district = claims.get(district_claim) if district_claim else None
        try:
            identity = CitizenIdentity(
                subject=f"{prefix}:{sub}",
                method=str(method),
                age=age if isinstance(age, int) and not isinstance(age, bool) and age >= 0 else None,
                district=district if isinstance(district, str) and district else None,
            )
        except InvalidInput as e:
            raise invalid_token(f"bad identity claims: {e.message}") from e
        return identity, iss
