"""The public side of the key ceremony and the threshold decryption (docs/voting.md §5-§6): the joint key, each
trustee's verification key from the logged commitments, Lagrange combination and the small discrete log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from verifier.voting.group import ONE, ZERO, Bad, N, Pt, total

__all__ = ["count", "joint_key", "lagrange", "share_key"]


def joint_key(commitments: Mapping[int, Sequence[Pt]]) -> Pt:
    """H = Σ_i C_i0."""
    return total(c[0] for c in commitments.values())


def share_key(commitments: Mapping[int, Sequence[Pt]], j: int) -> Pt:
    """S_j = Σ_i Σ_l j^l C_il."""
    return total(c.mul(pow(j, e, N)) for cs in commitments.values() for e, c in enumerate(cs))


def lagrange(indexes: Sequence[int], j: int) -> int:
    """λ_j = Π_{m ≠ j} m / (m − j) mod n."""
    num, den = 1, 1
    for m in indexes:
        if m != j:
            num, den = num * m % N, den * (m - j) % N
    return num * pow(den, -1, N) % N


def count(b: Pt, shares: Mapping[int, Pt], limit: int) -> int:
    """The t in [0, limit] with B − Σ λ_j D_j = tG; Bad if there is none."""
    q = sorted(shares)
    m = b - total(d.mul(lagrange(q, j)) for j, d in shares.items())
    acc = ZERO
    for t in range(limit + 1):
        if acc == m:
            return t
        acc = acc + ONE
    raise Bad(f"the decrypted count is not between 0 and {limit}")
