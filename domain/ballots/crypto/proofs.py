"""The zero-knowledge proofs of docs/voting.md §4, in compact (challenge, response) form, with strong Fiat-Shamir.

Each ``prove_*`` takes the secret witness and returns the JSON-native proof; each ``verify_*`` returns True or
False and never raises on a malformed or hostile proof (it is simply false). Every challenge hashes the manifest
hash, the joint key ``H``, a context (the voter and the statement's label), the whole statement and every
commitment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.ballots.crypto.group import (
    INFINITY,
    CryptoError,
    G,
    N,
    Point,
    base_mul,
    decode_scalar,
    fixed_base,
    lin_g,
    random_scalar,
    scalar_hex,
)
from domain.ballots.crypto.hashing import Item, hs

Proof = dict[str, Any]


def _nonzero(*points: Point) -> None:
    if any(p.is_identity for p in points):
        raise CryptoError("a commitment is the identity")


# --- range proof: (α, β) encrypts one of J under H ---------------------------------------------------------------
def _range_challenge(
    manifest: bytes,
    h: Point,
    ctx: Sequence[str],
    alpha: Point,
    beta: Point,
    values: Sequence[int],
    commits: list[Point],
) -> int:
    items: list[Item] = [manifest, h, *ctx, alpha, beta, len(values), *values, *commits]
    return hs("range", *items)


def prove_range(
    manifest: bytes,
    h: Point,
    ctx: Sequence[str],
    alpha: Point,
    beta: Point,
    values: Sequence[int],
    value: int,
    r: int,
) -> Proof:
    """Prove ``α = rG, β = value·G + rH`` with ``value`` in ``values`` (distinct, 0 <= v < 2^64)."""
    if value not in values:
        raise ValueError("the value is not in the list")
    while True:
        t = values.index(value)
        cs = [0] * len(values)
        ss = [0] * len(values)
        commits: list[Point] = []
        w = random_scalar()
        for k, j in enumerate(values):
            if k == t:
                a, b = base_mul(w), h * w
            else:
                cs[k], ss[k] = random_scalar(), random_scalar()
                a = lin_g(alpha, -cs[k], ss[k])
                b = lin_g(beta, -cs[k], cs[k] * j) + h * ss[k]
            commits += [a, b]
        try:
            _nonzero(*commits)
        except CryptoError:  # probability ~2^-256: draw again
            continue
        c = _range_challenge(manifest, h, ctx, alpha, beta, values, commits)
        cs[t] = (c - sum(cs)) % N
        ss[t] = (w + cs[t] * r) % N
        return {"c": [scalar_hex(x) for x in cs], "s": [scalar_hex(x) for x in ss]}


def verify_range(
    manifest: bytes, h: Point, ctx: Sequence[str], alpha: Point, beta: Point, values: Sequence[int], proof: Any
) -> bool:
    try:
        if not isinstance(proof, dict) or set(proof) != {"c", "s"}:
            return False
        raw_c, raw_s = proof["c"], proof["s"]
        if not (isinstance(raw_c, list) and isinstance(raw_s, list) and len(raw_c) == len(raw_s) == len(values)):
            return False
        cs = [decode_scalar(x) for x in raw_c]
        ss = [decode_scalar(x) for x in raw_s]
        commits: list[Point] = []
        table = fixed_base(h)
        for c, s, j in zip(cs, ss, values, strict=True):
            commits.append(lin_g(alpha, -c, s))
            rest = lin_g(beta, -c, c * j)
            commits.append(rest + h * s if table is None else table.plus(s, rest))
        _nonzero(*commits)
        return sum(cs) % N == _range_challenge(manifest, h, ctx, alpha, beta, values, commits)
    except (CryptoError, TypeError, ValueError):
        return False


# --- Schnorr proof of knowledge of x with X = xG -----------------------------------------------------------------
def prove_knowledge(context: Sequence[str], x: int) -> Proof:
    X = base_mul(x)
    w = random_scalar()
    c = hs("pok", *context, X, base_mul(w))
    return {"c": scalar_hex(c), "s": scalar_hex(w + c * x)}


def verify_knowledge(context: Sequence[str], X: Point, proof: Any) -> bool:
    try:
        if not isinstance(proof, dict) or set(proof) != {"c", "s"} or X.is_identity:
            return False
        c, s = decode_scalar(proof["c"]), decode_scalar(proof["s"])
        A = lin_g(X, -c, s)
        _nonzero(A)
        return c == hs("pok", *context, X, A)
    except (CryptoError, TypeError, ValueError):
        return False


# --- decryption proof: D = s_j·A for the s_j with S_j = s_j·G --------------------------------------------------
def _decrypt_challenge(
    manifest: bytes, h: Point, index: int, ctx: Sequence[str], S: Point, A: Point, D: Point, T1: Point, T2: Point
) -> int:
    return hs("decrypt", manifest, h, index, *ctx, S, A, D, T1, T2)


def prove_decryption(manifest: bytes, h: Point, index: int, ctx: Sequence[str], A: Point, secret: int) -> Proof:
    S, D = base_mul(secret), A * secret
    w = random_scalar()
    c = _decrypt_challenge(manifest, h, index, ctx, S, A, D, base_mul(w), A * w)
    return {"d": D.hex(), "proof": {"c": scalar_hex(c), "s": scalar_hex(w + c * secret)}}


def verify_decryption(
    manifest: bytes, h: Point, index: int, ctx: Sequence[str], S: Point, A: Point, D: Point, proof: Any
) -> bool:
    try:
        if not isinstance(proof, dict) or set(proof) != {"c", "s"}:
            return False
        c, s = decode_scalar(proof["c"]), decode_scalar(proof["s"])
        T1 = lin_g(S, -c, s)
        T2 = A * s + D * (N - c)
        _nonzero(T1, T2)
        return c == _decrypt_challenge(manifest, h, index, ctx, S, A, D, T1, T2)
    except (CryptoError, TypeError, ValueError):
        return False


__all__ = [
    "INFINITY",
    "G",
    "Proof",
    "prove_decryption",
    "prove_knowledge",
    "prove_range",
    "verify_decryption",
    "verify_knowledge",
    "verify_range",
]
