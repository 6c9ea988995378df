"""The booth's crypto.js (api/static/booth/) under node: it passes the shared voting vectors, and ballots it makes
pass every check of the Python implementation (domain/ballots/crypto), which also catches them tampered."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto.group import decode_point
from domain.ballots.crypto.hashing import manifest_hash
from tests.booth.node import run_node

V: dict[str, Any] = json.loads((Path(__file__).resolve().parents[1] / "vectors/voting/voting.json").read_text())
GROUPS = {"points", "scalars", "hashes", "range", "manifest", "cast", "refused", "audit", "audit-tampered",
          "roundtrip", "over-budget"}  # fmt: skip


def test_crypto_js_passes_the_shared_vectors() -> None:
    rows = [json.loads(line) for line in run_node("vectors.mjs").splitlines() if line.strip()]
    assert {r["group"] for r in rows} == GROUPS
    assert all(r["cases"] > 0 for r in rows)
    assert [(r["group"], r["failures"]) for r in rows if r["failures"]] == []


def _approval(ballot_id: str, public_key: str) -> dict[str, Any]:
    opened: dict[str, Any] = {
        **{k: v for k, v in V["ballot"]["opened"].items() if k != "manifest_hash"},
        "kind": "local_vote",
        "options": [{"id": f"o{i}", "title": f"Option {i}"} for i in range(4)],
        "method": {"type": "approval", "max_choices": 2},
        "public_key": public_key,
    }
    opened["manifest_hash"] = manifest_hash(ballot_id, opened).hex()
    return opened


CASES: dict[str, tuple[Callable[[], dict[str, Any]], str | None, list[str]]] = {
    "budget": (lambda: dict(V["ballot"]["opened"]), "d1", ["lib"]),
    "approval": (lambda: _approval(V["ballot"]["ballot"], V["ballot"]["public_key"]), None, ["o1", "o3"]),
}


@pytest.mark.parametrize("case", CASES)
def test_a_js_ballot_verifies_in_python_and_its_audit_reveals_the_choice(case: str) -> None:
    make_opened, district, selection = CASES[case]
    opened = make_opened()
    ballot_id = V["ballot"]["ballot"]
    voter = "vot:v1:" + "ef" * 32
    out = json.loads(
        run_node(
            "make_ballot.mjs",
            {"ballotId": ballot_id, "opened": opened, "voter": voter, "district": district, "selection": selection},
        )
    )
    body, audit = out["body"], out["audit"]
    st = bal.statement(opened, district)
    h = decode_point(opened["public_key"])
    manifest = bytes.fromhex(opened["manifest_hash"])
    bal.check(body, manifest=manifest, public_key=h, st=st)
    assert body["voter"] == voter and body["district"] == district
    assert bal.audit(audit, public_key=h, st=st) == selection
    # tampered: a flipped ciphertext breaks its proof; another voter's ballot fails its bound proofs
    bad = copy.deepcopy(body)
    bad["ciphertexts"][0], bad["ciphertexts"][1] = bad["ciphertexts"][1], bad["ciphertexts"][0]
    with pytest.raises(bal.BallotRefused) as e:
        bal.check(bad, manifest=manifest, public_key=h, st=st)
    assert e.value.where == "proofs.options[0]"
    with pytest.raises(bal.BallotRefused) as e:
        bal.check({**body, "voter": "vot:v1:" + "aa" * 32}, manifest=manifest, public_key=h, st=st)
    assert e.value.where == "proofs.options[0]"
    lied = {**audit, "choices": [1 - v for v in audit["choices"]]}
    with pytest.raises(bal.BallotRefused):
        bal.audit(lied, public_key=h, st=st)
