"""Hostile credentials: claims that are not RFC 7519 NumericDates, and tokens that do not verify, which must count
as no credential for the rate limits (the anonymous bucket of the client address)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.tokens import DevIssuer
from api.settings import DEV_AUDIENCE, DEV_ISSUER, ApiSettings
from tests.api.conftest import problem

PETITION = {"title": "T", "text": "t", "rule_set": "kyiv"}


def _signed(issuer: DevIssuer, **over: Any) -> dict[str, str]:
    """A development token, correctly signed, with claims replaced by `over` (a value of None removes it)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "a", "iat": now, "exp": now + 600}
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return {"Authorization": "Bearer " + jwt.encode(claims, issuer.private_key, algorithm="EdDSA")}


# values naming a time are made at test time: ids must not depend on it (pytest-xdist compares them)
@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "now+600 as a string"),
        ("exp", True),
        ("exp", ["now+600 in a list"]),
        ("exp", float("inf")),
        ("exp", float("nan")),
        ("iat", "now as a string"),
        ("iat", False),
        ("nbf", "now-5 as a string"),
        ("nbf", True),
        ("nbf", float("-inf")),
    ],
)
def test_time_claims_must_be_numeric_dates(client, tmp_path, claim, value):
    now = int(time.time())
    offsets = {"now+600": now + 600, "now": now, "now-5": now - 5}
    if isinstance(value, str):
        value = str(offsets[value.split(" ")[0]])
    elif isinstance(value, list):
        value = [offsets[value[0].split(" ")[0]]]
    headers = _signed(DevIssuer(tmp_path), **{claim: value})
    body = problem(client.post("/v1/petitions", json=PETITION, headers=headers), 401, "invalid-token")
    assert "NumericDate" in body["detail"], body


def test_numeric_dates_may_be_integers_or_fractions(client, tmp_path):
    issuer = DevIssuer(tmp_path)
    now = time.time()
    r = client.post("/v1/petitions", json=PETITION, headers=_signed(issuer, iat=now, nbf=now - 1.5, exp=now + 60.25))
    assert r.status_code == 201, r.text


@pytest.fixture
def limited(ledger):
    """Anonymous requests: 3 per client address, then 429 (no refill during a test)."""
    settings = ApiSettings(anonymous_rate=0.001, anonymous_burst=3)
    with TestClient(create_app(ledger, settings=settings, create_tables=False), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "authorization",
    ["Bearer junk", "Bearer hk_0000000000000000_" + "a" * 43, "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer "],
    ids=["junk-jwt", "unknown-api-key", "basic", "empty-bearer"],
)
def test_a_credential_that_does_not_verify_takes_from_the_anonymous_bucket(limited, authorization):
    headers = {"Authorization": authorization}
    answers = [limited.get("/v1/log", headers=headers).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    problem(limited.get("/v1/log"), 429, "rate-limited")  # the same bucket as no credential at all


def test_refusals_of_bad_tokens_are_rate_limited(limited):
    headers = {"Authorization": "Bearer junk"}
    for _ in range(3):
        problem(limited.post("/v1/petitions", json=PETITION, headers=headers), 401, "invalid-token")
    r = limited.post("/v1/petitions", json=PETITION, headers=headers)
    problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1


def test_a_verified_credential_does_not_take_from_the_anonymous_bucket(limited, tmp_path):
    issuer = DevIssuer(tmp_path)
    for _ in range(3):
        assert limited.get("/v1/log").status_code == 200
    problem(limited.get("/v1/log"), 429, "rate-limited")
    citizen = {"Authorization": f"Bearer {issuer.issue('alice')}"}
    assert limited.get("/v1/log", headers=citizen).status_code == 200
    assert limited.post("/v1/petitions", json=PETITION, headers=citizen).status_code == 201
