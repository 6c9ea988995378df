"""A naive RFC 9162 §2.1 reference, written straight from the RFC's recursive definitions.

Only for cross-checking the tile-based implementation in tests; quadratic and slow on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from hashlib import sha256


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over raw entries (RFC 9162 §2.1.1)."""
    return _mth(tuple(d))


@lru_cache(maxsize=1 << 16)
def _mth(d: tuple[bytes, ...]) -> bytes:
    n = len(d)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) — inclusion proof of leaf m (RFC 9162 §2.1.3.1)."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 9162 §2.1.4.1)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) — consistency proof from size m to size n (0 < m <= n)."""
    return subproof(m, d, True)


def subtree_valid(start: int, end: int) -> bool:
    """draft-ietf-plants-merkle-tree-certs: [start, end) is a (possibly incomplete) subtree."""
    if start > end:
        return False
    if start == 0 or start == end:
        return True
    ceil = 1 << (end - start - 1).bit_length()
    return start % ceil == 0


def subtree_consistency(start: int, end: int, d: Sequence[bytes], known: bool = True) -> list[bytes]:
    """Consistency proof of subtree [start, end) into the tree D (the MTC draft's generalised SUBPROOF)."""
    n = len(d)
    if start == end:
        return []
    if start == 0 and end == n:
        return [] if known else [mth(d)]
    k = _k(n)
    if end <= k:
        return [*subtree_consistency(start, end, d[:k], known), mth(d[k:])]
    if k <= start:
        return [*subtree_consistency(start - k, end - k, d[k:], known), mth(d[:k])]
    return [*subtree_consistency(0, end - k, d[k:], False), mth(d[:k])]


class RefTree:
    """The same RFC 9162 recursions over index ranges of one fixed leaf list, memoised (for properties)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaf_hashes = [sha256(b"\x00" + d).digest() for d in leaves]
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, a: int, b: int) -> bytes:
        """MTH(D[a:b])."""
        if b - a == 0:
            return sha256(b"").digest()
        if b - a == 1:
            return self.leaf_hashes[a]
        got = self._memo.get((a, b))
        if got is None:
            k = _k(b - a)
            got = sha256(b"\x01" + self.mth(a, a + k) + self.mth(a + k, b)).digest()
            self._memo[(a, b)] = got
        return got

    def path(self, m: int, a: int, b: int) -> list[bytes]:
        """PATH(m, D[a:b])."""
        if b - a == 1:
            return []
        k = _k(b - a)
        if m < k:
            return [*self.path(m, a, a + k), self.mth(a + k, b)]
        return [*self.path(m - k, a + k, b), self.mth(a, a + k)]

    def subproof(self, m: int, a: int, b: int, known: bool) -> list[bytes]:
        """SUBPROOF(m, D[a:b], known)."""
        if m == b - a:
            return [] if known else [self.mth(a, b)]
        k = _k(b - a)
        if m <= k:
            return [*self.subproof(m, a, a + k, known), self.mth(a + k, b)]
        return [*self.subproof(m - k, a + k, b, False), self.mth(a, a + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n])."""
        return self.subproof(m, 0, n, True)
