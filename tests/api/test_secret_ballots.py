"""Encrypted ballots over HTTP (docs/voting.md, the routes of docs/api.md): a 3-of-5 ceremony, casts and a
revote through hromada.vote, the end, three trustees' shares (two absent), the close, trackers; every refusal of
the contract; and no count or plaintext anywhere (responses, /tile/entries, /metrics) before the close."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto import trustee as tr
from hromada.vote import audit_ballot, encrypt_ballot
from tests.api.conftest import integrate, problem

TRUSTEES = [f"trustee.{i}" for i in range(1, 6)]
OPTIONS = [
    {"id": "park", "title": "Парк", "cost": 600, "district": "podil"},
    {"id": "gym", "title": "Спортмайданчик", "cost": 300, "district": "podil"},
    {"id": "lib", "title": "Бібліотека", "cost": 500, "district": "podil"},
    {"id": "ramps", "title": "Пандуси", "cost": 100, "district": "obolon"},
]


def _start(client: Any, svc: dict[str, str], clock: Any, **over: Any) -> str:
    body = {
        "title": "Громадський бюджет",
        "kind": "participatory_budget",
        "options": OPTIONS,
        "method": {"type": "budget", "budgets": {"podil": 1000, "obolon": 200}},
        "opens_at": clock.now.isoformat(),
        "closes_at": (clock.now + timedelta(days=7)).isoformat(),
        "trustees": TRUSTEES,
        "threshold": 3,
        **over,
    }
    r = client.post("/v1/ballots", json=body, headers=svc)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ceremony" and r.json()["events"][0]["type"] == "ballot.ceremony_started"
    return str(r.json()["ballot_id"])


def _ceremony(client: Any, bid: str, keys: list[dict[str, str]]) -> dict[int, cer.TrusteeSecrets]:
    secrets = {i: cer.new_trustee(bid, i, 3) for i in range(1, 6)}
    for i in (2, 1, 5, 3, 4):
        r = client.post(f"/v1/ballots/{bid}/ceremony/join", json=tr.join_body(secrets[i]), headers=keys[i - 1])
        assert r.status_code == 201, r.text
    state = client.get(f"/v1/ballots/{bid}/ceremony").json()
    assert state["status"] == "committing"
    for i in range(1, 6):
        body = tr.commit_body(secrets[i], state)
        r = client.post(f"/v1/ballots/{bid}/ceremony/commit", json=body, headers=keys[i - 1])
        assert r.status_code == 201, r.text
    state = client.get(f"/v1/ballots/{bid}/ceremony").json()
    for i in range(1, 6):
        assert tr.first_bad_sender(secrets[i], state) is None
        r = client.post(f"/v1/ballots/{bid}/ceremony/verify", json={}, headers=keys[i - 1])
        assert r.status_code == 201, r.text
    assert client.get(f"/v1/ballots/{bid}/ceremony").json()["status"] == "complete"
    return secrets


def _setup(client: Any, service_key: Any, clock: Any) -> tuple[dict[str, str], list[dict[str, str]], str, Any]:
    svc = service_key("city.council", "ballot:open", "ballot:close")
    keys = [service_key(t, "ballot:trustee") for t in TRUSTEES]
    bid = _start(client, svc, clock)
    secrets = _ceremony(client, bid, keys)
    r = client.post(f"/v1/ballots/{bid}/open", headers=svc)
    assert r.status_code == 201, r.text
    return svc, keys, bid, secrets


def _ballot(client: Any, bid: str, who: dict[str, str], choices: list[str]) -> dict[str, Any]:
    manifest = client.get(f"/v1/ballots/{bid}").json()
    info = client.get(f"/v1/ballots/{bid}/voter", headers=who).json()
    body, _ = encrypt_ballot(manifest, info, choices)
    return body


def _cast(client: Any, bid: str, who: dict[str, str], choices: list[str]) -> dict[str, Any]:
    r = client.post(f"/v1/ballots/{bid}/ballots", json=_ballot(client, bid, who, choices), headers=who)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_the_whole_encrypted_budget_over_http(client, service_key, citizen, clock, ledger):
    svc, keys, bid, secrets = _setup(client, service_key, clock)
    b = client.get(f"/v1/ballots/{bid}").json()
    assert (b["status"], b["secrecy"], b["threshold"]) == ("open", "encrypted", 3)
    assert b["public_key"] == b["opened"]["public_key"] and b["aggregate"] is None and b["tally"] is None
    a, c, d = citizen("a", district="podil"), citizen("c", district="podil"), citizen("d", district="obolon")
    first = _cast(client, bid, a, ["park", "gym"])
    assert first["revote"] is False and first["events"][0]["type"] == "ballot.ballot_cast"
    clock.advance(seconds=1)
    again = _cast(client, bid, a, ["lib"])
    assert again["revote"] is True and again["events"][0]["type"] == "ballot.ballot_recast"
    _cast(client, bid, c, ["lib", "gym"])
    _cast(client, bid, d, ["ramps"])
    t = client.get(f"/v1/ballots/{bid}/trackers/{first['tracker']}").json()
    assert t["status"] == "cast" and t["event_id"] == first["events"][0]["id"]
    problem(client.post(f"/v1/ballots/{bid}/end", headers=svc), 409, "window-still-open")
    clock.advance(days=8)
    ended = client.post(f"/v1/ballots/{bid}/end", headers=svc)
    assert ended.status_code == 200, ended.text
    assert ended.json()["voters"] == 3
    problem(client.post(f"/v1/ballots/{bid}/close", headers=svc), 409, "not-enough-shares")
    assert client.get(f"/v1/ballots/{bid}").json()["status"] == "ended"
    ceremony = client.get(f"/v1/ballots/{bid}/ceremony").json()
    assert ceremony["status"] == "opened"
    for i in (5, 2, 3):  # trustees 1 and 4 absent
        body = tr.decryption_body(secrets[i], ceremony, client.get(f"/v1/ballots/{bid}").json())
        r = client.post(f"/v1/ballots/{bid}/decryption-shares", json=body, headers=keys[i - 1])
        assert r.status_code == 201, r.text
    r = client.post(f"/v1/ballots/{bid}/close", headers=svc)
    assert r.status_code == 200, r.text
    tally = r.json()["tally"]
    assert tally["counts"] == {"park": 0, "gym": 1, "lib": 2, "ramps": 1}
    assert tally["voters"] == 3 and tally["decrypted_by"] == [2, 3, 5]
    assert tally["funded"] == {"obolon": ["ramps"], "podil": ["lib", "gym"]}
    assert client.get(f"/v1/ballots/{bid}").json()["tally"] == tally
    assert client.get(f"/v1/ballots/{bid}/trackers/{first['tracker']}").json()["status"] == "superseded"
    assert client.get(f"/v1/ballots/{bid}/trackers/{again['tracker']}").json()["status"] == "counted"
    problem(client.get(f"/v1/ballots/{bid}/trackers/{'0' * 64}"), 404, "not-found")
    integrate(ledger)
    receipt = client.get(first["events"][0]["receipt"])
    assert receipt.status_code == 200 and "park" not in receipt.text


def test_refusals_of_the_contract(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    keys = [service_key(t, "ballot:trustee") for t in TRUSTEES]
    outsider = service_key("outsider", "ballot:trustee")
    bid = _start(client, svc, clock)
    secrets = {i: cer.new_trustee(bid, i, 3) for i in range(1, 6)}
    during = client.get(f"/v1/ballots/{bid}").json()
    assert (during["status"], during["secrecy"], during["public_key"], during["opened"]) == (
        "ceremony", "encrypted", None, None,
    )  # fmt: skip
    problem(client.post(f"/v1/ballots/{bid}/open", headers=svc), 409, "ceremony-out-of-order")
    body = tr.join_body(secrets[1])
    problem(client.post(f"/v1/ballots/{bid}/ceremony/join", json=body, headers=outsider), 403, "not-a-trustee")
    problem(client.post(f"/v1/ballots/{bid}/ceremony/join", json=body, headers=svc), 403, "missing-scope")
    bad = problem(
        client.post(f"/v1/ballots/{bid}/ceremony/join", json=tr.join_body(secrets[2]), headers=keys[0]),
        422,
        "invalid-proof",
    )
    assert bad["proof"] == "proof"
    problem(client.post(f"/v1/ballots/{bid}/ceremony/verify", json={}, headers=keys[0]), 409, "ceremony-out-of-order")
    # a plaintext vote on an encrypted ballot, an encrypted one on an open poll
    poll = client.post(
        "/v1/ballots",
        json={"title": "П", "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
              "method": {"type": "single"}, "opens_at": clock.now.isoformat(),
              "closes_at": (clock.now + timedelta(days=7)).isoformat()},
        headers=svc,
    )  # fmt: skip
    assert poll.status_code == 201 and poll.json()["status"] == "open"
    pid = poll.json()["ballot_id"]
    p = client.get(f"/v1/ballots/{pid}").json()
    assert (p["secrecy"], p["trustees"], p["threshold"], p["public_key"]) == ("open", [], None, None)
    problem(client.post(f"/v1/ballots/{pid}/end", headers=svc), 409, "wrong-secrecy")
    _, keys2, eid, _ = _setup_second(client, svc, keys, clock)
    voter = citizen("v", district="podil")
    problem(client.post(f"/v1/ballots/{eid}/votes", json={"selection": ["park"]}, headers=voter), 409, "wrong-secrecy")
    body = _ballot(client, eid, voter, ["park"])
    problem(client.post(f"/v1/ballots/{pid}/ballots", json=body, headers=voter), 409, "wrong-secrecy")
    problem(client.post(f"/v1/ballots/{eid}/ballots", json=body), 401, "unauthenticated")
    problem(
        client.post(f"/v1/ballots/{eid}/decryption-shares", json={"shares": []}, headers=keys2[0]),
        409,
        "ceremony-out-of-order",
    )


def _setup_second(client: Any, svc: dict[str, str], keys: list[dict[str, str]], clock: Any) -> Any:
    bid = _start(client, svc, clock)
    secrets = _ceremony(client, bid, keys)
    assert client.post(f"/v1/ballots/{bid}/open", headers=svc).status_code == 201
    return svc, keys, bid, secrets


def test_a_ballot_with_one_broken_proof_is_a_422_naming_it_and_nothing_is_stored(
    client, service_key, citizen, clock, ledger
):
    _, _, bid, _ = _setup(client, service_key, clock)
    voter = citizen("v", district="podil")
    good = _ballot(client, bid, voter, ["park", "gym"])
    before = ledger.app.recorder.max_notification_id()
    for path, where in (
        (("proofs", "options", 2), "proofs.options[2]"),
        (("proofs", "count"), "proofs.count"),
        (("proofs", "budget", "sum"), "proofs.budget.sum"),
    ):
        body = copy.deepcopy(good)
        node: Any = body
        for k in path:
            node = node[k]
        node["c"], node["s"] = node["s"], node["c"]  # a proof whose challenges and responses are swapped
        got = problem(client.post(f"/v1/ballots/{bid}/ballots", json=body, headers=voter), 422, "invalid-proof")
        assert got["proof"] == where, got
    body = dict(good, tracker="0" * 64)
    assert (
        problem(client.post(f"/v1/ballots/{bid}/ballots", json=body, headers=voter), 422, "invalid-proof")["proof"]
        == "tracker"
    )
    assert ledger.app.recorder.max_notification_id() == before
    r = client.post(f"/v1/ballots/{bid}/ballots", json=good, headers=voter)
    assert r.status_code == 201, r.text


def test_an_audited_ballot_reveals_its_choices_only_to_the_device(client, service_key, citizen, clock):
    _, _, bid, _ = _setup(client, service_key, clock)
    who = citizen("v", district="podil")
    manifest = client.get(f"/v1/ballots/{bid}").json()
    info = client.get(f"/v1/ballots/{bid}/voter", headers=who).json()
    assert info["ballot_options"] == ["park", "gym", "lib"] and info["district"] == "podil"
    body, secrets = encrypt_ballot(manifest, info, ["gym", "lib"])
    assert audit_ballot(manifest, body, secrets) == ["gym", "lib"]
    assert "randomness" not in json.dumps(body) and "choices" not in json.dumps(body)


def test_no_count_or_plaintext_anywhere_before_the_close(client, service_key, citizen, clock, ledger):
    svc, _, bid, _ = _setup(client, service_key, clock)
    bodies: list[str] = []
    for n, choice in enumerate(["park", "park", "gym", "lib", "park"]):
        who = citizen(f"v{n}", district="podil")
        r = client.post(f"/v1/ballots/{bid}/ballots", json=_ballot(client, bid, who, [choice]), headers=who)
        bodies.append(r.text)
    clock.advance(days=8)
    bodies.append(client.post(f"/v1/ballots/{bid}/end", headers=svc).text)
    integrate(ledger)
    bodies.append(client.get(f"/v1/ballots/{bid}").text)
    bodies.append(client.get(f"/v1/ballots/{bid}/ceremony").text)
    bodies.append(client.get("/metrics").text)
    size = ledger.app.recorder.max_notification_id()
    assert size < 256  # one partial tile of entries holds the whole log
    entries = client.get(f"/tile/entries/000.p/{size}")
    assert entries.status_code == 200, entries.text
    assert b"ballot.ballot_cast" in entries.content
    bodies.append(entries.content.decode("utf-8", errors="replace"))
    text = "\n".join(bodies)
    for leak in ('"counts"', '"selection"', '"choices"', '"randomness"', '"tally":{'):
        assert leak not in text.replace(" ", ""), leak
    assert '"tally":null' in text.replace(" ", "")
