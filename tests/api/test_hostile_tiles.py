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
