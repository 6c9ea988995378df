"""``hromada-verify ballot-audit``: the Benaloh challenge of a ballot the voter audited instead of casting
(docs/voting.md §6). From the ballot's manifest (``GET /v1/ballots/{id}``'s ``opened``, or a file of it) and the
device's audit record: the manifest hash is recomputed, every proof checked, every ciphertext recomputed from the
revealed randomness and choice, the tracker recomputed; the result is the options the ballot chose."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from verifier.voting import ballot as bal
from verifier.voting.group import Bad, point
from verifier.voting.hashing import manifest_hash

__all__ = ["AuditFailed", "audit_spoiled", "load_manifest"]


class AuditFailed(ValueError):
    """The audited ballot does not hold: ``where`` names the failed check."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def load_manifest(source: str) -> dict[str, Any]:
    """``{"ballot_id" | "ballot", "opened"}`` from a URL (``GET /v1/ballots/{id}``) or a file of the same JSON."""
    if source.startswith(("http://", "https://")):
        with httpx.Client(timeout=30.0, follow_redirects=False) as client:
            resp = client.get(source)
            resp.raise_for_status()
            doc = resp.json()
    else:
        doc = json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("the manifest must be a JSON object")
    return doc


def audit_spoiled(record: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """The option ids the audited ballot chose; :class:`AuditFailed` naming the first check that fails."""
    bid = manifest.get("ballot_id", manifest.get("ballot"))
    opened = manifest.get("opened")
    if type(bid) is not str or not isinstance(opened, Mapping):
        raise AuditFailed("manifest", "must hold the ballot id and the data of its ballot.opened")
    if opened.get("secrecy") != "encrypted":
        raise AuditFailed("manifest", "the ballot is not encrypted")
    digest = manifest_hash(bid, opened)
    if opened.get("manifest_hash") != digest.hex():
        raise AuditFailed("manifest_hash", "is not SHA-256(JCS({ballot, opened}))")
    if record.get("ballot") != bid:
        raise AuditFailed("ballot", f"the record is for another ballot than {bid}")
    try:
        h = point(opened.get("public_key"), "public_key")
        district = record.get("district")
        st = bal.statement(opened, district if type(district) is str else None)
        bal.check(record, manifest=digest, h=h, st=st)
        choices = bal.audit_record(record, h=h, st=st)
    except bal.Refused as e:
        raise AuditFailed(e.where, e.message) from None
    except (Bad, ValueError, KeyError, TypeError) as e:
        raise AuditFailed("manifest", str(e)) from None
    options = opened["options"]
    return [options[i]["id"] for i, v in zip(st.indexes, choices, strict=True) if v]
