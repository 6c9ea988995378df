"""``Hs``: hashing to a scalar with domain separation (docs/voting.md §2), and the other hashes of the protocol."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from domain.ballots.crypto.group import CryptoError, N, Point

DST = b"hromada/vote/v1/"

Item = Point | int | str | bytes


def enc(item: Item) -> bytes:
    """4-byte big-endian length, then the item: a point's 33 bytes, a str's UTF-8, an int's 8 bytes (0 <= v <
    2^64), raw bytes as they are. Scalars are hashed with :func:`scalar_item` (32 bytes), never as ints."""
    if isinstance(item, Point):
        raw = item.to_bytes()
    elif isinstance(item, bool):
        raise CryptoError("booleans are not hashed")
    elif isinstance(item, int):
        if not 0 <= item < 2**64:
            raise CryptoError("integers in a hash are 0 <= v < 2^64")
        raw = item.to_bytes(8, "big")
    elif isinstance(item, str):
        raw = item.encode()
    else:
        raw = bytes(item)
    return len(raw).to_bytes(4, "big") + raw


def scalar_item(k: int) -> bytes:
    return (k % N).to_bytes(32, "big")


def hs(tag: str, *items: Item) -> int:
    """``int(SHA-512(DST ‖ tag ‖ 0x00 ‖ enc(x1) ‖ …)) mod n``."""
    h = hashlib.sha512(DST + tag.encode() + b"\x00")
    for item in items:
        h.update(enc(item))
    return int.from_bytes(h.digest(), "big") % N


def jcs(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value."""
    return rfc8785.dumps(value)


def manifest_hash(ballot_id: str, opened: dict[str, Any]) -> bytes:
    """SHA-256 of the manifest: the ballot id and the data of ``ballot.opened`` without ``manifest_hash``
    (docs/voting.md §3)."""
    frozen = {k: v for k, v in opened.items() if k != "manifest_hash"}
    return hashlib.sha256(jcs({"ballot": ballot_id, "opened": frozen})).digest()


def tracker(body: dict[str, Any]) -> str:
    """Hex tracker of a cast ballot: SHA-256 of the tag and the JCS of its ballot, voter, district, ciphertexts and
    proofs (docs/voting.md §6)."""
    fields = {k: body[k] for k in ("ballot", "voter", "district", "ciphertexts", "proofs")}
    return hashlib.sha256(DST + b"tracker\x00" + jcs(fields)).hexdigest()
