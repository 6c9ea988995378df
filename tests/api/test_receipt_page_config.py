"""The receipt page's deploy-time pins (HROMADA_RECEIPT_*, api/receipt_page.py): served at /receipt-config.json,
refused at start when they cannot be what they claim to be."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from api.receipt_page import key_fingerprint
from api.settings import ApiSettings
from hromada.settings import load
from ledger import note
from tests.api.receipt_site import Witness

LOG = note.generate_signer("city.example/log")
W1, W2 = Witness("w1.example"), Witness("w2.example")


def test_the_fingerprint_is_80_bits_of_sha256_of_the_key() -> None:
    key = LOG.verifier_key()
    digest = hashlib.sha256(key.encode()).hexdigest()
    fp = key_fingerprint(key)
    assert fp.replace(" ", "") == digest[:20] and len(fp.split(" ")) == 5
    assert key_fingerprint(note.generate_signer("city.example/log").verifier_key()) != fp


def test_the_pins_are_served_to_the_page(client: Any) -> None:
    r = client.get("/receipt-config.json")
    assert r.status_code == 200
    empty = r.json()
    assert empty["log_key"] is None and empty["rpc_url"] is None and empty["witnesses"] == []
    assert "/receipt-config.json" not in client.get("/openapi.json").json()["paths"]
    client.app.state.api.settings = ApiSettings.model_validate(
        {
            "receipt_log_key": LOG.verifier_key(),
            "receipt_rpc_url": "https://rpc.example/key",
            "receipt_chain_id": 11155111,
            "receipt_contract": "0x" + "AB" * 20,
            "receipt_witnesses": json.dumps(
                [{"name": "w1", "key": W1.verifier_key}, {"name": "w2", "key": W2.verifier_key}]
            ),
        }
    )
    cfg = client.get("/receipt-config.json").json()
    assert cfg["log_key"] == LOG.verifier_key() and cfg["log_key_fingerprint"] == key_fingerprint(LOG.verifier_key())
    assert cfg["contract"] == "0x" + "ab" * 20 and cfg["chain_id"] == 11155111
    assert cfg["witness_threshold"] == 2 and [w["name"] for w in cfg["witnesses"]] == ["w1", "w2"]
    assert 31337 in cfg["local_chain_ids"]


def test_the_environment_sets_the_pins() -> None:
    env = {
        "HROMADA_RECEIPT_LOG_KEY": LOG.verifier_key(),
        "HROMADA_RECEIPT_RPC_URL": "https://rpc.example",
        "HROMADA_RECEIPT_CHAIN_ID": "1",
        "HROMADA_RECEIPT_WITNESSES": json.dumps([{"name": "w1", "key": W1.verifier_key}]),
        "HROMADA_RECEIPT_WITNESS_THRESHOLD": "1",
    }
    api = load(env).api
    assert api.receipt_log_key == LOG.verifier_key() and api.receipt_chain_id == 1
    assert api.receipt_witnesses[0].key == W1.verifier_key and api.receipt_witness_threshold == 1


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"receipt_log_key": W1.verifier_key}, "not a witness key"),
        ({"receipt_log_key": "city.example/log+00000000+" + LOG.verifier_key().split("+", 2)[2]}, "key id"),
        ({"receipt_witnesses": [{"name": "log", "key": LOG.verifier_key()}]}, "not a cosignature/v1"),
        (
            {"receipt_witnesses": [{"name": "a", "key": W1.verifier_key}, {"name": "b", "key": W1.verifier_key}]},
            "same key twice",
        ),
        ({"receipt_witnesses": [{"name": "a", "key": W1.verifier_key}], "receipt_witness_threshold": 2}, "between 1"),
        ({"receipt_witness_threshold": 1}, "between 1 and 0"),
        ({"receipt_contract": "0x1234"}, "20-byte address"),
        ({"receipt_rpc_url": "ws://rpc.example"}, "http:// or https://"),
    ],
)
def test_pins_that_cannot_be_right_are_refused(fields: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        ApiSettings(**fields)
