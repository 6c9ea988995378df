"""Verifying the proofs of docs/voting.md §4 (compact challenge/response form, strong Fiat-Shamir). Each function
returns True or False and never raises on a hostile proof."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verifier.voting.group import Bad, N, Pt, fixed, lin, lin_plus, scalar
from verifier.voting.hashing import hs, hs_bytes, hs_prefix

__all__ = ["decryption_ok", "knowledge_ok", "range_ok"]

_POINT = (33).to_bytes(4, "big")  # the length prefix of a point's encoding in a hash


def _pair(proof: Any, size: int | None) -> tuple[list[int], list[int]] | None:
    if type(proof) is not dict or proof.keys() != {"c", "s"}:
        return None
    c, s = proof["c"], proof["s"]
    if size is None:
        return [scalar(c)], [scalar(s)]
    if type(c) is not list or type(s) is not list or not len(c) == len(s) == size:
        return None
    return [scalar(x) for x in c], [scalar(x) for x in s]


def range_ok(
    manifest: bytes, h: Pt, ctx: Sequence[str], alpha: Pt, beta: Pt, values: Sequence[int], proof: Any
) -> bool:
    """The ElGamal pair (α, β) under H encrypts one of ``values``: for every k, A_k = s_k G − c_k α and
    B_k = s_k H − c_k (β − j_k G), and Σ c_k = Hs("range", manifest, H, ctx, α, β, m, j…, A_1, B_1, …).

    The hash's items are laid out here (:func:`verifier.voting.hashing.hs` of the same items, property-tested):
    a verifier computes some 2,000 of these a second."""
    try:
        got = _pair(proof, len(values))
        if got is None or alpha.zero or beta.zero:
            return False
        cs, ss = got
        table = fixed(h)
        parts = [hs_prefix(manifest, h, *ctx, alpha, beta, len(values), *values)]
        for c, s, j in zip(cs, ss, values, strict=True):
            a = lin(alpha, -c, s)
            b = lin_plus(beta, -c, c * j, h, table, s)
            if a.zero or b.zero:
                return False
            parts += (_POINT, a.enc(), _POINT, b.enc())
        return sum(cs) % N == hs_bytes("range", b"".join(parts))
    except (Bad, TypeError, ValueError):
        return False


def knowledge_ok(context: Sequence[str], x: Pt, proof: Any) -> bool:
    """Schnorr: A = sG − cX and c = Hs("pok", context…, X, A)."""
    try:
        got = _pair(proof, None)
        if got is None or x.zero:
            return False
        (c,), (s,) = got
        a = lin(x, -c, s)
        return not a.zero and c == hs("pok", *context, x, a)
    except (Bad, TypeError, ValueError):
        return False


def decryption_ok(manifest: bytes, h: Pt, index: int, ctx: Sequence[str], sj: Pt, a: Pt, d: Pt, proof: Any) -> bool:
    """Chaum-Pedersen: T1 = sG − c S_j, T2 = sA − c D, c = Hs("decrypt", manifest, H, j, ctx…, S_j, A, D, T1, T2)."""
    try:
        got = _pair(proof, None)
        if got is None or sj.zero or a.zero or d.zero:
            return False
        (c,), (s,) = got
        t1 = lin(sj, -c, s)
        t2 = a.mul(s) + d.mul(N - c)
        if t1.zero or t2.zero:
            return False
        return c == hs("decrypt", manifest, h, index, *ctx, sj, a, d, t1, t2)
    except (Bad, TypeError, ValueError):
        return False
