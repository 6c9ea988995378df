"""What the citizen receipt page (api/static/) trusts besides the server: the pins a city sets at deploy time.

The page does not take the log key from ``GET /v1/log`` nor the anchor from the receipt alone: it reads
``GET /receipt-config.json``, rendered here from the HROMADA_RECEIPT_* settings (docs/receipts.md):

* ``log_key``: the log's verifier key, and its short ``log_key_fingerprint`` the city prints on paper so that a
  citizen can tell that this page checks against the key the city published (a server that rewrote this file
  would show another fingerprint); after a key rotation still the log's first key: the page follows the
  hand-overs of ``GET /v1/log/handovers`` from it (receipt-keychain.js);
* ``rpc_url``, ``chain_id``, ``contract``: the Ethereum JSON-RPC endpoint the *browser* asks for the anchor (not the
  ledger: it must allow the page's origin by CORS), the chain and the anchor contract the city anchors to;
* ``witnesses``, ``witness_threshold``: a k-of-n policy of C2SP witnesses (tlog-cosignature/v1) whose cosignatures
  the checkpoint must carry.

Unset pins are sent as null and the page says which checks it could not make.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger import note

FINGERPRINT_HEX = 20  # 80 bits: short enough to print and read aloud, far beyond a second-preimage search
LOCAL_CHAIN_IDS = (31337, 1337)  # anvil / hardhat and ganache: development chains that prove nothing
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")


class WitnessPin(BaseModel):
    """One witness the page counts: a label and its cosignature/v1 verifier key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="A label shown to the citizen.")
    key: str = Field(description="The witness's verifier key, <name>+<hex8>+<base64(0x04 ‖ public key)>.")


def key_fingerprint(verifier_key: str) -> str:
    """The printed fingerprint of a verifier key: the first 80 bits of SHA-256 of the key string, in groups of 4
    hex digits (the page computes the same in receipt-core.js)."""
    digest = hashlib.sha256(verifier_key.strip().encode("utf-8")).hexdigest()[:FINGERPRINT_HEX]
    return " ".join(digest[i : i + 4] for i in range(0, FINGERPRINT_HEX, 4))


def check_log_key(value: str | None) -> str | None:
    """A pinned log key must be an Ed25519 (0x01) note verifier key; ValueError otherwise."""
    if value is None or not value.strip():
        return None
    try:
        verifier = note.parse_verifier_key(value.strip())
    except note.NoteError as exc:
        raise ValueError(f"HROMADA_RECEIPT_LOG_KEY: {exc}") from exc
    if verifier.alg != note.ALG_ED25519:
        raise ValueError("HROMADA_RECEIPT_LOG_KEY must be the log's Ed25519 (0x01) verifier key, not a witness key")
    return value.strip()


def check_witnesses(pins: list[WitnessPin], threshold: int | None) -> None:
    """Each pinned witness key is a distinct cosignature/v1 key and 1 <= threshold <= n; ValueError otherwise."""
    seen: set[tuple[str, bytes]] = set()
    for pin in pins:
        try:
            verifier = note.parse_verifier_key(pin.key)
        except note.NoteError as exc:
            raise ValueError(f"HROMADA_RECEIPT_WITNESSES {pin.name}: {exc}") from exc
        if verifier.alg != note.ALG_COSIGNATURE_V1:
            raise ValueError(f"HROMADA_RECEIPT_WITNESSES {pin.name}: not a cosignature/v1 (0x04) witness key")
        if (verifier.name, verifier.key_id) in seen:
            raise ValueError(f"HROMADA_RECEIPT_WITNESSES {pin.name}: the same key twice (it would count twice)")
        seen.add((verifier.name, verifier.key_id))
    if threshold is not None and not 1 <= threshold <= len(pins):
        raise ValueError(f"HROMADA_RECEIPT_WITNESS_THRESHOLD must be between 1 and {len(pins)}, not {threshold}")


def check_contract(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not _ADDRESS.match(value.strip()):
        raise ValueError(f"HROMADA_RECEIPT_CONTRACT is not a 0x-prefixed 20-byte address: {value!r}")
    return value.strip().lower()


def check_rpc_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not value.strip().startswith(("http://", "https://")):
        raise ValueError("HROMADA_RECEIPT_RPC_URL must be an http:// or https:// URL")
    return value.strip()


def page_config(settings: Any) -> dict[str, Any]:
    """The JSON the page reads at GET /receipt-config.json (settings: api.settings.ApiSettings)."""
    key = settings.receipt_log_key
    pins = list(settings.receipt_witnesses)
    return {
        "format": 1,
        "log_key": key,
        "log_key_fingerprint": key_fingerprint(key) if key else None,
        "rpc_url": settings.receipt_rpc_url,
        "chain_id": settings.receipt_chain_id,
        "contract": settings.receipt_contract,
        "local_chain_ids": list(LOCAL_CHAIN_IDS),
        "witnesses": [{"name": p.name, "key": p.key} for p in pins],
        "witness_threshold": (settings.receipt_witness_threshold or len(pins)) if pins else None,
    }
