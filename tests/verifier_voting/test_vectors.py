"""The shared voting vectors (tests/vectors/voting/voting.json) against the verifier's own implementation
(verifier/voting/): the same file the ledger's code and the booth pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.voting import ballot as bal
from verifier.voting.group import Bad, point, scalar
from verifier.voting.hashing import hs, manifest_hash
from verifier.voting.proofs import decryption_ok, knowledge_ok, range_ok
from verifier.voting.tally import count, joint_key, share_key

V: dict[str, Any] = json.loads((Path(__file__).resolve().parents[1] / "vectors/voting/voting.json").read_text())
B = V["ballot"]


def _item(raw: dict[str, Any]) -> Any:
    ((kind, value),) = raw.items()
    if kind == "scalar":
        return bytes.fromhex(value)
    decode: dict[str, Any] = {"bytes": bytes.fromhex, "point": point, "str": str, "int": int}
    return decode[kind](value)


@pytest.mark.parametrize("case", V["encodings"]["points"], ids=lambda c: c.get("why", "valid"))
def test_point_encodings(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert point(case["hex"]).hex() == case["hex"]
    else:
        with pytest.raises(Bad):
            point(case["hex"])


@pytest.mark.parametrize("case", V["encodings"]["scalars"], ids=lambda c: c.get("why", "valid"))
def test_scalar_encodings(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert f"{scalar(case['hex']):064x}" == case["hex"]
    else:
        with pytest.raises(Bad):
            scalar(case["hex"])


@pytest.mark.parametrize("case", V["hashes"], ids=lambda c: c["tag"])
def test_hash_to_scalar(case: dict[str, Any]) -> None:
    assert f"{hs(case['tag'], *(_item(i) for i in case['items'])):064x}" == case["scalar"]


P = V["proofs"]
MANIFEST, H = bytes.fromhex(P["manifest_hash"]), point(P["public_key"])


@pytest.mark.parametrize("case", P["range"], ids=lambda c: c.get("why", "valid"))
def test_range_proofs(case: dict[str, Any]) -> None:
    alpha, beta = point(case["alpha"]), point(case["beta"])
    assert range_ok(MANIFEST, H, case["ctx"], alpha, beta, case["values"], case["proof"]) is case["valid"]


@pytest.mark.parametrize("case", P["knowledge"], ids=lambda c: c.get("why", "valid"))
def test_knowledge_proofs(case: dict[str, Any]) -> None:
    assert knowledge_ok(case["context"], point(case["key"]), case["proof"]) is case["valid"]


@pytest.mark.parametrize("case", P["decryption"], ids=lambda c: c.get("why", "valid"))
def test_decryption_proofs(case: dict[str, Any]) -> None:
    ok = decryption_ok(
        MANIFEST,
        H,
        case["index"],
        case["ctx"],
        point(case["key"]),
        point(case["aggregate_a"]),
        point(case["d"]),
        case["proof"],
    )
    assert ok is case["valid"]


def test_the_ceremony_gives_the_joint_key_the_verification_keys_and_the_manifest_hash() -> None:
    commitments = {d["index"]: [point(c) for c in d["commitments"]] for d in B["committed"]}
    assert joint_key(commitments).hex() == B["public_key"] == B["opened"]["public_key"]
    assert {str(j): share_key(commitments, j).hex() for j in commitments} == B["verification_keys"]
    assert manifest_hash(B["ballot"], B["opened"]).hex() == B["manifest_hash"] == B["opened"]["manifest_hash"]
    for d in B["joined"]:
        ctx = (B["ballot"], f"trustee/{d['index']}/encryption")
        assert knowledge_ok(ctx, point(d["encryption_key"]), d["proof"])
    for d in B["committed"]:
        ctx = (B["ballot"], f"trustee/{d['index']}/secret")
        assert knowledge_ok(ctx, commitments[d["index"]][0], d["proof"])
        assert not knowledge_ok(
            (B["ballot"], f"trustee/{d['index']}/encryption"), commitments[d["index"]][0], d["proof"]
        )


def _statement() -> bal.Statement:
    return bal.statement(B["opened"], B["district"])


def test_the_cast_ballot_passes_and_its_audit_reveals_its_choice() -> None:
    manifest, h = bytes.fromhex(B["manifest_hash"]), point(B["public_key"])
    bal.check(B["cast"], manifest=manifest, h=h, st=_statement())
    choices = bal.audit_record(B["audit"], h=h, st=_statement())
    assert choices == list(B["counts"].values())


@pytest.mark.parametrize("case", B["refused"], ids=lambda c: c["where"])
def test_refused_ballots_name_the_failed_check(case: dict[str, Any]) -> None:
    manifest, h = bytes.fromhex(B["manifest_hash"]), point(B["public_key"])
    with pytest.raises(bal.Refused) as info:
        bal.check(case["ballot"], manifest=manifest, h=h, st=_statement())
    assert info.value.where == case["where"]


def test_two_of_three_trustees_decrypt_the_counts() -> None:
    manifest, h = bytes.fromhex(B["manifest_hash"]), point(B["public_key"])
    commitments = {d["index"]: [point(c) for c in d["commitments"]] for d in B["committed"]}
    names = [B["opened"]["options"][i]["id"] for i in _statement().indexes]
    got = {}
    for o, agg in enumerate(B["aggregate"]):
        a, b = point(agg["a"]), point(agg["b"])
        shares = {}
        for j, decs in B["decryptions"].items():
            d = point(decs[o]["d"])
            assert decryption_ok(
                manifest, h, int(j), [f"option/{o}"], share_key(commitments, int(j)), a, d, decs[o]["proof"]
            )
            assert not decryption_ok(
                manifest, h, int(j), [f"option/{o + 1}"], share_key(commitments, int(j)), a, d, decs[o]["proof"]
            )
            shares[int(j)] = d
        got[names[o]] = count(b, shares, 1)
    assert got == B["counts"]
