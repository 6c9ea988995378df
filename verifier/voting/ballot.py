"""One cast ballot's checks (docs/voting.md §6): shape, every proof, the tracker. What a voter's ballot must
prove comes from the ballot's frozen spec (:func:`statement`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.voting.group import Bad, Pt, lin, point, scalar, total
from verifier.voting.hashing import tracker
from verifier.voting.proofs import range_ok

__all__ = ["BIT", "Refused", "Statement", "audit_record", "check", "statement"]

BIT = (0, 1)
Pair = tuple[Pt, Pt]


@dataclass(frozen=True)
class Statement:
    """What one voter's ballot proves: its ballot options (indexes into ``options``), the allowed counts, and for
    a budget the options' costs and the district's budget."""

    indexes: tuple[int, ...]
    count: tuple[int, ...]
    costs: tuple[int, ...] | None = None
    budget: int | None = None


def statement(spec: Mapping[str, Any], district: str | None) -> Statement:
    """From ``ballot.opened``'s ``options`` and ``method``; ValueError for a district the ballot has no budget for."""
    method, options = spec["method"], spec["options"]
    if method["type"] == "budget":
        mine = [i for i, o in enumerate(options) if o.get("district") == district]
        budgets = method["budgets"]
        if district not in budgets or not mine:
            raise ValueError(f"the ballot has no options or budget for district {district!r}")
        return Statement(
            tuple(mine), tuple(range(1, len(mine) + 1)), tuple(int(options[i]["cost"]) for i in mine),
            int(budgets[district]),
        )  # fmt: skip
    hi = 1 if method["type"] == "single" else int(method["max_choices"])
    return Statement(tuple(range(len(options))), tuple(range(1, min(hi, len(options)) + 1)))


class Refused(ValueError):
    """A check failed; ``where`` names the field (``proofs.options[3]``, ``tracker``, ...)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def pairs(raw: Any, where: str) -> list[Pair]:
    if type(raw) is not list:
        raise Refused(where, "must be a list of ciphertexts {a, b}")
    out = []
    for i, ct in enumerate(raw):
        if type(ct) is not dict or ct.keys() != {"a", "b"}:
            raise Refused(f"{where}[{i}]", "must be {a, b}")
        try:
            out.append((point(ct["a"]), point(ct["b"])))
        except Bad as e:
            raise Refused(f"{where}[{i}]", str(e)) from None
    return out


def check(body: Mapping[str, Any], *, manifest: bytes, h: Pt, st: Statement) -> list[Pair]:
    """Every check of a ballot's ``ciphertexts``, ``proofs`` and ``tracker``; the ciphertexts, or :class:`Refused`
    naming the first failure (in the order: ciphertexts, option proofs, count proof, budget proofs, tracker)."""
    voter = body.get("voter")
    if type(voter) is not str:
        raise Refused("voter", "must be a string")
    cts = pairs(body.get("ciphertexts"), "ciphertexts")
    if len(cts) != len(st.indexes):
        raise Refused("ciphertexts", f"must hold one ciphertext per ballot option ({len(st.indexes)})")
    proofs = body.get("proofs")
    if type(proofs) is not dict or proofs.keys() != {"options", "count", "budget"}:
        raise Refused("proofs", "must be {options, count, budget}")
    options = proofs["options"]
    if type(options) is not list or len(options) != len(cts):
        raise Refused("proofs.options", "must hold one proof per ciphertext")
    for i, ((a, b), proof) in enumerate(zip(cts, options, strict=True)):
        if not range_ok(manifest, h, (voter, f"option/{i}"), a, b, BIT, proof):
            raise Refused(f"proofs.options[{i}]", "the proof that this ciphertext encrypts 0 or 1 fails")
    sa, sb = total(a for a, _ in cts), total(b for _, b in cts)
    if not range_ok(manifest, h, (voter, "count"), sa, sb, st.count, proofs["count"]):
        raise Refused(
            "proofs.count", f"the proof that between {st.count[0]} and {st.count[-1]} options are chosen fails"
        )
    if st.costs is None or st.budget is None:
        if proofs["budget"] is not None:
            raise Refused("proofs.budget", "must be null: this ballot has no budget")
    else:
        _budget(proofs["budget"], manifest, h, voter, st.costs, st.budget, cts)
    if body.get("tracker") != tracker(body, checked=True):
        raise Refused("tracker", "is not the hash of this ballot's ballot, voter, district, ciphertexts and proofs")
    return cts


def _budget(raw: Any, manifest: bytes, h: Pt, voter: str, costs: Sequence[int], budget: int, cts: list[Pair]) -> None:
    if type(raw) is not dict or raw.keys() != {"bits", "bit_proofs", "sum"}:
        raise Refused("proofs.budget", "must be {bits, bit_proofs, sum}")
    bits = pairs(raw["bits"], "proofs.budget.bits")
    width = budget.bit_length()
    if len(bits) != width:
        raise Refused("proofs.budget.bits", f"must hold {width} bits")
    bit_proofs = raw["bit_proofs"]
    if type(bit_proofs) is not list or len(bit_proofs) != width:
        raise Refused("proofs.budget.bit_proofs", "must hold one proof per bit")
    for e, ((a, b), proof) in enumerate(zip(bits, bit_proofs, strict=True)):
        if not range_ok(manifest, h, (voter, f"budget/bit/{e}"), a, b, BIT, proof):
            raise Refused(f"proofs.budget.bit_proofs[{e}]", "the proof that this bit is 0 or 1 fails")
    weights = [*costs, *(1 << e for e in range(width))]
    both = [*cts, *bits]
    big_a = total(a.mul(w) for w, (a, _) in zip(weights, both, strict=True))
    big_b = total(b.mul(w) for w, (_, b) in zip(weights, both, strict=True))
    if not range_ok(manifest, h, (voter, "budget/sum"), big_a, big_b, (budget,), raw["sum"]):
        raise Refused("proofs.budget.sum", "the proof that the selection's cost fits the district's budget fails")


def audit_record(record: Mapping[str, Any], *, h: Pt, st: Statement) -> list[int]:
    """A Benaloh audit: the revealed randomness and choices must make exactly the ciphertexts (α = rG, β = vG + rH),
    and the tracker must be the record's. Returns the choices (0/1 per ballot option); :class:`Refused` otherwise."""
    cts = pairs(record.get("ciphertexts"), "ciphertexts")
    rs, vs = record.get("randomness"), record.get("choices")
    if type(rs) is not list or type(vs) is not list or not len(rs) == len(vs) == len(cts) == len(st.indexes):
        raise Refused("randomness", "must hold one value and one choice per ballot option")
    if record.get("tracker") != tracker(record):
        raise Refused("tracker", "is not the hash of this ballot")
    for i, ((a, b), r_hex, v) in enumerate(zip(cts, rs, vs, strict=True)):
        if type(v) is not int or v not in BIT:
            raise Refused(f"choices[{i}]", "must be 0 or 1")
        try:
            r = scalar(r_hex, f"randomness[{i}]")
        except Bad as e:
            raise Refused(f"randomness[{i}]", str(e)) from None
        if lin(h, r, v) != b or lin(h, 0, r) != a:
            raise Refused(f"ciphertexts[{i}]", "does not encrypt the revealed choice with the revealed randomness")
    return list(vs)
