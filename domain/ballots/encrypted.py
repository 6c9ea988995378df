"""The checks of an encrypted ballot's life (docs/voting.md §6), over a ballot's folded state: a cast ballot's proofs
and tracker, the homomorphic aggregate at ``ballot.voting_ended``, each decryption share's proofs and the counts
by Lagrange at ``ballot.closed``. Pure functions of public values (the crypto is ``domain/ballots/crypto/``); the
aggregates in ``domain/ballots/aggregate.py`` decide with them and emit the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coincurve import PublicKey

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto.ceremony import combine, discrete_log, verification_key
from domain.ballots.crypto.group import INFINITY, CryptoError, Point, decode_point, point_sum
from domain.ballots.crypto.proofs import verify_decryption
from domain.errors import InvalidInput, InvalidProof

#: One voter's counted ciphertexts: option position (in the ballot's ``options``) -> the (a, b) pair's encodings.
Ciphertexts = Sequence[tuple[int, bytes, bytes]]


def ballot_options(state: Mapping[str, Any], district: str | None) -> bal.Statement:
    """What a voter's ballot covers and proves (every option, or the options of the voter's district)."""
    return bal.statement(state, district)


def check_cast(
    state: Mapping[str, Any],
    ballot_id: str,
    *,
    voter: str,
    district: str | None,
    identity_method: str,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    """The data of ``ballot.ballot_cast``/``ballot_recast`` after EVERY proof and the tracker are checked (the
    ledger fills ``ballot``, ``voter``, ``district``, ``identity_method``); InvalidProof names the first failure."""
    data = {
        "ballot": ballot_id,
        "voter": voter,
        "district": district,
        "identity_method": identity_method,
        "ciphertexts": body.get("ciphertexts"),
        "proofs": body.get("proofs"),
        "tracker": body.get("tracker"),
    }
    st = ballot_options(state, district)
    try:
        bal.check(data, manifest=bytes.fromhex(state["manifest_hash"]), public_key=public_key(state), st=st)
    except bal.BallotRefused as e:
        raise InvalidProof(f"the ballot is refused: {e.message}", proof=e.where, ballot=ballot_id) from None
    return data


def public_key(state: Mapping[str, Any]) -> Point:
    return decode_point(state["public_key"], "public_key")


def positions(state: Mapping[str, Any], district: str | None) -> list[int]:
    """Each ballot option's position in ``options`` (a voter's i-th ciphertext adds to option ``positions[i]``)."""
    index = {o["id"]: i for i, o in enumerate(state["options"])}
    return [index[o] for o in ballot_options(state, district).options]


def aggregate(state: Mapping[str, Any], last_ballots: Iterable[Ciphertexts]) -> list[dict[str, str] | None]:
    """Per option, the sum of every voter's last ciphertext for it (``null`` when no ballot covers it)."""
    n = len(state["options"])
    sums_a: list[list[Point]] = [[] for _ in range(n)]
    sums_b: list[list[Point]] = [[] for _ in range(n)]
    for cts in last_ballots:
        for o, a, b in cts:
            sums_a[o].append(Point(PublicKey(a), a))
            sums_b[o].append(Point(PublicKey(b), b))
    out: list[dict[str, str] | None] = []
    for sa, sb in zip(sums_a, sums_b, strict=True):
        if not sa:
            out.append(None)
            continue
        sum_a, sum_b = point_sum(sa), point_sum(sb)
        # a sum that is the identity cannot be encoded; it happens with negligible probability (2^-256)
        ok = sum_a is not INFINITY and sum_b is not INFINITY
        out.append({"a": sum_a.hex(), "b": sum_b.hex()} if ok else None)
    return out


def check_shares(
    state: Mapping[str, Any], trustee: int, shares: Any, commitments: Mapping[int, Sequence[Point]]
) -> None:
    """A trustee's decryption shares: one per option (``null`` exactly where the aggregate is), each proof checked
    against the trustee's verification key S_j (InvalidProof ``shares[<o>]``)."""
    agg = state["aggregate"]
    if not isinstance(shares, list) or len(shares) != len(agg):
        raise InvalidInput("shares must hold one entry per option", expected=len(agg))
    h = public_key(state)
    manifest = bytes.fromhex(state["manifest_hash"])
    s_j = verification_key(commitments, trustee)
    for o, (pair, share) in enumerate(zip(agg, shares, strict=True)):
        where = f"shares[{o}]"
        if pair is None:
            if share is not None:
                raise InvalidProof("no ballot covers this option: its share must be null", proof=where)
            continue
        if not isinstance(share, dict) or set(share) != {"d", "proof"}:
            raise InvalidProof("a share is {d, proof}", proof=where)
        try:
            d = decode_point(share["d"], "d")
        except CryptoError as e:
            raise InvalidProof(str(e), proof=where) from None
        a = decode_point(pair["a"])
        if not verify_decryption(manifest, h, trustee, [f"option/{o}"], s_j, a, d, share["proof"]):
            raise InvalidProof("the decryption proof fails", proof=where, trustee=trustee)


def decrypt_counts(state: Mapping[str, Any], used: Sequence[int]) -> dict[str, int]:
    """The counts by Lagrange over the trustees ``used`` (docs/voting.md §6)."""
    counts: dict[str, int] = {}
    for o, (option, pair) in enumerate(zip(state["options"], state["aggregate"], strict=True)):
        if pair is None:
            counts[option["id"]] = 0
            continue
        shares = {j: decode_point(state["shares"][str(j)][o]["d"]) for j in used}
        counts[option["id"]] = discrete_log(combine(decode_point(pair["b"]), shares), state["voters"])
    return counts
