"""A small client for encrypted ballots that a city app can copy (docs/voting.md §6): encrypt a voter's choices on
the voter's device, audit a ballot instead of casting it (the Benaloh challenge), cast one over HTTP.

``manifest`` is ``GET /v1/ballots/{id}`` (its ``opened``, ``public_key``, ``manifest_hash``); ``voter_info`` is
``GET /v1/ballots/{id}/voter`` with the citizen's token. The client recomputes the manifest hash from ``opened``
and refuses a ballot whose published hash differs, so a ledger cannot have the device encrypt for other rules.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto.group import decode_point
from domain.ballots.crypto.hashing import manifest_hash


class VoteError(Exception):
    """The ballot cannot be made, audited or cast; the message says why."""


def _checked_manifest(manifest: Mapping[str, Any]) -> bytes:
    ballot_id = str(manifest["id"])
    opened = manifest.get("opened")
    if manifest.get("secrecy") != "encrypted" or not isinstance(opened, dict):
        raise VoteError("this ballot is not an open encrypted ballot")
    want = manifest_hash(ballot_id, opened)
    if want.hex() != manifest.get("manifest_hash") or opened.get("manifest_hash") != want.hex():
        raise VoteError("the ballot's manifest hash is not the hash of its ballot.opened")
    if opened.get("public_key") != manifest.get("public_key"):
        raise VoteError("the ballot's public key is not the one of its ballot.opened")
    return want


def encrypt_ballot(
    manifest: Mapping[str, Any], voter_info: Mapping[str, Any], choices: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(body, secrets)``: the body of ``POST /v1/ballots/{id}/ballots`` and what the device keeps to audit it
    (never sent with a cast ballot)."""
    mh = _checked_manifest(manifest)
    opened = manifest["opened"]
    st = bal.statement(opened, voter_info["district"])
    if list(st.options) != list(voter_info["ballot_options"]):
        raise VoteError("the ledger's ballot options for this voter are not the manifest's")
    try:
        made = bal.encrypt(
            ballot_id=str(manifest["id"]),
            manifest=mh,
            public_key=decode_point(opened["public_key"]),
            st=st,
            voter=str(voter_info["voter"]),
            district=voter_info["district"],
            selection=list(choices),
        )
    except ValueError as e:
        raise VoteError(str(e)) from None
    body = {k: made.body[k] for k in ("ciphertexts", "proofs", "tracker")}
    return body, made.audit_record()


def audit_ballot(manifest: Mapping[str, Any], body: Mapping[str, Any], secrets: Mapping[str, Any]) -> list[str]:
    """The choices a ballot encrypts, after checking its randomness, ciphertexts and tracker against ``body``
    (do not cast an audited ballot: encrypt afresh)."""
    _checked_manifest(manifest)
    opened = manifest["opened"]
    record = {**secrets, "ciphertexts": body["ciphertexts"], "proofs": body["proofs"], "tracker": body["tracker"]}
    try:
        return bal.audit(
            record, public_key=decode_point(opened["public_key"]), st=bal.statement(opened, secrets["district"])
        )
    except bal.BallotRefused as e:
        raise VoteError(str(e)) from None


def _http(method: str, url: str, token: str | None, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the caller's ledger URL
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        raise VoteError(f"{method} {url}: HTTP {e.code}: {detail}") from None
    except urllib.error.URLError as e:
        raise VoteError(f"{method} {url}: {e.reason}") from None


def cast(url: str, token: str, ballot_id: str, choices: Sequence[str]) -> dict[str, Any]:
    """Fetch the ballot and the voter's info, encrypt ``choices`` and cast; returns the ledger's answer (keep its
    ``tracker``)."""
    base = url.rstrip("/") + f"/v1/ballots/{ballot_id}"
    manifest = _http("GET", base, None)
    info = _http("GET", base + "/voter", token)
    body, _ = encrypt_ballot(manifest, info, choices)
    answer: dict[str, Any] = _http("POST", base + "/ballots", token, body)
    return answer
