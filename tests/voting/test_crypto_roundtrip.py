"""The voting primitives end to end, in memory: a 3-of-5 ceremony, encrypted ballots of every method, the
homomorphic tally and its threshold decryption; and each check refusing exactly what it guards."""

from __future__ import annotations

import random
from typing import Any

import pytest

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import CryptoError, G, Point, decode_point, point_sum
from domain.ballots.crypto.hashing import manifest_hash
from domain.ballots.crypto.proofs import prove_decryption, verify_decryption

BALLOT = "0e7d6a3c-1111-5222-8333-444455556666"


def ceremony(n: int, k: int) -> tuple[list[cer.TrusteeSecrets], dict[int, list[Point]], dict[int, int]]:
    trustees = [cer.new_trustee(BALLOT, i, k) for i in range(1, n + 1)]
    joined = [cer.make_joined(t) for t in trustees]
    keys = {d["index"]: cer.check_joined(BALLOT, d) for d in joined}
    committed = [cer.make_committed(t, keys) for t in trustees]
    commitments = {d["index"]: cer.check_committed(BALLOT, d, k, list(keys)) for d in committed}
    secret_shares = {}
    for t in trustees:
        received = {}
        for d in committed:
            for sealed in d["shares"]:
                if sealed["to"] == t.index:
                    share = cer.decrypt_share(BALLOT, d["index"], t.index, t.encryption_secret, sealed)
                    assert cer.check_share(share, t.index, commitments[d["index"]])
                    received[d["index"]] = share
        secret_shares[t.index] = cer.secret_share(t, received)
    return trustees, commitments, secret_shares


def spec(method: dict[str, Any], options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"method": method, "options": options}


def test_a_3_of_5_ceremony_tally_and_decryption_with_two_trustees_missing() -> None:
    _, commitments, s = ceremony(5, 3)
    h = cer.joint_key(commitments)
    for j, sj in s.items():
        assert cer.verification_key(commitments, j) == G * sj
    manifest = manifest_hash(BALLOT, {"title": "t", "public_key": h.hex()})
    sp = spec({"type": "approval", "max_choices": 3}, [{"id": f"o{i}"} for i in range(6)])
    rng = random.Random(7)
    ballots, want = [], [0] * 6
    for voter in range(12):
        chosen = rng.sample(range(6), rng.randint(1, 3))
        for c in chosen:
            want[c] += 1
        st = bal.statement(sp, None)
        opened = bal.encrypt(
            ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter=f"vot:v1:{voter}", district=None,
            selection=[f"o{c}" for c in chosen],
        )  # fmt: skip
        ballots.append(bal.check(opened.body, manifest=manifest, public_key=h, st=st))
    agg = [(point_sum(b[o][0] for b in ballots), point_sum(b[o][1] for b in ballots)) for o in range(6)]
    decrypting = [1, 3, 5]  # trustees 2 and 4 are missing
    counts = []
    for o, (a, b) in enumerate(agg):
        shares = {}
        for j in decrypting:
            d = prove_decryption(manifest, h, j, [f"option/{o}"], a, s[j])
            dj = decode_point(d["d"])
            assert verify_decryption(manifest, h, j, [f"option/{o}"], G * s[j], a, dj, d["proof"])
            shares[j] = dj
        counts.append(cer.discrete_log(cer.combine(b, shares), 12))
    assert counts == want


def test_fewer_than_k_shares_do_not_decrypt() -> None:
    _, commitments, s = ceremony(3, 2)
    h = cer.joint_key(commitments)
    r = 12345
    a, b = G * r, G * 1 + h * r
    assert cer.discrete_log(cer.combine(b, {1: a * s[1], 2: a * s[2]}), 5) == 1
    with pytest.raises(CryptoError):
        cer.discrete_log(cer.combine(b, {1: a * s[1]}), 5)


def test_a_budget_ballot_proves_it_fits_and_a_costlier_selection_cannot() -> None:
    _, commitments, _ = ceremony(3, 2)
    h = cer.joint_key(commitments)
    manifest = manifest_hash(BALLOT, {"public_key": h.hex()})
    options = [
        {"id": "park", "district": "d1", "cost": 700}, {"id": "lib", "district": "d1", "cost": 400},
        {"id": "road", "district": "d2", "cost": 900}, {"id": "pool", "district": "d1", "cost": 200},
    ]  # fmt: skip
    sp = spec({"type": "budget", "budgets": {"d1": 1000, "d2": 1000}}, options)
    st = bal.statement(sp, "d1")
    assert st.options == ("park", "lib", "pool") and st.budget == 1000
    opened = bal.encrypt(
        ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter="v", district="d1", selection=["park", "pool"]
    )
    bal.check(opened.body, manifest=manifest, public_key=h, st=st)
    with pytest.raises(ValueError, match="budget"):
        bal.encrypt(
            ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter="v", district="d1",
            selection=["park", "lib"],
        )  # fmt: skip
    assert bal.audit(opened.audit_record(), public_key=h, st=st) == ["park", "pool"]


def _cast(h: Point, manifest: bytes) -> tuple[bal.Statement, bal.Opened]:
    st = bal.statement(spec({"type": "single"}, [{"id": "a"}, {"id": "b"}, {"id": "c"}]), None)
    return st, bal.encrypt(
        ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter="vot:v1:x", district=None, selection=["b"]
    )


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        (lambda b: b["ciphertexts"][1].update(b=b["ciphertexts"][0]["b"]), "proofs.options[1]"),
        (lambda b: b["proofs"]["options"][2]["s"].reverse(), "proofs.options[2]"),
        (lambda b: b["proofs"]["count"]["c"].__setitem__(0, "00" * 32), "proofs.count"),
        (lambda b: b.update(voter="vot:v1:someone-else"), "proofs.options[0]"),
        (lambda b: b["ciphertexts"].pop(), "ciphertexts"),
        (lambda b: b["ciphertexts"][0].update(a="02" + "ff" * 32), "ciphertexts[0]"),
        (lambda b: b.update(tracker="00" * 32), "tracker"),
        (lambda b: b["proofs"].update(budget={"bits": []}), "proofs.budget"),
    ],
)
def test_every_tampered_ballot_is_refused_naming_the_failed_check(tamper: Any, where: str) -> None:
    _, commitments, _ = ceremony(2, 1)
    h = cer.joint_key(commitments)
    manifest = manifest_hash(BALLOT, {"public_key": h.hex()})
    st, opened = _cast(h, manifest)
    body = __import__("copy").deepcopy(opened.body)
    bal.check(body, manifest=manifest, public_key=h, st=st)
    tamper(body)
    with pytest.raises(bal.BallotRefused) as info:
        bal.check(body, manifest=manifest, public_key=h, st=st)
    assert info.value.where == where


def test_a_ballot_choosing_two_options_of_a_single_choice_ballot_cannot_prove_its_count() -> None:
    _, commitments, _ = ceremony(2, 1)
    h = cer.joint_key(commitments)
    manifest = manifest_hash(BALLOT, {"public_key": h.hex()})
    st = bal.statement(spec({"type": "approval", "max_choices": 2}, [{"id": "a"}, {"id": "b"}]), None)
    two = bal.encrypt(ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter="v", district=None,
                      selection=["a", "b"])  # fmt: skip
    single = bal.statement(spec({"type": "single"}, [{"id": "a"}, {"id": "b"}]), None)
    with pytest.raises(bal.BallotRefused) as info:
        bal.check(two.body, manifest=manifest, public_key=h, st=single)
    assert info.value.where == "proofs.count"


def test_a_bad_share_or_a_forged_decryption_is_caught() -> None:
    trustees, commitments, s = ceremony(3, 2)
    bad = (s[1] + 1) % (2**256)
    assert not cer.check_share(bad, 1, commitments[2])
    h = cer.joint_key(commitments)
    manifest = manifest_hash(BALLOT, {"public_key": h.hex()})
    a = G * 99
    d = prove_decryption(manifest, h, 1, ["option/0"], a, s[1])
    forged = decode_point(d["d"]) + G
    assert not verify_decryption(manifest, h, 1, ["option/0"], G * s[1], a, forged, d["proof"])
    assert not verify_decryption(manifest, h, 2, ["option/0"], G * s[1], a, decode_point(d["d"]), d["proof"])
    with pytest.raises(CryptoError):
        cer.decrypt_share(BALLOT, 2, 1, trustees[2].encryption_secret, {"ephemeral": (G * 5).hex(), "box": "00" * 48})


def test_the_fixed_base_table_multiplies_like_the_library() -> None:
    import secrets

    from domain.ballots.crypto.group import INFINITY, FixedBase, N, base_mul

    h = base_mul(0xC0FFEE)
    table = FixedBase(h)
    other = base_mul(77)
    for s in [0, 1, 255, 256, N - 1, *(secrets.randbelow(N) for _ in range(20))]:
        assert table.plus(s, other) == h * s + other
        assert table.plus(s, INFINITY) == h * s
    assert table.plus(N - 1, h) == INFINITY
