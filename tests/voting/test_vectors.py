"""The committed voting vectors (tests/vectors/voting/voting.json) against the ledger's implementation: every valid
case is accepted, every invalid one refused, every hash and key equal. The verifier and the booth test against the
same file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import CryptoError, decode_point, decode_scalar
from domain.ballots.crypto.hashing import hs, manifest_hash
from domain.ballots.crypto.proofs import verify_decryption, verify_knowledge, verify_range
from tests.voting.vectors import hash_item

V: dict[str, Any] = json.loads((Path(__file__).resolve().parents[1] / "vectors/voting/voting.json").read_text())


@pytest.mark.parametrize("case", V["encodings"]["points"], ids=lambda c: c.get("why", "valid"))
def test_point_encodings(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert decode_point(case["hex"]).hex() == case["hex"]
    else:
        with pytest.raises(CryptoError):
            decode_point(case["hex"])


@pytest.mark.parametrize("case", V["encodings"]["scalars"], ids=lambda c: c.get("why", "valid"))
def test_scalar_encodings(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert f"{decode_scalar(case['hex']):064x}" == case["hex"]
    else:
        with pytest.raises(CryptoError):
            decode_scalar(case["hex"])


@pytest.mark.parametrize("case", V["hashes"], ids=lambda c: c["tag"])
def test_hash_to_scalar(case: dict[str, Any]) -> None:
    assert f"{hs(case['tag'], *(hash_item(i) for i in case['items'])):064x}" == case["scalar"]


def _proofs_case_id(c: dict[str, Any]) -> str:
    return c.get("why", "valid")


@pytest.mark.parametrize("case", V["proofs"]["range"], ids=_proofs_case_id)
def test_range_proofs(case: dict[str, Any]) -> None:
    p = V["proofs"]
    ok = verify_range(
        bytes.fromhex(p["manifest_hash"]), decode_point(p["public_key"]), case["ctx"],
        decode_point(case["alpha"]), decode_point(case["beta"]), case["values"], case["proof"],
    )  # fmt: skip
    assert ok is case["valid"]


@pytest.mark.parametrize("case", V["proofs"]["knowledge"], ids=_proofs_case_id)
def test_knowledge_proofs(case: dict[str, Any]) -> None:
    assert verify_knowledge(case["context"], decode_point(case["key"]), case["proof"]) is case["valid"]


@pytest.mark.parametrize("case", V["proofs"]["decryption"], ids=_proofs_case_id)
def test_decryption_proofs(case: dict[str, Any]) -> None:
    p = V["proofs"]
    ok = verify_decryption(
        bytes.fromhex(p["manifest_hash"]), decode_point(p["public_key"]), case["index"], case["ctx"],
        decode_point(case["key"]), decode_point(case["aggregate_a"]), decode_point(case["d"]), case["proof"],
    )  # fmt: skip
    assert ok is case["valid"]


def test_the_ceremony_gives_the_joint_key_the_verification_keys_and_the_manifest_hash() -> None:
    b = V["ballot"]
    keys = {d["index"]: cer.check_joined(b["ballot"], d) for d in b["joined"]}
    threshold = b["opened"]["threshold"]
    commitments = {d["index"]: cer.check_committed(b["ballot"], d, threshold, list(keys)) for d in b["committed"]}
    h = cer.joint_key(commitments)
    assert h.hex() == b["public_key"]
    assert {str(j): cer.verification_key(commitments, j).hex() for j in keys} == b["verification_keys"]
    assert h.hex() == b["opened"]["public_key"]
    assert manifest_hash(b["ballot"], b["opened"]).hex() == b["manifest_hash"] == b["opened"]["manifest_hash"]
    for raw in b["trustee_secrets"]:  # each trustee opens and checks the shares sent to it
        t = cer.TrusteeSecrets.from_json(raw)
        for d in b["committed"]:
            for sealed in d["shares"]:
                if sealed["to"] == t.index:
                    share = cer.decrypt_share(b["ballot"], d["index"], t.index, t.encryption_secret, sealed)
                    assert cer.check_share(share, t.index, commitments[d["index"]])


def _statement() -> tuple[bal.Statement, bytes, Any]:
    b = V["ballot"]
    return bal.statement(b["opened"], b["district"]), bytes.fromhex(b["manifest_hash"]), decode_point(b["public_key"])


def test_the_cast_ballot_passes_and_its_audit_reveals_its_choice() -> None:
    st, manifest, h = _statement()
    bal.check(V["ballot"]["cast"], manifest=manifest, public_key=h, st=st)
    assert bal.audit(V["ballot"]["audit"], public_key=h, st=st) == [o for o, c in V["ballot"]["counts"].items() if c]


@pytest.mark.parametrize("case", V["ballot"]["refused"], ids=lambda c: c["where"])
def test_refused_ballots_name_the_failed_check(case: dict[str, Any]) -> None:
    st, manifest, h = _statement()
    with pytest.raises(bal.BallotRefused) as info:
        bal.check(case["ballot"], manifest=manifest, public_key=h, st=st)
    assert info.value.where == case["where"]


def test_two_of_three_trustees_decrypt_the_counts() -> None:
    b = V["ballot"]
    st, manifest, h = _statement()
    counts = {}
    for o, agg in enumerate(b["aggregate"]):
        a, bb = decode_point(agg["a"]), decode_point(agg["b"])
        shares = {}
        for j, decs in b["decryptions"].items():
            d = decode_point(decs[o]["d"])
            key = decode_point(b["verification_keys"][j])
            assert verify_decryption(manifest, h, int(j), [f"option/{o}"], key, a, d, decs[o]["proof"])
            shares[int(j)] = d
        counts[st.options[o]] = cer.discrete_log(cer.combine(bb, shares), 1)
    assert counts == b["counts"]
