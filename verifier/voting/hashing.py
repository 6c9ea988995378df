"""The protocol's hashes (docs/voting.md §2, §3, §6): ``Hs`` with its tags, the manifest hash, the tracker."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from verifier.voting.group import Bad, N, Pt

__all__ = ["DST", "Item", "hs", "hs_bytes", "hs_prefix", "item", "manifest_hash", "tracker"]

DST = b"hromada/vote/v1/"

Item = Pt | int | str | bytes


def item(x: Item) -> bytes:
    """4-byte big-endian length ‖ bytes: a point's 33, an int's 8 (0 <= v < 2^64), a str's UTF-8, bytes as is."""
    if isinstance(x, Pt):
        raw = x.enc()
    elif isinstance(x, bool):
        raise Bad("booleans are not hashed")
    elif isinstance(x, int):
        if not 0 <= x < 2**64:
            raise Bad("integers in a hash are 0 <= v < 2^64")
        raw = x.to_bytes(8, "big")
    elif isinstance(x, str):
        raw = x.encode()
    else:
        raw = bytes(x)
    return len(raw).to_bytes(4, "big") + raw


def hs(tag: str, *items: Item) -> int:
    """``int(SHA-512(DST ‖ tag ‖ 0x00 ‖ enc(x1) ‖ …)) mod n``."""
    return hs_bytes(tag, hs_prefix(*items))


def hs_prefix(*items: Item) -> bytes:
    """The encoded ``items`` of :func:`hs` (to which a caller may append more encoded items, for
    :func:`hs_bytes`)."""
    return b"".join(item(x) for x in items)


def hs_bytes(tag: str, encoded: bytes) -> int:
    """:func:`hs` of items already encoded as :func:`item` does, in order."""
    return int.from_bytes(hashlib.sha512(DST + tag.encode() + b"\x00" + encoded).digest(), "big") % N


def manifest_hash(ballot_id: str, opened: Mapping[str, Any]) -> bytes:
    """SHA-256(JCS({"ballot", "opened": data of ballot.opened without manifest_hash}))."""
    frozen = {k: v for k, v in opened.items() if k != "manifest_hash"}
    return hashlib.sha256(rfc8785.dumps({"ballot": ballot_id, "opened": frozen})).digest()


TRACKED = ("ballot", "voter", "district", "ciphertexts", "proofs")


def tracker(body: Mapping[str, Any], *, checked: bool = False) -> str:
    """Hex SHA-256(DST ‖ "tracker" ‖ 0x00 ‖ JCS({ballot, voter, district, ciphertexts, proofs})).

    ``checked``: the caller has checked the shape of ``voter``, ``ciphertexts`` and ``proofs`` (strings, and lists
    and objects with ASCII keys of them, nothing else: verifier/voting/ballot.py's :func:`check` has), so when
    ``ballot`` is a string and ``district`` a string or null, the standard library's JSON encoder with sorted keys
    writes exactly the JCS bytes (RFC 8785 differs from it only on numbers and on the order of non-ASCII keys),
    five times faster than ``rfc8785``. Anything else goes through ``rfc8785``.
    """
    fields = {k: body.get(k) for k in TRACKED}
    district = fields["district"]
    if checked and type(fields["ballot"]) is str and (district is None or type(district) is str):
        try:
            raw = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 says what it says of it
            raw = rfc8785.dumps(fields)
    else:
        raw = rfc8785.dumps(fields)
    return hashlib.sha256(DST + b"tracker\x00" + raw).hexdigest()
