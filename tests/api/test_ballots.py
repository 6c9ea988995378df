"""Ballots through HTTP: open, vote, revote, trackers, close and tally; error paths."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import problem


def _open(client, svc, clock, **over):
    body = {
        "title": "Що збудувати?",
        "kind": "poll",
        "options": [
            {"id": "park", "title": "Парк"},
            {"id": "pool", "title": "Басейн"},
            {"id": "lib", "title": "Бібліотека"},
        ],
        "method": {"type": "single"},
        "opens_at": clock.now.isoformat(),
        "closes_at": (clock.now + timedelta(days=7)).isoformat(),
        **over,
    }
    r = client.post("/v1/ballots", json=body, headers=svc)
    assert r.status_code == 201, r.text
    return r.json()["ballot_id"]


def test_vote_revote_tracker_close(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    bid = _open(client, svc, clock)
    b = client.get(f"/v1/ballots/{bid}").json()
    assert b["status"] == "open" and b["tally"] is None and [o["id"] for o in b["options"]] == ["park", "pool", "lib"]
    v1 = client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=citizen("v1"))
    assert v1.status_code == 201, v1.text
    t1 = v1.json()["tracker"]
    assert v1.json()["revote"] is False and v1.json()["events"][0]["leaf_hash"] == t1
    clock.advance(seconds=1)
    v1b = client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["pool"]}, headers=citizen("v1"))
    t2 = v1b.json()["tracker"]
    assert v1b.json()["revote"] is True and t2 != t1
    client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["pool"]}, headers=citizen("v2"))
    mine = client.get(f"/v1/ballots/{bid}/my-vote", headers=citizen("v1")).json()
    assert mine["selection"] == ["pool"] and mine["tracker"] == t2 and mine["counted"] and mine["version"] == 2
    old = client.get(f"/v1/ballots/{bid}/votes/{t1}", headers=citizen("v1")).json()
    assert old["selection"] == ["park"] and old["counted"] is False
    # someone else cannot read my vote with my tracker
    problem(client.get(f"/v1/ballots/{bid}/votes/{t2}", headers=citizen("v2")), 404, "not-found")
    problem(client.get(f"/v1/ballots/{bid}/my-vote", headers=citizen("never")), 404, "not-found")
    problem(client.get(f"/v1/ballots/{bid}/votes/{t2}"), 401, "unauthenticated")
    problem(client.get(f"/v1/ballots/{bid}/votes/xyz", headers=citizen("v1")), 422, "validation-error")
    problem(client.post(f"/v1/ballots/{bid}/close", headers=svc), 409, "window-still-open")
    clock.advance(days=8)
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=citizen("v3")),
        409,
        "window-closed",
    )
    r = client.post(f"/v1/ballots/{bid}/close", headers=svc)
    assert r.status_code == 200, r.text
    assert r.json()["tally"] == {"voters": 2, "counts": {"park": 0, "pool": 2, "lib": 0}, "funded": None}
    assert client.get(f"/v1/ballots/{bid}").json()["tally"]["counts"]["pool"] == 2
    problem(client.post(f"/v1/ballots/{bid}/close", headers=svc), 409, "window-closed")


def test_vote_errors(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:*")
    bid = _open(
        client,
        svc,
        clock,
        method={"type": "approval", "max_choices": 2},
        eligibility={"identity_methods": ["diia"], "min_age": 18},
    )
    h = citizen("adult", age=30)
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park", "pool", "lib"]}, headers=h),
        422,
        "too-many-choices",
    )
    problem(client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["nope"]}, headers=h), 422, "unknown-option")
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park", "park"]}, headers=h),
        422,
        "duplicate-choice",
    )
    problem(client.post(f"/v1/ballots/{bid}/votes", json={"selection": []}, headers=h), 422, "validation-error")
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=citizen("kid", age=12)),
        403,
        "not-eligible",
    )
    problem(
        client.post(
            f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=citizen("bank", method="bankid", age=40)
        ),
        403,
        "not-eligible",
    )
    problem(client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park"]}, headers=svc), 403, "forbidden")
    assert client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["park", "lib"]}, headers=h).status_code == 201


def test_open_errors(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:open")
    problem(client.post("/v1/ballots", json={"title": "x"}, headers=svc), 422, "validation-error")
    body = {
        "title": "t",
        "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        "method": {"type": "single"},
        "opens_at": clock.now.isoformat(),
        "closes_at": clock.now.isoformat(),
    }
    problem(client.post("/v1/ballots", json=body, headers=svc), 422, "invalid-input")
    naive = {**body, "closes_at": "2030-01-01T00:00:00"}
    problem(client.post("/v1/ballots", json=naive, headers=svc), 422, "validation-error")
    problem(client.post("/v1/ballots", json=body, headers=citizen("c")), 403, "forbidden")
    other = service_key("city.edu", "queue:kindergarten:*")
    problem(client.post("/v1/ballots", json=body, headers=other), 403, "missing-scope")
    problem(client.get("/v1/ballots/00000000-0000-4000-8000-000000000000"), 404, "not-found")


def test_participatory_budget(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:*")
    bid = _open(
        client,
        svc,
        clock,
        kind="participatory_budget",
        secrecy="open",
        options=[
            {"id": "a", "title": "A", "cost": 500, "district": "podil"},
            {"id": "b", "title": "B", "cost": 700, "district": "podil"},
        ],
        method={"type": "budget", "budgets": {"podil": 1000}},
    )
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["a", "b"]}, headers=citizen("p", district="podil")),
        422,
        "over-budget",
    )
    problem(
        client.post(f"/v1/ballots/{bid}/votes", json={"selection": ["a"]}, headers=citizen("o", district="obolon")),
        403,
        "not-eligible",
    )
    assert (
        client.post(
            f"/v1/ballots/{bid}/votes", json={"selection": ["b"]}, headers=citizen("p", district="podil")
        ).status_code
        == 201
    )
    clock.advance(days=8)
    tally = client.post(f"/v1/ballots/{bid}/close", headers=svc).json()["tally"]
    assert tally["funded"] == {"podil": ["b"]}
