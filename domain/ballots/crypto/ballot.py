"""An encrypted ballot: its ciphertexts and proofs (docs/voting.md §6), made on the voter's device and checked by
the ledger before it decides.

The *ballot options* of a voter are every option of the ballot, or for the budget method the options of the voter's
district, in the order of ``options``. :func:`statement` computes, from the ballot's frozen spec, what a voter's
ballot must prove: the count range and, for a budget, the costs and the district budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.ballots.crypto.group import (
    INFINITY,
    CryptoError,
    Point,
    base_mul,
    decode_point,
    decode_scalar,
    point_sum,
    random_scalar,
    scalar_hex,
)
from domain.ballots.crypto.hashing import tracker
from domain.ballots.crypto.proofs import prove_range, verify_range

BIT = (0, 1)


@dataclass(frozen=True)
class Statement:
    """What one voter's ballot proves, from the ballot's spec (:func:`statement`)."""

    options: tuple[str, ...]  # the ballot options' ids, in order
    count: tuple[int, ...]  # the allowed numbers of chosen options
    costs: tuple[int, ...] | None  # budget method: each ballot option's cost
    budget: int | None  # budget method: the district's budget


def statement(spec: Mapping[str, Any], district: str | None) -> Statement:
    method = spec["method"]
    options = spec["options"]
    if method["type"] == "budget":
        mine = [o for o in options if o.get("district") == district]
        budget = int(method["budgets"][district])
        return Statement(
            tuple(o["id"] for o in mine),
            tuple(range(1, len(mine) + 1)),
            tuple(int(o["cost"]) for o in mine),
            budget,
        )
    hi = 1 if method["type"] == "single" else int(method["max_choices"])
    return Statement(tuple(o["id"] for o in options), tuple(range(1, min(hi, len(options)) + 1)), None, None)


def _ctx(voter: str, label: str) -> tuple[str, str]:
    return (voter, label)


@dataclass(frozen=True)
class Opened:
    """A ballot made on the device before it is cast or audited: the body to send, and its secrets."""

    body: dict[str, Any]
    randomness: list[int]
    choices: list[int]

    def audit_record(self) -> dict[str, Any]:
        """What the device reveals when the voter audits this ballot instead of casting it (docs/voting.md §6)."""
        return {
            "ballot": self.body["ballot"],
            "voter": self.body["voter"],
            "district": self.body["district"],
            "tracker": self.body["tracker"],
            "ciphertexts": self.body["ciphertexts"],
            "proofs": self.body["proofs"],
            "randomness": [scalar_hex(r) for r in self.randomness],
            "choices": self.choices,
        }


def encrypt(
    *,
    ballot_id: str,
    manifest: bytes,
    public_key: Point,
    st: Statement,
    voter: str,
    district: str | None,
    selection: Sequence[str],
) -> Opened:
    """Encrypt ``selection`` (option ids) with all proofs. Raises ValueError for a selection the ballot refuses."""
    chosen = set(selection)
    if not chosen <= set(st.options) or len(chosen) != len(selection):
        raise ValueError("the selection names an option twice or one this ballot does not offer")
    choices = [1 if o in chosen else 0 for o in st.options]
    if sum(choices) not in st.count:
        raise ValueError("the number of chosen options is not allowed")
    h = public_key
    rs = [random_scalar() for _ in choices]
    cts = [(base_mul(r), base_mul(v) + h * r) for v, r in zip(choices, rs, strict=True)]
    option_proofs = [
        prove_range(manifest, h, _ctx(voter, f"option/{i}"), a, b, BIT, v, r)
        for i, ((a, b), v, r) in enumerate(zip(cts, choices, rs, strict=True))
    ]
    sum_a, sum_b = point_sum(a for a, _ in cts), point_sum(b for _, b in cts)
    count = prove_range(manifest, h, _ctx(voter, "count"), sum_a, sum_b, st.count, sum(choices), sum(rs))
    budget: dict[str, Any] | None = None
    if st.costs is not None and st.budget is not None:
        spent = sum(c * v for c, v in zip(st.costs, choices, strict=True))
        if spent > st.budget:
            raise ValueError("the selection costs more than the district's budget")
        budget = _prove_budget(manifest, h, voter, st.costs, st.budget, cts, rs, st.budget - spent)
    body: dict[str, Any] = {
        "ballot": ballot_id,
        "voter": voter,
        "district": district,
        "ciphertexts": [{"a": a.hex(), "b": b.hex()} for a, b in cts],
        "proofs": {"options": option_proofs, "count": count, "budget": budget},
    }
    body["tracker"] = tracker(body)
    return Opened(body, rs, choices)


def _budget_sum(
    costs: Sequence[int], cts: Sequence[tuple[Point, Point]], bits: Sequence[tuple[Point, Point]]
) -> tuple[Point, Point]:
    terms_a = [a * c for c, (a, _) in zip(costs, cts, strict=True)] + [a * (1 << e) for e, (a, _) in enumerate(bits)]
    terms_b = [b * c for c, (_, b) in zip(costs, cts, strict=True)] + [b * (1 << e) for e, (_, b) in enumerate(bits)]
    return point_sum(terms_a), point_sum(terms_b)


def _prove_budget(
    manifest: bytes,
    h: Point,
    voter: str,
    costs: Sequence[int],
    budget: int,
    cts: Sequence[tuple[Point, Point]],
    rs: Sequence[int],
    left: int,
) -> dict[str, Any]:
    width = budget.bit_length()
    digits = [(left >> e) & 1 for e in range(width)]
    rhos = [random_scalar() for _ in digits]
    bits = [(base_mul(rho), base_mul(d) + h * rho) for d, rho in zip(digits, rhos, strict=True)]
    bit_proofs = [
        prove_range(manifest, h, _ctx(voter, f"budget/bit/{e}"), a, b, BIT, d, rho)
        for e, ((a, b), d, rho) in enumerate(zip(bits, digits, rhos, strict=True))
    ]
    big_a, big_b = _budget_sum(costs, cts, bits)
    randomness = sum(c * r for c, r in zip(costs, rs, strict=True)) + sum((1 << e) * rho for e, rho in enumerate(rhos))
    total = prove_range(manifest, h, _ctx(voter, "budget/sum"), big_a, big_b, (budget,), budget, randomness)
    return {"bits": [{"a": a.hex(), "b": b.hex()} for a, b in bits], "bit_proofs": bit_proofs, "sum": total}


class BallotRefused(ValueError):
    """A cast ballot that fails a check; ``where`` names the field (``proofs.options[3]``, ``tracker``, …)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _pairs(raw: Any, where: str) -> list[tuple[Point, Point]]:
    if not isinstance(raw, list):
        raise BallotRefused(where, "must be a list of ciphertexts")
    out = []
    for i, ct in enumerate(raw):
        if not isinstance(ct, dict) or set(ct) != {"a", "b"}:
            raise BallotRefused(f"{where}[{i}]", "must be {a, b}")
        try:
            out.append((decode_point(ct["a"]), decode_point(ct["b"])))
        except CryptoError as e:
            raise BallotRefused(f"{where}[{i}]", str(e)) from None
    return out


def check(body: Mapping[str, Any], *, manifest: bytes, public_key: Point, st: Statement) -> list[tuple[Point, Point]]:
    """Every check of a cast ballot's ``ciphertexts``, ``proofs`` and ``tracker`` (the voter, district and ballot
    fields are the caller's to check). Returns the ciphertexts; raises :class:`BallotRefused` naming the first
    failure."""
    h = public_key
    voter = body.get("voter")
    if not isinstance(voter, str):
        raise BallotRefused("voter", "must be a string")
    cts = _pairs(body.get("ciphertexts"), "ciphertexts")
    if len(cts) != len(st.options):
        raise BallotRefused("ciphertexts", f"must hold one ciphertext per ballot option ({len(st.options)})")
    proofs = body.get("proofs")
    if not isinstance(proofs, dict) or set(proofs) != {"options", "count", "budget"}:
        raise BallotRefused("proofs", "must be {options, count, budget}")
    options = proofs["options"]
    if not isinstance(options, list) or len(options) != len(cts):
        raise BallotRefused("proofs.options", "must hold one proof per ciphertext")
    for i, ((a, b), proof) in enumerate(zip(cts, options, strict=True)):
        if not verify_range(manifest, h, _ctx(voter, f"option/{i}"), a, b, BIT, proof):
            raise BallotRefused(f"proofs.options[{i}]", "the proof that this ciphertext encrypts 0 or 1 fails")
    sum_a, sum_b = point_sum(a for a, _ in cts), point_sum(b for _, b in cts)
    if (
        sum_a is INFINITY
        or sum_b is INFINITY
        or not verify_range(manifest, h, _ctx(voter, "count"), sum_a, sum_b, st.count, proofs["count"])
    ):
        raise BallotRefused("proofs.count", "the proof of the number of chosen options fails")
    if st.costs is None or st.budget is None:
        if proofs["budget"] is not None:
            raise BallotRefused("proofs.budget", "must be null: this ballot has no budget")
    else:
        _check_budget(proofs["budget"], manifest, h, voter, st.costs, st.budget, cts)
    if body.get("tracker") != tracker(dict(body)):
        raise BallotRefused("tracker", "is not the hash of this ballot")
    return cts


def _check_budget(
    raw: Any, manifest: bytes, h: Point, voter: str, costs: Sequence[int], budget: int, cts: list[tuple[Point, Point]]
) -> None:
    if not isinstance(raw, dict) or set(raw) != {"bits", "bit_proofs", "sum"}:
        raise BallotRefused("proofs.budget", "must be {bits, bit_proofs, sum}")
    bits = _pairs(raw["bits"], "proofs.budget.bits")
    if len(bits) != budget.bit_length():
        raise BallotRefused("proofs.budget.bits", f"must hold {budget.bit_length()} bits")
    bit_proofs = raw["bit_proofs"]
    if not isinstance(bit_proofs, list) or len(bit_proofs) != len(bits):
        raise BallotRefused("proofs.budget.bit_proofs", "must hold one proof per bit")
    for e, ((a, b), proof) in enumerate(zip(bits, bit_proofs, strict=True)):
        if not verify_range(manifest, h, _ctx(voter, f"budget/bit/{e}"), a, b, BIT, proof):
            raise BallotRefused(f"proofs.budget.bit_proofs[{e}]", "the proof that this bit is 0 or 1 fails")
    big_a, big_b = _budget_sum(costs, cts, bits)
    if (
        big_a is INFINITY
        or big_b is INFINITY
        or not verify_range(manifest, h, _ctx(voter, "budget/sum"), big_a, big_b, (budget,), raw["sum"])
    ):
        raise BallotRefused("proofs.budget.sum", "the proof that the selection fits the district's budget fails")


def audit(record: Mapping[str, Any], *, public_key: Point, st: Statement) -> list[str]:
    """The options an audited ballot chose, after checking that its revealed randomness and choices make exactly
    its ciphertexts and its tracker (docs/voting.md §6, the Benaloh challenge). Raises BallotRefused otherwise."""
    cts = _pairs(record.get("ciphertexts"), "ciphertexts")
    rs, vs = record.get("randomness"), record.get("choices")
    if not isinstance(rs, list) or not isinstance(vs, list) or not len(rs) == len(vs) == len(cts) == len(st.options):
        raise BallotRefused("randomness", "must hold one value and one choice per ciphertext")
    if record.get("tracker") != tracker(dict(record)):
        raise BallotRefused("tracker", "is not the hash of this ballot")
    for i, ((a, b), r_hex, v) in enumerate(zip(cts, rs, vs, strict=True)):
        if v not in BIT:
            raise BallotRefused(f"choices[{i}]", "must be 0 or 1")
        try:
            r = decode_scalar(r_hex)
        except CryptoError as e:
            raise BallotRefused(f"randomness[{i}]", str(e)) from None
        if base_mul(r) != a or base_mul(v) + public_key * r != b:
            raise BallotRefused(
                f"ciphertexts[{i}]", "does not encrypt the revealed choice with the revealed randomness"
            )
    return [o for o, v in zip(st.options, vs, strict=True) if v]
