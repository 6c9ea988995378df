"""A stub of the four ballot routes the booth calls (/work contract: GET /v1/ballots/{id}, GET .../voter,
POST .../ballots, GET .../trackers/{t}), on a real uvicorn server beside ``mount_booth``. It checks every ballot it
receives with domain/ballots/crypto exactly as the ledger will (all proofs and the tracker, 422 ``invalid-proof``
naming the proof) and records what was sent, so tests can assert on it. Not the API: the real routes are built
elsewhere; this pins what the booth sends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from api.booth import mount_booth
from api.problems import PROBLEM_MEDIA_TYPE, problem_type
from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto.group import base_mul, decode_point, random_scalar
from domain.ballots.crypto.hashing import manifest_hash
from tests.ports import free_port

BALLOT_ID = "9b2f6c1e-4a7d-5e3b-8c10-2d4f6a8b0c1e"


def approval_opened(public_key: str, options: int = 6, max_choices: int = 3) -> dict[str, Any]:
    opened: dict[str, Any] = {
        "title": "Що облаштувати в парку Шевченка?",
        "kind": "local_vote",
        "secrecy": "encrypted",
        "options": [{"id": f"o{i}", "title": f"Варіант {i + 1}"} for i in range(options)],
        "method": {"type": "approval", "max_choices": max_choices},
        "opens_at": "2026-01-01T00:00:00.000000Z",
        "closes_at": "2027-01-01T00:00:00.000000Z",
        "eligibility": {"identity_methods": ["diia"], "min_age": 16, "districts": None},
        "pseudonym_key": 1,
        "trustees": [{"index": 1, "service": "trustee.1"}],
        "threshold": 1,
        "public_key": public_key,
    }
    opened["manifest_hash"] = manifest_hash(BALLOT_ID, opened).hex()
    return opened


@dataclass
class Stub:
    opened: dict[str, Any]
    voters: dict[str, dict[str, Any]]  # token -> {"voter", "district", "identity_method"}
    cast: list[dict[str, Any]] = field(default_factory=list)  # every accepted body, as the ledger would store it
    refused: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _problem(status: int, slug: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": problem_type(slug), "title": slug, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def make_app(stub: Stub) -> FastAPI:
    app = FastAPI()
    opened = stub.opened
    h = decode_point(opened["public_key"])

    def voter_of(authorization: str | None) -> dict[str, Any]:
        token = (authorization or "").removeprefix("Bearer ")
        if token not in stub.voters:
            raise HTTPException(401, "unknown token")
        return stub.voters[token]

    @app.get("/v1/ballots/{ballot_id}")
    def ballot(ballot_id: str) -> Any:
        if ballot_id != BALLOT_ID:
            raise HTTPException(404)
        return {
            "ballot_id": BALLOT_ID,
            "title": opened["title"],
            "secrecy": "encrypted",
            "trustees": opened["trustees"],
            "threshold": opened["threshold"],
            "public_key": opened["public_key"],
            "manifest_hash": opened["manifest_hash"],
            "opened": opened,
            "status": "open",
            "aggregate": None,
            "tally": None,
        }

    @app.get("/v1/ballots/{ballot_id}/voter")
    def voter(ballot_id: str, authorization: str | None = Header(default=None)) -> Any:
        v = voter_of(authorization)
        st = bal.statement(opened, v["district"])
        return {"ballot_id": ballot_id, **v, "ballot_options": list(st.options)}

    @app.post("/v1/ballots/{ballot_id}/ballots", status_code=201)
    def cast(ballot_id: str, body: dict[str, Any], authorization: str | None = Header(default=None)) -> Any:
        v = voter_of(authorization)
        if set(body) != {"ciphertexts", "proofs", "tracker"}:
            return _problem(422, "validation-failed", f"fields {sorted(body)}")
        full = {"ballot": ballot_id, "voter": v["voter"], "district": v["district"], **body}
        try:
            bal.check(
                full,
                manifest=bytes.fromhex(opened["manifest_hash"]),
                public_key=h,
                st=bal.statement(opened, v["district"]),
            )
        except bal.BallotRefused as e:
            stub.refused.append(full)
            return _problem(422, "invalid-proof", e.message, proof=e.where)
        revote = any(c["voter"] == v["voter"] for c in stub.cast)
        full["identity_method"] = v["identity_method"]
        stub.cast.append(full)
        return {"ballot_id": ballot_id, "tracker": body["tracker"], "revote": revote, "events": []}

    @app.get("/v1/ballots/{ballot_id}/trackers/{tracker}")
    def tracker(ballot_id: str, tracker: str) -> Any:
        for i, c in enumerate(stub.cast):
            if c["tracker"] == tracker:
                return {"tracker": tracker, "event_id": f"stub-event-{i}", "status": "cast"}
        return _problem(404, "not-found", "no such tracker")

    mount_booth(app)
    return app


def budget_opened(public_key: str) -> dict[str, Any]:
    """A participatory budget: district d1 has 3 projects (costs 600, 300, 250) and a budget of 1000; d2 one."""
    costs = {"p0": ("d1", 600), "p1": ("d1", 300), "p2": ("d2", 900), "p3": ("d1", 250)}
    opened = approval_opened(public_key)
    opened.update(
        title="Бюджет участі 2027",
        kind="participatory_budget",
        options=[{"id": k, "title": f"Проєкт {k}", "district": d, "cost": c} for k, (d, c) in costs.items()],
        method={"type": "budget", "budgets": {"d1": 1000, "d2": 1000}},
        eligibility={"identity_methods": ["diia"], "min_age": 16, "districts": ["d1", "d2"]},
    )
    opened.pop("manifest_hash")
    opened["manifest_hash"] = manifest_hash(BALLOT_ID, opened).hex()
    return opened


def single_opened(public_key: str) -> dict[str, Any]:
    opened = approval_opened(public_key, options=3)
    opened.pop("manifest_hash")
    opened["method"] = {"type": "single"}
    opened["manifest_hash"] = manifest_hash(BALLOT_ID, opened).hex()
    return opened


def new_stub(make_opened: Callable[[str], dict[str, Any]] = approval_opened) -> tuple[Stub, int]:
    """A stub with a fresh joint key; returns it and the key's secret (so a test can decrypt). Token
    ``tok-citizen-1`` is a voter without a district, ``tok-citizen-d1`` one in district d1."""
    secret = random_scalar()
    stub = Stub(
        make_opened(base_mul(secret).hex()),
        {
            "tok-citizen-1": {"voter": "vot:v1:" + "5a" * 32, "district": None, "identity_method": "diia"},
            "tok-citizen-d1": {"voter": "vot:v1:" + "d1" * 32, "district": "d1", "identity_method": "diia"},
        },
    )
    return stub, secret


@contextmanager
def serve(stub: Stub) -> Iterator[Stub]:
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(make_app(stub), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    stub.url = f"http://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
