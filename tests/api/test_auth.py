"""Authentication: service API keys, the development issuer, OIDC ID tokens verified against a JWKS; rate limits."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import create_key, revoke_key
from api.auth.tokens import DevIssuer
from api.settings import DEV_AUDIENCE, DEV_ISSUER, ApiSettings, OidcIssuer
from tests.api.conftest import problem

PETITION = {"title": "T", "text": "t", "rule_set": "kyiv"}
ISSUER = "https://id.example.gov.ua"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_service_keys(client, ledger, service_key):
    good = service_key("city.council", "petition:*")
    problem(client.post("/v1/petitions", json=PETITION, headers=good), 403, "forbidden")  # services cannot create
    body = problem(
        client.post("/v1/petitions", json=PETITION, headers=_bearer("hk_0000000000000000_" + "a" * 43)),
        401,
        "invalid-token",
    )
    assert body["title"] == "Invalid token"
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer("hk_garbage")), 401, "invalid-token")
    problem(client.post("/v1/petitions", json=PETITION, headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    key = create_key(ledger.engine, "city.council", ["petition:moderate"])
    key_id = key.split("_")[1]
    assert revoke_key(ledger.engine, key_id)
    problem(
        client.post("/v1/petitions/00000000-0000-4000-8000-000000000000/publish", headers=_bearer(key)),
        401,
        "invalid-token",
    )
    # only the hash is stored
    from sqlalchemy import select

    from api.schema import api_keys

    with ledger.engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.secret_hash)).scalars().all()
    assert all(key.split("_", 2)[2].encode() not in bytes(h) for h in stored)


def test_dev_tokens(client, citizen, tmp_path):
    issuer = DevIssuer(tmp_path)
    expired = issuer.issue("a", now=time.time() - 48 * 3600, hours=1)
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(expired)), 401, "invalid-token")
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer("not.a.jwt")), 401, "invalid-token")
    good = issuer.issue("a")
    header, payload, sig = good.split(".")
    tampered = ".".join([header, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(tampered)), 401, "invalid-token")
    other = DevIssuer(tmp_path / "other").issue("a")  # same issuer name, another key
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(other)), 401, "invalid-token")
    wrong_aud = jwt.encode(
        {"iss": DEV_ISSUER, "aud": "someone-else", "sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 60},
        issuer.private_key,
        algorithm="EdDSA",
    )
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(wrong_aud)), 401, "invalid-token")
    no_exp = jwt.encode(
        {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "a", "iat": int(time.time())},
        issuer.private_key,
        algorithm="EdDSA",
    )
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(no_exp)), 401, "invalid-token")
    none_alg = jwt.encode(
        {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    )
    problem(client.post("/v1/petitions", json=PETITION, headers=_bearer(none_alg)), 401, "invalid-token")
    assert client.post("/v1/petitions", json=PETITION, headers=_bearer(good)).status_code == 201


def test_production_refuses_dev_tokens(ledger, tmp_path):
    app = create_app(ledger, settings=ApiSettings(production=True), create_tables=False)
    with TestClient(app) as c:
        token = DevIssuer(tmp_path).issue("a")
        problem(c.post("/v1/petitions", json=PETITION, headers=_bearer(token)), 401, "invalid-token")


@pytest.fixture
def oidc():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"keys": [jwk]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    cfg = OidcIssuer(
        issuer=ISSUER, jwks_uri=f"{ISSUER}/jwks", audience="hromada-portal", subject_prefix="bankid", method="bankid"
    )

    def token(**over):
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "hromada-portal",
            "sub": "12345",
            "iat": now,
            "exp": now + 300,
            "age": 33,
            **over,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": over.pop("kid", "k1")})

    return cfg, client, token, calls


def test_oidc_tokens_verified_against_jwks(ledger, oidc):
    cfg, http, token, calls = oidc
    settings = ApiSettings(oidc_issuers=[cfg], dev_issuer=False)
    app = create_app(ledger, settings=settings, create_tables=False, http_client=http)
    with TestClient(app) as c:
        r = c.post("/v1/petitions", json=PETITION, headers=_bearer(token()))
        assert r.status_code == 201, r.text
        pid = r.json()["petition_id"]
        author = c.get(f"/v1/petitions/{pid}").json()["author"]
        assert author == ledger.app.pseudonymizer.citizen("bankid:12345")
        assert calls == [f"{ISSUER}/jwks"]  # cached afterwards
        assert c.post("/v1/petitions", json=PETITION, headers=_bearer(token(sub="777"))).status_code == 201
        assert len(calls) == 1
        problem(c.post("/v1/petitions", json=PETITION, headers=_bearer(token(aud="other"))), 401, "invalid-token")
        problem(
            c.post("/v1/petitions", json=PETITION, headers=_bearer(token(exp=int(time.time()) - 3600))),
            401,
            "invalid-token",
        )
        problem(
            c.post("/v1/petitions", json=PETITION, headers=_bearer(token(iss="https://evil.example"))),
            401,
            "invalid-token",
        )
        problem(c.post("/v1/petitions", json=PETITION, headers=_bearer(token(kid="k2"))), 401, "invalid-token")
        # the dev issuer is switched off in these settings
        problem(
            c.post("/v1/petitions", json=PETITION, headers=_bearer(DevIssuer(ledger.settings.data_dir).issue("x"))),
            401,
            "invalid-token",
        )


def test_rate_limits(ledger, service_key, citizen):
    settings = ApiSettings(citizen_rate=0.01, citizen_burst=2, service_rate=0.01, service_burst=1)
    app = create_app(ledger, settings=settings, create_tables=False)
    svc = service_key("city.council", "petition:*")
    with TestClient(app) as c:
        h = citizen("spammer")
        assert c.post("/v1/petitions", json=PETITION, headers=h).status_code == 201
        assert c.post("/v1/petitions", json=PETITION, headers=h).status_code == 201
        r = c.post("/v1/petitions", json=PETITION, headers=h)
        problem(r, 429, "rate-limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert c.post("/v1/petitions", json=PETITION, headers=citizen("other")).status_code == 201  # per citizen
        c.post("/v1/petitions/00000000-0000-4000-8000-000000000000/publish", headers=svc)
        problem(c.post("/v1/petitions/00000000-0000-4000-8000-000000000000/publish", headers=svc), 429, "rate-limited")


def test_anonymous_rate_limit(ledger):
    app = create_app(ledger, settings=ApiSettings(anonymous_rate=0.01, anonymous_burst=2), create_tables=False)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/v1/petitions").status_code == 200
        r = c.get("/v1/petitions")
        problem(r, 429, "rate-limited")
        assert int(r.headers["Retry-After"]) >= 1
