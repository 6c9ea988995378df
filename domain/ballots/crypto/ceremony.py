"""The trustees' key ceremony (Feldman VSS, k of n) and the threshold decryption (docs/voting.md §5-§6).

Trustee-side functions (``make_*``) hold secrets and run in ``hromada trustee`` on the trustee's machine; the
``check_*``/``combine`` functions use public values only and run in the ledger and in any verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.ballots.crypto.group import (
    INFINITY,
    CryptoError,
    N,
    Point,
    base_mul,
    decode_point,
    point_sum,
    random_scalar,
)
from domain.ballots.crypto.hashing import DST, enc
from domain.ballots.crypto.proofs import prove_knowledge, verify_knowledge

MAX_TRUSTEES = 15


def pok_context(ballot_id: str, index: int, purpose: str) -> tuple[str, str]:
    return (ballot_id, f"trustee/{index}/{purpose}")


# --- trustee side --------------------------------------------------------------------------------------------
@dataclass
class TrusteeSecrets:
    """What a trustee keeps on its own machine for one ballot."""

    ballot: str
    index: int
    encryption_secret: int
    coefficients: list[int]  # a_i0 ... a_i,k-1

    def to_json(self) -> dict[str, Any]:
        return {
            "ballot": self.ballot,
            "index": self.index,
            "encryption_secret": f"{self.encryption_secret:064x}",
            "coefficients": [f"{a:064x}" for a in self.coefficients],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TrusteeSecrets:
        return cls(
            str(raw["ballot"]),
            int(raw["index"]),
            int(raw["encryption_secret"], 16),
            [int(a, 16) for a in raw["coefficients"]],
        )


def new_trustee(ballot_id: str, index: int, threshold: int) -> TrusteeSecrets:
    return TrusteeSecrets(ballot_id, index, random_scalar(), [random_scalar() for _ in range(threshold)])


def make_joined(secrets: TrusteeSecrets) -> dict[str, Any]:
    """The data of ``ballot.trustee_joined``."""
    e = secrets.encryption_secret
    return {
        "index": secrets.index,
        "encryption_key": base_mul(e).hex(),
        "proof": prove_knowledge(pok_context(secrets.ballot, secrets.index, "encryption"), e),
    }


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """f(x) mod n, Horner."""
    acc = 0
    for a in reversed(coefficients):
        acc = (acc * x + a) % N
    return acc


def _share_key(shared: Point, ephemeral: Point, ballot_id: str, sender: int, receiver: int) -> bytes:
    h = hashlib.sha256(DST + b"share\x00")
    for item in (shared, ephemeral, ballot_id, sender, receiver):
        h.update(enc(item))
    return h.digest()


def _aad(ballot_id: str, sender: int, receiver: int) -> bytes:
    return f"{ballot_id}\x00{sender}\x00{receiver}".encode()


def encrypt_share(ballot_id: str, sender: int, receiver: int, key: Point, share: int) -> dict[str, Any]:
    y = random_scalar()
    ephemeral = base_mul(y)
    k = _share_key(key * y, ephemeral, ballot_id, sender, receiver)
    box = AESGCM(k).encrypt(bytes(12), share.to_bytes(32, "big"), _aad(ballot_id, sender, receiver))
    return {"to": receiver, "ephemeral": ephemeral.hex(), "box": box.hex()}


def decrypt_share(ballot_id: str, sender: int, receiver: int, secret: int, sealed: Mapping[str, Any]) -> int:
    """The share ``sender`` sent ``receiver``; CryptoError if it does not open or is not a scalar."""
    try:
        ephemeral = decode_point(sealed["ephemeral"], "ephemeral")
        box = bytes.fromhex(str(sealed["box"]))
        k = _share_key(ephemeral * secret, ephemeral, ballot_id, sender, receiver)
        raw = AESGCM(k).decrypt(bytes(12), box, _aad(ballot_id, sender, receiver))
    except (KeyError, ValueError, InvalidTag) as e:
        raise CryptoError(f"the share from trustee {sender} does not open") from e
    value = int.from_bytes(raw, "big")
    if len(raw) != 32 or value >= N:
        raise CryptoError(f"the share from trustee {sender} is not a scalar")
    return value


def make_committed(secrets: TrusteeSecrets, encryption_keys: Mapping[int, Point]) -> dict[str, Any]:
    """The data of ``ballot.trustee_committed``: commitments, the proof for the constant term, a share for every
    other trustee (``encryption_keys``: index -> its ``encryption_key``)."""
    i = secrets.index
    return {
        "index": i,
        "commitments": [base_mul(a).hex() for a in secrets.coefficients],
        "proof": prove_knowledge(pok_context(secrets.ballot, i, "secret"), secrets.coefficients[0]),
        "shares": [
            encrypt_share(secrets.ballot, i, j, key, evaluate(secrets.coefficients, j))
            for j, key in sorted(encryption_keys.items())
            if j != i
        ],
    }


def commitment_at(commitments: Sequence[Point], x: int) -> Point:
    """Σ_l x^l C_l: the public image f(x)·G of a committed polynomial."""
    return point_sum(c * pow(x, e, N) for e, c in enumerate(commitments))


def check_share(share: int, receiver: int, commitments: Sequence[Point]) -> bool:
    return base_mul(share) == commitment_at(commitments, receiver)


def secret_share(secrets: TrusteeSecrets, received: Mapping[int, int]) -> int:
    """s_j = Σ_i f_i(j): the trustee's own f(j) plus every share it received (index -> share)."""
    return (evaluate(secrets.coefficients, secrets.index) + sum(received.values())) % N


# --- public side -----------------------------------------------------------------------------------------------
def check_joined(ballot_id: str, data: Mapping[str, Any]) -> Point:
    """The trustee's encryption key, after its proof of knowledge; CryptoError otherwise."""
    key = decode_point(data.get("encryption_key"), "encryption_key")
    if not verify_knowledge(pok_context(ballot_id, int(data["index"]), "encryption"), key, data.get("proof")):
        raise CryptoError("the proof of knowledge of the encryption key fails")
    return key


def check_committed(ballot_id: str, data: Mapping[str, Any], threshold: int, indexes: Sequence[int]) -> list[Point]:
    """The trustee's commitments, after their shape and the proof for the constant term; CryptoError otherwise."""
    raw = data.get("commitments")
    if not isinstance(raw, list) or len(raw) != threshold:
        raise CryptoError(f"a trustee commits to exactly {threshold} coefficients")
    commitments = [decode_point(c, f"commitments[{e}]") for e, c in enumerate(raw)]
    i = int(data["index"])
    if not verify_knowledge(pok_context(ballot_id, i, "secret"), commitments[0], data.get("proof")):
        raise CryptoError("the proof of knowledge of the secret fails")
    shares = data.get("shares")
    others = sorted(j for j in indexes if j != i)
    receivers = [s.get("to") if isinstance(s, dict) else None for s in shares] if isinstance(shares, list) else []
    if not all(type(r) is int for r in receivers) or sorted(int(str(r)) for r in receivers) != others:
        raise CryptoError("a trustee sends exactly one share to every other trustee")
    return commitments


def joint_key(commitments: Mapping[int, Sequence[Point]]) -> Point:
    """H = Σ_i C_i0."""
    key = point_sum(c[0] for c in commitments.values())
    if key is INFINITY:
        raise CryptoError("the joint key is the identity")
    return key


def verification_key(commitments: Mapping[int, Sequence[Point]], j: int) -> Point:
    """S_j = Σ_i Σ_l j^l C_il: trustee j's public share key."""
    return point_sum(commitment_at(c, j) for c in commitments.values())


def lagrange(indexes: Sequence[int], j: int) -> int:
    """λ_j = Π_{m ≠ j} m / (m − j) mod n, over the trustees ``indexes``."""
    num, den = 1, 1
    for m in indexes:
        if m != j:
            num = num * m % N
            den = den * (m - j) % N
    return num * pow(den, -1, N) % N


def combine(b: Point, shares: Mapping[int, Point]) -> Point:
    """M = B − Σ λ_j D_j over the trustees that decrypted: tG for the count t."""
    indexes = sorted(shares)
    return b - point_sum(d * lagrange(indexes, j) for j, d in shares.items())


def discrete_log(m: Point, limit: int) -> int:
    """The t in [0, limit] with m = tG; CryptoError if there is none (a wrong share or a forged aggregate)."""
    acc = INFINITY
    g = base_mul(1)
    for t in range(limit + 1):
        if acc == m:
            return t
        acc = acc + g
    raise CryptoError(f"the decrypted count is not between 0 and {limit}")
