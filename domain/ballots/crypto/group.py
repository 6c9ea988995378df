"""secp256k1 for exponential ElGamal and its proofs (docs/voting.md §2), through libsecp256k1 (``coincurve``).

Points are immutable and hashable; the identity is :data:`INFINITY` (never encoded). Scalars are Python ints in
``[0, n)``. Decoders refuse every malformed or out-of-range encoding with :class:`CryptoError`.

Speed (this is what a verifier does a hundred thousand times): ``a·P + b·G`` for a variable ``P`` is one call of
libsecp256k1's ECDSA public-key recovery (:func:`lin_g`): for ``R = P`` with ``r = x(P)``, recovery returns
``r⁻¹(s·R − z·G)``, so ``s = a·r`` and ``z = −b·r`` give ``a·P + b·G`` in one variable-time double multiplication,
cheaper than a constant-time multiplication and a base multiplication apart. It only ever handles public values.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from coincurve import PrivateKey, PublicKey

#: The group order n and the field prime p of secp256k1 (SEC 2, v2).
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P_FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F


class CryptoError(ValueError):
    """A malformed encoding, or a value the protocol does not allow (the identity where a point must be)."""


class Point:
    """A group element. ``key`` is None for the identity."""

    __slots__ = ("_bytes", "key")

    def __init__(self, key: PublicKey | None, encoded: bytes | None = None) -> None:
        self.key = key
        self._bytes = encoded

    @property
    def is_identity(self) -> bool:
        return self.key is None

    def to_bytes(self) -> bytes:
        """33-byte compressed SEC1. Precondition: not the identity."""
        if self.key is None:
            raise CryptoError("the identity has no encoding")
        if self._bytes is None:
            self._bytes = self.key.format(compressed=True)
        return self._bytes

    def hex(self) -> str:
        return self.to_bytes().hex()

    def __add__(self, other: Point) -> Point:
        if self.key is None:
            return other
        if other.key is None:
            return self
        try:
            return Point(PublicKey.combine_keys([self.key, other.key]))
        except ValueError:  # P + (-P)
            return INFINITY

    def __neg__(self) -> Point:
        if self.key is None:
            return self
        raw = self.to_bytes()
        flipped = bytes([raw[0] ^ 1]) + raw[1:]  # same x, the other y
        return Point(PublicKey(flipped), flipped)

    def __sub__(self, other: Point) -> Point:
        return self + (-other)

    def __mul__(self, k: int) -> Point:
        k %= N
        if k == 0 or self.key is None:
            return INFINITY
        return Point(self.key.multiply(k.to_bytes(32, "big")))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        if self.key is None or other.key is None:
            return self.key is None and other.key is None
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(b"" if self.key is None else self.to_bytes())

    def __repr__(self) -> str:
        return "Point(INFINITY)" if self.key is None else f"Point({self.hex()})"


INFINITY = Point(None)


def base_mul(k: int) -> Point:
    """``k·G``."""
    k %= N
    if k == 0:
        return INFINITY
    return Point(PrivateKey.from_int(k).public_key)


G = base_mul(1)


def lin_g(p: Point, a: int, b: int) -> Point:
    """``a·P + b·G`` (public values only; see the module docstring)."""
    a %= N
    b %= N
    if p.key is None or a == 0:
        return base_mul(b)
    raw = p.to_bytes()
    r = int.from_bytes(raw[1:], "big")
    if r >= N:  # x(P) not a valid ECDSA r (probability ~2^-128): do it the plain way
        return p * a + base_mul(b)
    sig = r.to_bytes(32, "big") + (a * r % N).to_bytes(32, "big") + bytes([raw[0] - 2])
    z = (-b * r) % N
    try:
        return Point(PublicKey.from_signature_and_message(sig, z.to_bytes(32, "big"), hasher=None))
    except ValueError:  # the result is the identity
        return INFINITY


def point_sum(points: Iterable[Point]) -> Point:
    keys = [p.key for p in points if p.key is not None]
    if not keys:
        return INFINITY
    if len(keys) == 1:
        return Point(keys[0])
    try:
        return Point(PublicKey.combine_keys(keys))
    except ValueError:
        return INFINITY


class FixedBase:
    """``s·P`` for a point ``P`` used over and over (a ballot's joint key ``H``), by table: row ``i`` holds
    ``j·256^i·P`` for ``j = 1..255`` (8,160 points, built in some 50 ms), so ``s·P`` is one addition call of the
    entries for the 32 bytes of ``s``, a third of a multiplication. Table lookups depend on ``s``: public
    scalars only (proof checks, never a secret nonce or randomness)."""

    __slots__ = ("rows",)

    def __init__(self, p: Point) -> None:
        if p.key is None:
            raise CryptoError("no table for the identity")
        rows: list[list[PublicKey]] = []
        step = p.key
        for _ in range(32):
            row = [step, step]  # index 0 unused
            for _ in range(254):
                row.append(PublicKey.combine_keys([row[-1], step]))  # never the identity: j < 256 < n
            rows.append(row)
            step = step.multiply((256).to_bytes(32, "big"))
        self.rows = rows

    def plus(self, s: int, other: Point) -> Point:
        """``s·P + other`` for a public ``s``."""
        keys = [row[b] for row, b in zip(self.rows, (s % N).to_bytes(32, "little"), strict=True) if b]
        if other.key is not None:
            keys.append(other.key)
        if not keys:
            return INFINITY
        try:
            return Point(PublicKey.combine_keys(keys))
        except ValueError:
            return INFINITY


_TABLE_AFTER = 32  # uses of a key before its table pays for itself
_TABLES_KEPT = 4
_uses: dict[bytes, int] = {}
_tables: dict[bytes, FixedBase] = {}


def fixed_base(p: Point) -> FixedBase | None:
    """``p``'s table once it has been used often (the last few are kept), else None."""
    if p.key is None:
        return None
    raw = p.to_bytes()
    table = _tables.get(raw)
    if table is not None:
        return table
    used = _uses[raw] = _uses.get(raw, 0) + 1
    if used < _TABLE_AFTER:
        if len(_uses) > 4096:
            _uses.clear()
        return None
    del _uses[raw]
    if len(_tables) >= _TABLES_KEPT:
        del _tables[next(iter(_tables))]
    table = _tables[raw] = FixedBase(p)
    return table


def random_scalar() -> int:
    """Uniform in ``[1, n)`` from the operating system's CSPRNG."""
    return 1 + secrets.randbelow(N - 1)


# --- encodings (docs/voting.md §2) ----------------------------------------------------------------------------
def _hex_bytes(text: object, size: int, what: str) -> bytes:
    if not isinstance(text, str) or len(text) != 2 * size or text != text.lower():
        raise CryptoError(f"{what} must be {2 * size} lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CryptoError(f"{what} must be {2 * size} lowercase hex digits") from None


def decode_point(text: object, what: str = "point") -> Point:
    """A point from 66 lowercase hex digits (compressed SEC1); refuses the identity and anything off the curve."""
    raw = _hex_bytes(text, 33, what)
    if raw[0] not in (2, 3) or int.from_bytes(raw[1:], "big") >= P_FIELD:
        raise CryptoError(f"{what} is not a compressed secp256k1 point")
    try:
        return Point(PublicKey(raw), raw)
    except ValueError:
        raise CryptoError(f"{what} is not on secp256k1") from None


def decode_scalar(text: object, what: str = "scalar") -> int:
    value = int.from_bytes(_hex_bytes(text, 32, what), "big")
    if value >= N:
        raise CryptoError(f"{what} is not below the group order")
    return value


def scalar_hex(k: int) -> str:
    return (k % N).to_bytes(32, "big").hex()


def scalar_bytes(k: int) -> bytes:
    return (k % N).to_bytes(32, "big")
