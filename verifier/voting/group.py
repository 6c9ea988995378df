"""secp256k1 (docs/voting.md §2) through libsecp256k1: points, strict decoders, the operations a verifier needs.
Only public values pass through here, so variable-time code is fine.

The calls go straight to the libsecp256k1 binding that ``coincurve`` ships (``coincurve._libsecp256k1``, pinned
with coincurve): its ``PublicKey`` wrapper costs a third again of each call in Python bookkeeping, and a verifier
makes about 30 of these calls per ballot.

- ``lin(P, a, b)`` = ``a·P + b·G`` is one ECDSA public-key recovery: for ``R = P`` with ``r = x(P)``, recovery gives
  ``r⁻¹(s·R − z·G)``; ``s = a·r``, ``z = −b·r`` make it ``a·P + b·G`` in one double multiplication.
- :class:`Fixed` is a table for a point used over and over (an election's joint key ``H``): ``s·H`` is then 32
  table lookups added in one call, a third of a multiplication, and :func:`lin_plus` adds it to a ``lin`` in the
  same call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from operator import getitem
from typing import Any

from coincurve._libsecp256k1 import ffi, lib  # type: ignore[import-not-found]
from coincurve.context import GLOBAL_CONTEXT

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P_FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F

__all__ = ["ONE", "ZERO", "Bad", "Fixed", "N", "Pt", "base", "fixed", "lin", "lin_plus", "point", "scalar", "total"]

_CTX = GLOBAL_CONTEXT.ctx
_NEW = ffi.new
_KEY = "secp256k1_pubkey *"
_COMPRESSED = lib.SECP256K1_EC_COMPRESSED
_combine = lib.secp256k1_ec_pubkey_combine

Key = Any  # a cffi ``secp256k1_pubkey *``


class Bad(ValueError):
    """A malformed encoding or a value the protocol forbids."""


def _parse(raw: bytes) -> Key | None:
    key = _NEW(_KEY)
    return key if lib.secp256k1_ec_pubkey_parse(_CTX, key, raw, len(raw)) else None


def _sum(keys: list[Key]) -> Pt:
    out = _NEW(_KEY)
    return Pt(out) if _combine(_CTX, out, keys, len(keys)) else ZERO  # 0: they sum to the identity


def _times(key: Key, k: int) -> Key:
    """``k·key`` for ``0 < k < n``."""
    out = _NEW(_KEY, key[0])
    lib.secp256k1_ec_pubkey_tweak_mul(_CTX, out, k.to_bytes(32, "big"))
    return out


class Pt:
    """A group element; ``key`` None is the identity (which has no encoding)."""

    __slots__ = ("key", "raw")

    def __init__(self, key: Key | None, raw: bytes | None = None) -> None:
        self.key = key
        self.raw = raw

    @property
    def zero(self) -> bool:
        return self.key is None

    def enc(self) -> bytes:
        if self.key is None:
            raise Bad("the identity has no encoding")
        if self.raw is None:
            buf = _NEW("unsigned char[33]")
            size = _NEW("size_t *", 33)
            lib.secp256k1_ec_pubkey_serialize(_CTX, buf, size, self.key, _COMPRESSED)
            self.raw = ffi.buffer(buf, 33)[:]
        return self.raw

    def hex(self) -> str:
        return self.enc().hex()

    def __add__(self, other: Pt) -> Pt:
        return total((self, other))

    def __neg__(self) -> Pt:
        if self.key is None:
            return self
        out = _NEW(_KEY, self.key[0])
        lib.secp256k1_ec_pubkey_negate(_CTX, out)
        return Pt(out)

    def __sub__(self, other: Pt) -> Pt:
        return self + (-other)

    def mul(self, k: int) -> Pt:
        k %= N
        if k == 0 or self.key is None:
            return ZERO
        return Pt(_times(self.key, k))

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

    def __reduce__(self) -> tuple[Any, tuple[bytes | None]]:
        """Pickled as its encoding (the monitor keeps elections between rounds)."""
        return _decoded, (None if self.key is None else self.enc(),)


ZERO = Pt(None)


def _decoded(raw: bytes | None) -> Pt:
    if raw is None:
        return ZERO
    key = _parse(raw)
    if key is None:
        raise Bad("not a secp256k1 point")
    return Pt(key, raw)


def base(k: int) -> Pt:
    """``k·G``."""
    k %= N
    if k == 0:
        return ZERO
    out = _NEW(_KEY)
    lib.secp256k1_ec_pubkey_create(_CTX, out, k.to_bytes(32, "big"))
    return Pt(out)


ONE = base(1)


_SIG = ffi.typeof("secp256k1_ecdsa_recoverable_signature *")
_KEY_T = ffi.typeof(_KEY)
_parse_sig = lib.secp256k1_ecdsa_recoverable_signature_parse_compact
_recover = lib.secp256k1_ecdsa_recover


def _lin_key(p: Pt, a: int, b: int) -> Key | None:
    """The key of ``a·P + b·G`` for ``a, b`` reduced mod n, None for the identity."""
    if p.key is None or a == 0:
        return base(b).key
    raw = p.raw or p.enc()
    x = raw[1:]
    r = int.from_bytes(x, "big")
    sig = _NEW(_SIG)
    if r >= N or not _parse_sig(_CTX, sig, x + (a * r % N).to_bytes(32, "big"), raw[0] - 2):
        return total((p.mul(a), base(b))).key  # x(P) is no ECDSA r (probability ~2^-128)
    out = _NEW(_KEY_T)
    if not _recover(_CTX, out, sig, ((-b * r) % N).to_bytes(32, "big")):
        return None  # the identity
    return out


def lin(p: Pt, a: int, b: int) -> Pt:
    """``a·P + b·G``."""
    key = _lin_key(p, a % N, b % N)
    return ZERO if key is None else Pt(key)


def total(points: Iterable[Pt]) -> Pt:
    keys = [p.key for p in points if p.key is not None]
    if not keys:
        return ZERO
    if len(keys) == 1:
        return Pt(keys[0])
    return _sum(keys)


class Fixed:
    """``s·P`` for one point ``P`` by table: row ``i`` holds ``j·256^i·P`` for ``j = 1..255`` (8,160 points, about
    1 MiB, built in some 30 ms), so ``s·P`` is the rows' entries for the 32 bytes of ``s`` added in one call."""

    __slots__ = ("rows",)

    def __init__(self, p: Pt) -> None:
        if p.key is None:
            raise Bad("no table for the identity")
        rows: list[list[Key]] = []
        step = p.key
        for _ in range(32):
            row = [None, step]
            for _ in range(254):
                out = _NEW(_KEY)
                _combine(_CTX, out, [row[-1], step], 2)  # never the identity: j < 256 < n
                row.append(out)
            rows.append(row)
            step = _times(step, 256)
        self.rows = rows

    def terms(self, s: int) -> list[Key]:
        """The table entries that add up to ``s·P``, for ``0 <= s < n``."""
        return list(filter(None, map(getitem, self.rows, s.to_bytes(32, "little"))))  # row[0] is None

    def mul(self, s: int) -> Pt:
        keys = self.terms(s % N)
        return _sum(keys) if keys else ZERO


def lin_plus(p: Pt, a: int, b: int, h: Pt, table: Fixed | None, s: int) -> Pt:
    """``a·P + b·G + s·H``; with ``table`` (``H``'s :class:`Fixed`) in one recovery and one addition call."""
    if table is None:
        return lin(p, a, b) + h.mul(s)
    keys = table.terms(s % N)
    key = _lin_key(p, a % N, b % N)
    if key is not None:
        keys.append(key)
    return _sum(keys) if keys else ZERO


#: a table pays for itself after some 30 multiplications; a hostile bundle's thousands of keys get none
_TABLE_AFTER = 32
_TABLES_KEPT = 4
_uses: dict[bytes, int] = {}
_tables: OrderedDict[bytes, Fixed] = OrderedDict()


def fixed(p: Pt) -> Fixed | None:
    """``p``'s table once ``p`` has been asked for often enough (the most recent few are kept), else None."""
    if p.key is None:
        return None
    raw = p.enc()
    table = _tables.get(raw)
    if table is not None:
        _tables.move_to_end(raw)
        return table
    used = _uses.get(raw, 0) + 1
    if used < _TABLE_AFTER:
        if len(_uses) > 4096:
            _uses.clear()
        _uses[raw] = used
        return None
    _uses.pop(raw, None)
    table = _tables[raw] = Fixed(p)
    while len(_tables) > _TABLES_KEPT:
        _tables.popitem(last=False)
    return table


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
    key = _parse(raw)
    if key is None:
        raise Bad(f"{what} is not on secp256k1")
    return Pt(key, raw)


def scalar(text: object, what: str = "scalar") -> int:
    """64 lowercase hex digits of an integer below n."""
    value = int.from_bytes(_hex(text, 32, what), "big")
    if value >= N:
        raise Bad(f"{what} is not below the group order")
    return value
