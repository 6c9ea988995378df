"""Writes tests/vectors/voting/voting.json: the voting format's vectors (docs/voting.md), for every implementation.

``python -m tests.voting.vectors`` makes a new file (fresh randomness; the committed one is what implementations
test against). Each group of cases holds inputs and the expected answer: ``valid`` (true/false) for proofs and
encodings, the value for hashes and keys, the field a refused ballot names in ``where``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import P_FIELD, G, N, base_mul, decode_point, random_scalar, scalar_hex
from domain.ballots.crypto.hashing import hs, manifest_hash, scalar_item
from domain.ballots.crypto.proofs import prove_decryption, prove_knowledge, prove_range

OUT = Path(__file__).resolve().parents[1] / "vectors" / "voting" / "voting.json"
BALLOT = "5d1c4a57-7d0b-5d3f-9a62-0c2b8f7e4a11"


def _encodings() -> dict[str, Any]:
    p = base_mul(random_scalar())
    good = p.hex()
    flipped = ("03" if good[:2] == "02" else "02") + good[2:]
    not_on_curve = "02" + format(5, "064x")  # x = 5: x^3 + 7 = 132 is not a square mod p
    return {
        "points": [
            {"hex": good, "valid": True},
            {"hex": flipped, "valid": True},
            {"hex": G.hex(), "valid": True},
            {"hex": good.upper(), "valid": False, "why": "uppercase"},
            {"hex": good[:-2], "valid": False, "why": "32 bytes"},
            {"hex": "04" + good[2:], "valid": False, "why": "prefix 04"},
            {"hex": "00" * 33, "valid": False, "why": "the identity has no encoding"},
            {"hex": "02" + format(P_FIELD, "064x"), "valid": False, "why": "x = p"},
            {"hex": not_on_curve, "valid": False, "why": "not on the curve"},
        ],
        "scalars": [
            {"hex": scalar_hex(0), "valid": True},
            {"hex": scalar_hex(N - 1), "valid": True},
            {"hex": format(N, "064x"), "valid": False, "why": "n"},
            {"hex": "ff" * 32, "valid": False, "why": "above n"},
            {"hex": "AB" * 32, "valid": False, "why": "uppercase"},
            {"hex": "00" * 31, "valid": False, "why": "31 bytes"},
        ],
    }


def hash_item(item: dict[str, Any]) -> Any:
    """A vector's typed hash item as :func:`hs` takes it."""
    ((kind, value),) = item.items()
    decode = {
        "bytes": bytes.fromhex,
        "point": decode_point,
        "str": str,
        "int": int,
        "scalar": lambda h: scalar_item(int(h, 16)),
    }
    return decode[kind](value)


def _hashes() -> list[dict[str, Any]]:
    p = base_mul(7)
    cases = [
        {"tag": "range", "items": [{"bytes": "00" * 32}, {"point": p.hex()}, {"str": "vot:v1:ab"}, {"int": 3}]},
        {"tag": "pok", "items": [{"str": BALLOT}, {"str": "trustee/1/secret"}, {"point": G.hex()}]},
        {"tag": "decrypt", "items": [{"scalar": scalar_hex(12345)}, {"str": ""}, {"int": 0}]},
    ]
    for case in cases:
        case["scalar"] = scalar_hex(hs(case["tag"], *(hash_item(item) for item in case["items"])))
    return cases


def _proofs(h_secret: int) -> dict[str, Any]:
    h = base_mul(h_secret)
    manifest = bytes(range(32))
    out: dict[str, Any] = {"public_key": h.hex(), "manifest_hash": manifest.hex()}
    out.update(range=[], knowledge=[], decryption=[])
    for values, value in (([0, 1], 0), ([0, 1], 1), ([1, 2, 3], 3), ([1000], 1000)):
        r = random_scalar()
        a, b = base_mul(r), base_mul(value) + h * r
        ctx = ["vot:v1:" + "ab" * 32, "option/0"]
        proof = prove_range(manifest, h, ctx, a, b, values, value, r)
        case = {"ctx": ctx, "alpha": a.hex(), "beta": b.hex(), "values": values, "proof": proof, "valid": True}
        out["range"].append(case)
        out["range"].append({**case, "ctx": [ctx[0], "option/1"], "valid": False, "why": "another statement label"})
        out["range"].append({**case, "beta": (b + G).hex(), "valid": False, "why": "beta changed"})
        bad = copy.deepcopy(proof)
        bad["s"][0] = scalar_hex(int(bad["s"][0], 16) + 1)
        out["range"].append({**case, "proof": bad, "valid": False, "why": "a response changed"})
    r = random_scalar()
    a, b = base_mul(r), base_mul(2) + h * r
    out["range"].append(
        {"ctx": ["v", "count"], "alpha": a.hex(), "beta": b.hex(), "values": [0, 1], "valid": False,
         "proof": prove_range(manifest, h, ["v", "count"], a, b, [0, 1, 2], 2, r), "why": "proof for another list"}
    )  # fmt: skip
    x = random_scalar()
    ctx = [BALLOT, "trustee/2/encryption"]
    pok = prove_knowledge(ctx, x)
    out["knowledge"] += [
        {"context": ctx, "key": base_mul(x).hex(), "proof": pok, "valid": True},
        {"context": [BALLOT, "trustee/3/encryption"], "key": base_mul(x).hex(), "proof": pok, "valid": False},
        {"context": ctx, "key": base_mul(x + 1).hex(), "proof": pok, "valid": False},
    ]
    A = base_mul(random_scalar())
    d = prove_decryption(manifest, h, 2, ["option/4"], A, x)
    case = {"index": 2, "ctx": ["option/4"], "key": base_mul(x).hex(), "aggregate_a": A.hex(), **d, "valid": True}
    out["decryption"] += [
        case,
        {**case, "index": 3, "valid": False, "why": "another trustee index"},
        {**case, "d": (base_mul(7) + A * x).hex(), "valid": False, "why": "share changed"},
    ]
    return out


def _ceremony_and_ballots() -> dict[str, Any]:
    n, k = 3, 2
    trustees = [cer.new_trustee(BALLOT, i, k) for i in range(1, n + 1)]
    joined = [cer.make_joined(t) for t in trustees]
    keys = {d["index"]: cer.check_joined(BALLOT, d) for d in joined}
    committed = [cer.make_committed(t, keys) for t in trustees]
    commitments = {d["index"]: cer.check_committed(BALLOT, d, k, list(keys)) for d in committed}
    h = cer.joint_key(commitments)
    opened = {
        "title": "Vectors", "kind": "participatory_budget", "secrecy": "encrypted",
        "options": [{"id": "park", "title": "Park", "district": "d1", "cost": 700},
                    {"id": "lib", "title": "Library", "district": "d1", "cost": 400},
                    {"id": "road", "title": "Road", "district": "d2", "cost": 900}],
        "method": {"type": "budget", "budgets": {"d1": 1000, "d2": 1000}},
        "opens_at": "2027-03-01T06:00:00.000000Z", "closes_at": "2027-03-15T20:00:00.000000Z",
        "eligibility": {"identity_methods": ["diia"], "min_age": 16, "districts": ["d1", "d2"]}, "pseudonym_key": 1,
        "trustees": [{"index": i, "service": f"trustee.{i}"} for i in range(1, n + 1)], "threshold": k,
        "public_key": h.hex(),
    }  # fmt: skip
    manifest = manifest_hash(BALLOT, opened)
    opened["manifest_hash"] = manifest.hex()
    st = bal.statement(opened, "d1")
    made = bal.encrypt(
        ballot_id=BALLOT, manifest=manifest, public_key=h, st=st, voter="vot:v1:" + "cd" * 32, district="d1",
        selection=["lib"],
    )  # fmt: skip
    body = made.body
    refused = []
    for where, edit in (
        ("proofs.options[0]", lambda b: b["ciphertexts"][0].update(b=b["ciphertexts"][1]["b"])),
        ("proofs.count", lambda b: b["proofs"]["count"]["s"].reverse()),
        ("proofs.budget.sum", lambda b: b["proofs"]["budget"]["sum"]["s"].__setitem__(0, scalar_hex(1))),
        ("proofs.budget.bit_proofs[2]", lambda b: b["proofs"]["budget"]["bit_proofs"][2]["c"].reverse()),
        ("tracker", lambda b: b.update(tracker="0" * 64)),
        ("ciphertexts", lambda b: b["ciphertexts"].append(b["ciphertexts"][0])),
    ):
        bad = copy.deepcopy(body)
        edit(bad)
        refused.append({"where": where, "ballot": bad})
    secrets = {t.index: t for t in trustees}
    shares = {}
    for t in trustees:
        received = {
            d["index"]: cer.decrypt_share(BALLOT, d["index"], t.index, t.encryption_secret, s)
            for d in committed
            for s in d["shares"]
            if s["to"] == t.index
        }
        shares[t.index] = cer.secret_share(t, received)
    aggregate = bal.check(body, manifest=manifest, public_key=h, st=st)  # one ballot: the sums are its own
    decryptions = {
        j: [prove_decryption(manifest, h, j, [f"option/{o}"], a, shares[j]) for o, (a, _) in enumerate(aggregate)]
        for j in (1, 3)
    }
    return {
        "ballot": BALLOT,
        "opened": opened,
        "joined": joined,
        "committed": committed,
        "trustee_secrets": [secrets[i].to_json() for i in sorted(secrets)],
        "public_key": h.hex(),
        "verification_keys": {str(j): cer.verification_key(commitments, j).hex() for j in range(1, n + 1)},
        "manifest_hash": manifest.hex(),
        "district": "d1",
        "cast": body,
        "audit": made.audit_record(),
        "refused": refused,
        "aggregate": [{"a": a.hex(), "b": b.hex()} for a, b in aggregate],
        "decryptions": {str(j): v for j, v in decryptions.items()},
        "counts": {o: int(o == "lib") for o in st.options},
    }


def build() -> dict[str, Any]:
    return {
        "format": "hromada/vote/v1",
        "spec": "docs/voting.md",
        "encodings": _encodings(),
        "hashes": _hashes(),
        "proofs": _proofs(random_scalar()),
        "ballot": _ceremony_and_ballots(),
    }


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")
