"""secp256k1 (docs/voting.md §2) through libsecp256k1 (``coincurve``): points, strict decoders, the operations a
verifier needs. Only public values pass through here, so variable-time code is fine.

``lin(P, a, b)`` = ``a·P + b·G`` is one ECDSA public-key recovery: for ``R = P`` with ``r = x(P)``, recovery gives
``r⁻¹(s·R − z·G)``; ``s = a·r``, ``z = −b·r`` make it ``a·P + b·G`` in one double multiplication.
"""

from __future__ import annotations

from collections.abc import Iterable

from coincurve import PrivateKey, PublicKey

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P_FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F

__all__ = ["ONE", "ZERO", "Bad", "N", "Pt", "base", "lin", "point", "scalar", "total"]


class Bad(ValueError):
    """A malformed encoding or a value the protocol forbids."""


class Pt:
    """A group element; ``key`` None is the identity (which has no encoding)."""

    __slots__ = ("key", "raw")

    def __init__(self, key: PublicKey | None, raw: bytes | None = None) -> None:
        self.key = key
        self.raw = raw

    @property
    def zero(self) -> bool:
        return self.key is None

    def enc(self) -> bytes:
        if self.key is None:
            raise Bad("the identity has no encoding")
        if self.raw is None:
            self.raw = self.key.format(compressed=True)
        return self.raw

    def hex(self) -> str:
        return self.enc().hex()

    def __add__(self, other: Pt) -> Pt:
        return total((self, other))

    def __neg__(self) -> Pt:
        if self.key is None:
            return self
        raw = self.enc()
        flipped = bytes([raw[0] ^ 1]) + raw[1:]
        return Pt(PublicKey(flipped), flipped)

    def __sub__(self, other: Pt) -> Pt:
        return self + (-other)

    def mul(self, k: int) -> Pt:
        k %= N
        if k == 0 or self.key is None:
            return ZERO
        return Pt(self.key.multiply(k.to_bytes(32, "big")))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pt):
            return NotImplemented
        if self.key is None or other.key is None:
            return self.key is None and other.key is None
        return self.enc() == other.enc()

    def __hash__(self) -> int:
        return hash(b"" if self.key is None else self.enc())

    def __repr__(self) -> str:
        return "Pt(0)" if self.key is None else f"Pt({self.hex()})"


ZERO = Pt(None)


def base(k: int) -> Pt:
    """``k·G``."""
    k %= N
    return ZERO if k == 0 else Pt(PrivateKey.from_int(k).public_key)


ONE = base(1)


def lin(p: Pt, a: int, b: int) -> Pt:
    """``a·P + b·G``."""
    a %= N
    b %= N
    if p.key is None or a == 0:
        return base(b)
    raw = p.enc()
    r = int.from_bytes(raw[1:], "big")
    if r >= N:  # x(P) is no ECDSA r (probability ~2^-128)
        return p.mul(a) + base(b)
    sig = r.to_bytes(32, "big") + (a * r % N).to_bytes(32, "big") + bytes([raw[0] - 2])
    try:
        return Pt(PublicKey.from_signature_and_message(sig, ((-b * r) % N).to_bytes(32, "big"), hasher=None))
    except ValueError:  # the identity
        return ZERO


def total(points: Iterable[Pt]) -> Pt:
    keys = [p.key for p in points if p.key is not None]
    if not keys:
        return ZERO
    if len(keys) == 1:
        return Pt(keys[0])
    try:
        return Pt(PublicKey.combine_keys(keys))
    except ValueError:  # they sum to the identity
        return ZERO


def _hex(text: object, size: int, what: str) -> bytes:
    if type(text) is not str or len(text) != 2 * size or text != text.lower():
        raise Bad(f"{what} must be {2 * size} lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Bad(f"{what} must be {2 * size} lowercase hex digits") from None


def point(text: object, what: str = "point") -> Pt:
    """66 lowercase hex digits of a compressed SEC1 point on secp256k1 (never the identity)."""
    raw = _hex(text, 33, what)
    if raw[0] not in (2, 3) or int.from_bytes(raw[1:], "big") >= P_FIELD:
        raise Bad(f"{what} is not a compressed secp256k1 point")
    try:
        return Pt(PublicKey(raw), raw)
    except ValueError:
        raise Bad(f"{what} is not on secp256k1") from None


def scalar(text: object, what: str = "scalar") -> int:
    """64 lowercase hex digits of an integer below n."""
    value = int.from_bytes(_hex(text, 32, what), "big")
    if value >= N:
        raise Bad(f"{what} is not below the group order")
    return value
