"""A trustee's side of the ceremony and the decryption (docs/voting.md §5-§6), over the public ceremony state the
ledger publishes (``GET /v1/ballots/{id}/ceremony``: ``joined``, ``committed`` keyed by index as a string) and the
trustee's own :class:`~domain.ballots.crypto.ceremony.TrusteeSecrets`. Used by ``hromada trustee`` and the demo;
the secrets never leave the trustee's machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import CryptoError, Point, decode_point
from domain.ballots.crypto.proofs import prove_decryption


def join_body(secrets: cer.TrusteeSecrets) -> dict[str, Any]:
    """The body of ``POST .../ceremony/join``."""
    d = cer.make_joined(secrets)
    return {"encryption_key": d["encryption_key"], "proof": d["proof"]}


def commit_body(secrets: cer.TrusteeSecrets, ceremony: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST .../ceremony/commit``: a share for every other trustee, sealed to its encryption key."""
    keys = {int(i): decode_point(j["encryption_key"]) for i, j in ceremony["joined"].items()}
    d = cer.make_committed(secrets, keys)
    return {"commitments": d["commitments"], "proof": d["proof"], "shares": d["shares"]}


def received_shares(secrets: cer.TrusteeSecrets, ceremony: Mapping[str, Any]) -> dict[int, int]:
    """Open and check every share sent to this trustee; CryptoError naming the sender of the first bad one (post a
    complaint about it)."""
    me = secrets.index
    out: dict[int, int] = {}
    for i_text, c in sorted(ceremony["committed"].items(), key=lambda kv: int(kv[0])):
        i = int(i_text)
        if i == me:
            continue
        sealed = [s for s in c["shares"] if s.get("to") == me]
        if len(sealed) != 1:
            raise CryptoError(f"trustee {i} sent no share to trustee {me}")
        share = cer.decrypt_share(secrets.ballot, i, me, secrets.encryption_secret, sealed[0])
        commitments = [decode_point(x) for x in c["commitments"]]
        if not cer.check_share(share, me, commitments):
            raise CryptoError(f"the share from trustee {i} does not match its commitments")
        out[i] = share
    return out


def first_bad_sender(secrets: cer.TrusteeSecrets, ceremony: Mapping[str, Any]) -> int | None:
    try:
        received_shares(secrets, ceremony)
    except CryptoError as e:
        words = str(e).split()
        return int(words[words.index("trustee") + 1])
    return None


def decryption_body(
    secrets: cer.TrusteeSecrets, ceremony: Mapping[str, Any], ballot: Mapping[str, Any]
) -> dict[str, Any]:
    """The body of ``POST .../decryption-shares``: ``D = s_j A_o`` with its proof per option (``null`` where the
    aggregate is ``null``). ``ballot`` is ``GET /v1/ballots/{id}`` (``manifest_hash``, ``public_key``,
    ``aggregate``)."""
    s_j = cer.secret_share(secrets, received_shares(secrets, ceremony))
    manifest = bytes.fromhex(ballot["manifest_hash"])
    h: Point = decode_point(ballot["public_key"])
    shares: list[dict[str, Any] | None] = []
    for o, pair in enumerate(ballot["aggregate"]):
        if pair is None:
            shares.append(None)
            continue
        shares.append(prove_decryption(manifest, h, secrets.index, [f"option/{o}"], decode_point(pair["a"]), s_j))
    return {"shares": shares}
