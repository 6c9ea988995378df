"""Open data through HTTP: paged lists with filters and cursors (stable across writes between pages), pseudonymous
signer lists, results and queue orders as JSON and CSV (golden bytes), caching validators and the 422 refusals."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from tests.api.conftest import problem

GOLDEN = Path(__file__).parent.parent / "golden" / "open_results_budget.csv"
PETITION = {"title": "Велодоріжка", "text": "Прошу облаштувати велодоріжку.", "rule_set": "hradyzk"}


def _petition(client, citizen, who, title="Велодоріжка"):
    r = client.post("/v1/petitions", json={**PETITION, "title": title}, headers=citizen(who))
    assert r.status_code == 201, r.text
    return r.json()["petition_id"]


def _all_pages(client, path, limit, between=None, **params):
    """Every item of a list, page by page; `between(n)` is called after page n (to write between pages)."""
    seen, cursor, n = [], None, 0
    while True:
        q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = client.get(path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        seen += body["items"]
        cursor = body["next_cursor"]
        n += 1
        if between is not None:
            between(n)
        if cursor is None:
            return seen


def test_petitions_paged_without_duplicates_or_gaps_while_writing(client, citizen, service_key, clock):
    council = service_key("city.council", "petition:*")
    first = []
    for i in range(7):
        first.append(_petition(client, citizen, f"a{i}", f"P{i}"))
        clock.advance(seconds=1)
    # order is (first event time, id): the log's clock never goes back, so equal times are possible; ties go by id
    before = [p["id"] for p in _all_pages(client, "/v1/open/petitions", 500)]
    assert sorted(before) == sorted(first)
    later = []

    def write(n):  # a new petition and a status change between every two pages
        clock.advance(seconds=1)
        later.append(_petition(client, citizen, f"b{n}", f"Q{n}"))
        assert client.post(f"/v1/petitions/{first[n - 1]}/publish", headers=council).status_code == 200

    ids = [p["id"] for p in _all_pages(client, "/v1/open/petitions", 3, between=write)]
    assert len(ids) == len(set(ids))
    # everything that existed before the first page is there, in creation order; what was added during paging
    # comes after it (creation order), so a reader who pages to the end sees it too
    assert ids[:7] == before and set(ids[7:]) <= set(later) and ids[7:] == later[: len(ids) - 7]
    assert len(ids) > 7
    everything = [p["id"] for p in _all_pages(client, "/v1/open/petitions", 500)]
    assert everything == before + later


def test_petition_filters_and_rows(client, citizen, service_key, clock):
    council = service_key("city.council", "petition:*")
    start = clock.now
    a = _petition(client, citizen, "a")
    clock.advance(hours=1)
    b = _petition(client, citizen, "b")
    clock.advance(hours=1)
    c = _petition(client, citizen, "c")
    client.post(f"/v1/petitions/{b}/publish", headers=council)
    client.post(f"/v1/petitions/{c}/reject", json={"reason": "no"}, headers=council)

    def ids(**params):
        r = client.get("/v1/open/petitions", params=params)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert ids() == [a, b, c]
    assert ids(status="published") == [b] and ids(status="rejected") == [c] and ids(status="pending") == [a]
    assert ids(status="closed") == []
    hour = timedelta(hours=1)
    assert ids(created_since=(start + hour).isoformat()) == [b, c]
    assert ids(created_before=(start + hour).isoformat()) == [a]
    assert ids(created_since=(start + hour).isoformat(), created_before=(start + 2 * hour).isoformat()) == [b]
    assert ids(status="published", created_since=(start + 2 * hour).isoformat()) == []
    row = client.get("/v1/open/petitions", params={"status": "published"}).json()["items"][0]
    assert row["status"] == "published" and row["signatures"] == 0 and row["deadline"] and row["threshold"] > 0
    assert "author" not in row and "text" not in row


def test_refusals_are_422_problems(client, citizen):
    pid = _petition(client, citizen, "a")
    for path in ("/v1/open/petitions", "/v1/open/ballots", "/v1/open/queues", f"/v1/open/petitions/{pid}/signers"):
        problem(client.get(path, params={"limit": 0}), 422, "validation-error")
        problem(client.get(path, params={"limit": 501}), 422, "validation-error")
        problem(client.get(path, params={"cursor": "bm90LWEtY3Vyc29y"}), 422, "validation-error")
        problem(client.get(path, params={"colour": "red"}), 422, "validation-error")
        assert client.get(path, params={"limit": 500}).status_code == 200
    problem(client.get("/v1/open/petitions", params={"status": "lost"}), 422, "validation-error")
    problem(client.get("/v1/open/ballots", params={"kind": "referendum"}), 422, "validation-error")
    problem(client.get("/v1/open/queues", params={"kind": "parking"}), 422, "validation-error")
    problem(client.get("/v1/open/petitions", params={"created_since": "yesterday"}), 422, "validation-error")
    # a cursor is bound to its filters
    _petition(client, citizen, "b")
    cursor = client.get("/v1/open/petitions", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    problem(
        client.get("/v1/open/petitions", params={"limit": 1, "cursor": cursor, "status": "pending"}),
        422,
        "validation-error",
    )
    assert client.get("/v1/open/petitions", params={"limit": 1, "cursor": cursor}).status_code == 200


def test_signers_are_pseudonymous_and_paged(client, citizen, service_key, clock):
    council = service_key("city.council", "petition:*")
    pid = _petition(client, citizen, "author")
    client.post(f"/v1/petitions/{pid}/publish", headers=council)
    subjects = [f"signer-subject-{i}" for i in range(5)]
    for s in subjects:
        clock.advance(seconds=1)
        assert client.post(f"/v1/petitions/{pid}/signatures", headers=citizen(s)).status_code == 201

    def sign_more(n):
        if n == 1:
            clock.advance(seconds=1)
            client.post(f"/v1/petitions/{pid}/signatures", headers=citizen("late-subject"))

    items = _all_pages(client, f"/v1/open/petitions/{pid}/signers", 2, between=sign_more)
    assert len(items) == 6 and len({i["signer"] for i in items}) == 6
    assert [i["signed_at"] for i in items] == sorted(i["signed_at"] for i in items)
    raw = client.get(f"/v1/open/petitions/{pid}/signers", params={"limit": 500}).text
    for s in [*subjects, "late-subject", "dev:"]:
        assert s not in raw
    assert all(set(i) == {"signer", "signed_at"} for i in items)
    problem(client.get("/v1/open/petitions/00000000-0000-0000-0000-000000000000/signers"), 404, "not-found")


BUDGET = {
    "title": "Громадський бюджет 2027",
    "kind": "participatory_budget",
    "options": [
        {"id": "park", "title": 'Парк "Дружба", Поділ', "cost": 500, "district": "podil"},
        {"id": "pool", "title": "Басейн\nна Оболоні", "cost": 800, "district": "obolon"},
        {"id": "lib", "title": "Бібліотека", "cost": 400, "district": "podil"},
    ],
    "method": {"type": "budget", "budgets": {"podil": 600, "obolon": 1000}},
}


def _ballot(client, svc, clock, body):
    # an open ballot: a budget is encrypted by default, and this test reads its plaintext tally
    body = {"secrecy": "open", **body, "opens_at": clock.now.isoformat()}
    body["closes_at"] = (clock.now + timedelta(days=1)).isoformat()
    r = client.post("/v1/ballots", json=body, headers=svc)
    assert r.status_code == 201, r.text
    return r.json()["ballot_id"]


def test_ballots_hide_counts_until_closed_and_results_csv_golden(client, service_key, citizen, clock):
    svc = service_key("city.council", "ballot:open", "ballot:close")
    bid = _ballot(client, svc, clock, BUDGET)
    clock.advance(seconds=1)
    poll = _ballot(
        client,
        svc,
        clock,
        {
            "title": "Опитування",
            "options": [{"id": "y", "title": "Так"}, {"id": "n", "title": "Ні"}],
            "method": {"type": "single"},
        },
    )
    for who, district, sel in (
        ("v1", "podil", "park"),
        ("v2", "podil", "park"),
        ("v3", "obolon", "pool"),
        ("v4", "podil", "lib"),
    ):
        vote = client.post(
            f"/v1/ballots/{bid}/votes", json={"selection": [sel]}, headers=citizen(who, district=district)
        )
        assert vote.status_code == 201, vote.text
    row = client.get("/v1/open/ballots", params={"status": "open", "kind": "participatory_budget"}).json()["items"]
    assert [b["id"] for b in row] == [bid]
    assert row[0]["voters"] is None and row[0]["counts"] is None and row[0]["districts"] == ["obolon", "podil"]
    assert [b["id"] for b in client.get("/v1/open/ballots", params={"district": "obolon"}).json()["items"]] == [bid]
    assert [b["id"] for b in client.get("/v1/open/ballots", params={"kind": "poll"}).json()["items"]] == [poll]
    problem(client.get(f"/v1/open/ballots/{bid}/results"), 409, "invalid-state")
    problem(client.get(f"/v1/open/ballots/{bid}/results", params={"format": "csv"}), 409, "invalid-state")
    clock.advance(days=2)
    assert client.post(f"/v1/ballots/{bid}/close", headers=svc).status_code == 200
    closed = client.get("/v1/open/ballots", params={"status": "closed"}).json()["items"]
    assert [b["id"] for b in closed] == [bid] and closed[0]["voters"] == 4
    assert closed[0]["counts"] == {"park": 2, "pool": 1, "lib": 1}
    assert client.get("/v1/open/ballots", params={"status": "open"}).json()["items"][0]["id"] == poll

    js = client.get(f"/v1/open/ballots/{bid}/results").json()
    assert js["voters"] == 4 and [r["votes"] for r in js["rows"]] == [2, 1, 1]
    assert [r["funded"] for r in js["rows"]] == [True, True, False]
    r = client.get(f"/v1/open/ballots/{bid}/results", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert r.content == GOLDEN.read_bytes()
    # the CSV parses back to the JSON rows
    parsed = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert [p["title"] for p in parsed] == [o["title"] for o in BUDGET["options"]]
    by_accept = client.get(f"/v1/open/ballots/{bid}/results", headers={"Accept": "text/csv"})
    assert by_accept.content == r.content
    prefer_json = {"Accept": "text/csv;q=0.5, application/json"}
    assert client.get(f"/v1/open/ballots/{bid}/results", headers=prefer_json).json() == js
    assert (
        client.get(f"/v1/open/ballots/{bid}/results", params={"format": "json"}, headers={"Accept": "text/csv"}).json()
        == js
    )


def test_etag_revalidation(client, citizen):
    _petition(client, citizen, "a")
    r = client.get("/v1/open/petitions")
    etag = r.headers["etag"]
    assert etag.startswith('W/"') and "public" in r.headers["cache-control"]
    again = client.get("/v1/open/petitions", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    _petition(client, citizen, "b")
    fresh = client.get("/v1/open/petitions", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and len(fresh.json()["items"]) == 2 and fresh.headers["etag"] != etag


def test_queue_lists_and_orders(client, service_key, citizen, clock):
    edu = service_key("city.education", "queue:kindergarten:*")
    hd = service_key("city.housing", "queue:housing:*")
    r = client.post("/v1/queues", json={"name": "Дитсадки", "institutions": ["ds-1", "ds-2"]}, headers=edu)
    qid = r.json()["queue_id"]
    clock.advance(seconds=1)
    r = client.post("/v1/housing-registers", json={"name": "Квартирний облік"}, headers=hd)
    rid = r.json()["register_id"]
    entries = []
    for i, insts in enumerate((["ds-1", "ds-2"], ["ds-1"])):
        clock.advance(seconds=1)
        body = {"child_key": f"CERT-{i}", "child_data": {"name": "М"}, "birth_year": 2023, "institutions": insts}
        r = client.post(f"/v1/queues/{qid}/entries", json=body, headers=citizen(f"mom{i}"))
        assert r.status_code == 201, r.text
        entries.append(r.json()["entry"])
    r = client.post(f"/v1/housing-registers/{rid}/entries", json={"household_data": {"a": 1}}, headers=citizen("ivan"))
    assert r.status_code == 201, r.text
    h1 = r.json()["entry"]

    listed = client.get("/v1/open/queues").json()["items"]
    assert [(q["id"], q["kind"]) for q in listed] == [(qid, "kindergarten"), (rid, "housing")]
    assert listed[0]["registrations"] == 2 and listed[0]["institutions"] == ["ds-1", "ds-2"]
    assert [q["id"] for q in client.get("/v1/open/queues", params={"kind": "housing"}).json()["items"]] == [rid]
    assert [q["id"] for q in client.get("/v1/open/queues", params={"institution": "ds-2"}).json()["items"]] == [qid]

    order = client.get(f"/v1/open/kindergarten/{qid}/order").json()["rows"]
    assert [(r["institution"], r["position"], r["entry"]) for r in order] == [
        ("ds-1", 1, entries[0]),
        ("ds-1", 2, entries[1]),
        ("ds-2", 1, entries[0]),
    ]
    public = client.get(f"/v1/queues/{qid}/list", params={"institution": "ds-1", "birth_year": 2023}).json()
    assert [{k: v for k, v in r.items() if k not in ("institution", "birth_year")} for r in order[:2]] == public
    one = client.get(f"/v1/open/kindergarten/{qid}/order", params={"institution": "ds-2", "format": "csv"})
    lines = one.content.decode().split("\r\n")
    assert lines[0] == "institution,birth_year,position,entry,benefit_rank,registered_at,offer_pending"
    assert lines[1].startswith(f"ds-2,2023,1,{entries[0]},") and lines[1].endswith(",false") and lines[2] == ""
    assert "mom" not in one.text and "CERT" not in one.text
    horder = client.get(f"/v1/open/housing/{rid}/order", params={"list": "general"}).json()["rows"]
    assert [(r["list"], r["position"], r["entry"], r["included_at"]) for r in horder] == [("general", 1, h1, None)]
    hcsv = client.get(f"/v1/open/housing/{rid}/order", headers={"Accept": "text/csv"}).content.decode()
    assert hcsv.startswith("list,position,entry,registered_at,included_at\r\ngeneral,1,")
    problem(client.get(f"/v1/open/housing/{qid}/order"), 404, "not-found")
    problem(client.get(f"/v1/open/kindergarten/{rid}/order"), 404, "not-found")
    problem(client.get(f"/v1/open/housing/{rid}/order", params={"list": "vip"}), 422, "validation-error")
