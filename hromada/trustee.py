"""A trustee's steps for one encrypted ballot (docs/voting.md §5-§6), over the ledger's HTTP API; the trustee's
secrets live in a state file (mode 0600) on the trustee's machine and are never sent. ``hromada trustee`` runs
these (hromada/cli/trustee.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto import trustee as steps
from hromada.vote import VoteError, _http


class TrusteeError(Exception):
    """A step that cannot be done; the message says why."""


def _base(ledger: str, ballot: str) -> str:
    return ledger.rstrip("/") + f"/v1/ballots/{ballot}"


def init(ledger: str, ballot: str, service: str, state: Path) -> int:
    """Create the trustee's secrets for ``ballot`` in ``state`` (refuses to overwrite). Returns its index."""
    ceremony = _get(ledger, ballot, "/ceremony")
    mine = [t["index"] for t in ceremony["trustees"] if t["service"] == service]
    if not mine:
        raise TrusteeError(f"{service} is not a trustee of ballot {ballot}")
    secrets = cer.new_trustee(ballot, int(mine[0]), int(ceremony["threshold"]))
    raw = json.dumps({"ledger": ledger, "service": service, "secrets": secrets.to_json()}).encode()
    try:
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TrusteeError(f"{state} exists: a trustee's secrets are never overwritten") from None
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return secrets.index


def load(state: Path, ballot: str) -> cer.TrusteeSecrets:
    try:
        mode = stat.S_IMODE(state.stat().st_mode)
        raw = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrusteeError(f"cannot read the trustee state {state}: {e}") from None
    if mode & 0o077:
        raise TrusteeError(f"{state} is readable by others (mode {mode:o}): it must be 0600")
    secrets = cer.TrusteeSecrets.from_json(raw["secrets"])
    if secrets.ballot != ballot:
        raise TrusteeError(f"{state} holds the secrets of ballot {secrets.ballot}, not {ballot}")
    return secrets


def _get(ledger: str, ballot: str, path: str = "") -> Any:
    try:
        return _http("GET", _base(ledger, ballot) + path, None)
    except VoteError as e:
        raise TrusteeError(str(e)) from None


def _post(ledger: str, ballot: str, path: str, api_key: str, body: Any) -> Any:
    try:
        return _http("POST", _base(ledger, ballot) + path, api_key, body)
    except VoteError as e:
        raise TrusteeError(str(e)) from None


def join(ledger: str, ballot: str, api_key: str, state: Path) -> None:
    _post(ledger, ballot, "/ceremony/join", api_key, steps.join_body(load(state, ballot)))


def commit(ledger: str, ballot: str, api_key: str, state: Path) -> None:
    ceremony = _get(ledger, ballot, "/ceremony")
    _post(ledger, ballot, "/ceremony/commit", api_key, steps.commit_body(load(state, ballot), ceremony))


def verify(ledger: str, ballot: str, api_key: str, state: Path) -> int | None:
    """Check every share sent to this trustee: post ``verify``, or a complaint about the first bad sender (then
    return its index)."""
    ceremony = _get(ledger, ballot, "/ceremony")
    bad = steps.first_bad_sender(load(state, ballot), ceremony)
    if bad is None:
        _post(ledger, ballot, "/ceremony/verify", api_key, {})
        return None
    reason = "the share sent to me does not open or does not match the commitments"
    _post(ledger, ballot, "/ceremony/complain", api_key, {"about": bad, "reason": reason})
    return bad


def decrypt(ledger: str, ballot: str, api_key: str, state: Path) -> None:
    ceremony = _get(ledger, ballot, "/ceremony")
    published = _get(ledger, ballot)
    if published.get("aggregate") is None:
        raise TrusteeError("voting has not ended: there is no aggregate to decrypt yet")
    body = steps.decryption_body(load(state, ballot), ceremony, published)
    _post(ledger, ballot, "/decryption-shares", api_key, body)
