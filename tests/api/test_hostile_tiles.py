"""Tile indexes an attacker chooses: beyond 2^63 (SQLite's INTEGER), beyond any tree, or too long to be a number
at all. Each is a 404 problem, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import integrate, problem


def _tile_path(n: int) -> str:
    """C2SP tlog-tiles encoding of a tile index: 3-digit groups, all but the last prefixed with x."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


@pytest.mark.parametrize(
    "path",
    [
        "/tile/0/x999/x999/x999/x999/x999/x999/999",
        "/tile/0/" + _tile_path(2**63),
        "/tile/0/" + _tile_path(2**63 - 1),
        "/tile/63/" + _tile_path(2**62),
        "/tile/5/x999/999.p/7",
        "/tile/entries/x999/x999/x999/x999/x999/x999/999",
        "/tile/entries/" + _tile_path(2**63) + ".p/1",
        "/tile/0/" + "x999/" * 2000 + "999",  # more digits than int() converts (4,300)
    ],
    ids=["x999x6", "2^63", "2^63-1", "level63", "level5-partial", "entries-x999x6", "entries-2^63", "2000-groups"],
)
def test_tiles_beyond_the_tree_are_404(client, ledger, citizen, path):
    r = client.post("/v1/petitions", json={"title": "P", "text": "t", "rule_set": "sumy"}, headers=citizen("c"))
    assert r.status_code == 201
    integrate(ledger)
    problem(client.get(path), 404, "not-found")
    assert client.get("/tile/0/000.p/1").status_code == 200  # the one leaf there is


@pytest.mark.parametrize(
    "path",
    ["/tile/0/x000/000.p/1", "/tile/00/000.p/1", "/tile/entries/x000/000.p/1", "/tile/0/000.p/01", "/tile/000/000.p/1"],
    ids=["leading-zero-group", "level-00", "entries-leading-zero-group", "width-01", "level-000"],
)
def test_only_the_canonical_path_of_a_tile_is_served(client, ledger, citizen, path):
    """C2SP tlog-tiles and Go's ParseTilePath: one path per tile (caches and mirrors hold one copy)."""
    r = client.post("/v1/petitions", json={"title": "P", "text": "t", "rule_set": "sumy"}, headers=citizen("c"))
    assert r.status_code == 201
    integrate(ledger)
    body = problem(client.get(path), 404, "not-found")
    assert "canonical" in body["detail"] or "not a tlog-tiles path" in body["detail"]
    assert client.get("/tile/0/000.p/1").status_code == 200
    assert client.get("/tile/entries/000.p/1").status_code == 200


def test_entry_bundles_are_gzipped_when_asked(client, ledger, citizen):
    import gzip

    for i in range(3):
        r = client.post("/v1/petitions", json={"title": f"P{i}", "text": "t"}, headers=citizen(f"c{i}"))
        assert r.status_code == 201
    integrate(ledger)
    plain = client.get("/tile/entries/000.p/3", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    zipped = client.get("/tile/entries/000.p/3", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # the client undid the encoding: the same bundle
    with client.stream("GET", "/tile/entries/000.p/3", headers={"Accept-Encoding": "gzip"}) as r:
        wire = b"".join(r.iter_raw())
    assert wire[:2] == b"\x1f\x8b" and gzip.decompress(wire) == plain.content  # gzip on the wire
    refused = client.get("/tile/entries/000.p/3", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
