"""Receipts (formats.md §4): built from a factory bundle with the factory's own PATH/PROOF."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.verifier import factory
from verifier.errors import (
    ConsistencyProofError,
    EnvelopeError,
    InclusionProofError,
    LeafHashMismatch,
    NetworkError,
    NoteSignatureError,
    NoteUnverifiedError,
    ReceiptFormatError,
    RollbackError,
)
from verifier.note import parse_verifier_key
from verifier.receipt import CHAIN_NOT_CHECKED, verify_receipt

N = 40
SIZE = 30


@pytest.fixture
def info(tmp_path: Path) -> factory.BundleInfo:
    return factory.write_bundle(tmp_path / "b", n=N, checkpoint_sizes=[SIZE])


def make_receipt(info: factory.BundleInfo, index: int = 17, size: int = SIZE) -> dict[str, Any]:
    lines = factory.read_lines(info.path)
    leaves = info.leaves[:size]
    return {
        "format": 1,
        "event": json.loads(lines[index]),
        "leaf_hash": leaves[index].hex(),
        "leaf_index": index,
        "inclusion_proof": [p.hex() for p in factory.inclusion_path(index, leaves)],
        "checkpoint": factory.signed_checkpoint(info.signer, info.origin, size, factory.mth(leaves)),
        "anchor": None,
    }


def key(info: factory.BundleInfo) -> Any:
    return parse_verifier_key(info.key)


def test_good_receipt(info: factory.BundleInfo) -> None:
    report = verify_receipt(make_receipt(info), key(info), offline=True)
    assert report.exit_code == 0
    assert report.leaf_index == 17 and report.checkpoint.size == SIZE
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["inclusion proof"] == "passed"
    assert statuses["anchor"] == "not_run"


def test_leaf_hash_only(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    del r["event"]
    assert verify_receipt(r, key(info)).exit_code == 0


def test_edited_event_breaks_the_leaf_hash(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    r["event"]["data"]["count"] = 1000
    with pytest.raises(LeafHashMismatch) as err:
        verify_receipt(r, key(info))
    assert err.value.evidence.event_id == r["event"]["id"]


def test_edited_event_without_leaf_hash_breaks_inclusion(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    r["event"]["data"]["count"] = 1000
    del r["leaf_hash"]
    with pytest.raises(InclusionProofError) as err:
        verify_receipt(r, key(info))
    assert err.value.evidence.index == 17


def test_bad_envelope_in_receipt(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    r["event"]["data"]["amount"] = 1.5
    with pytest.raises(EnvelopeError):
        verify_receipt(r, key(info))
    r = make_receipt(info)
    r["event"]["id"] = "00000000-0000-5000-8000-000000000000"
    with pytest.raises(EnvelopeError) as err:
        verify_receipt(r, key(info))
    assert err.value.code == "id_mismatch"


def test_wrong_index_and_bad_proof(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    r["leaf_index"] = 18
    with pytest.raises(InclusionProofError):
        verify_receipt(r, key(info))
    r = make_receipt(info)
    r["inclusion_proof"][0] = "00" * 32
    with pytest.raises(InclusionProofError):
        verify_receipt(r, key(info))
    r["inclusion_proof"][0] = "zz"
    with pytest.raises(ReceiptFormatError):
        verify_receipt(r, key(info))


def test_checkpoint_signature_and_key(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    other = factory.make_signer(info.origin, tag=b"other")
    with pytest.raises(NoteUnverifiedError):
        verify_receipt(r, parse_verifier_key(other.verifier_key))
    note = r["checkpoint"]
    sig = note.rsplit(" ", 1)[1].strip()
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    r["checkpoint"] = note.replace(sig, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(NoteSignatureError):
        verify_receipt(r, key(info))


def test_anchor_offline_and_online(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    full = factory.mth(info.leaves)
    r["anchor"] = {
        "chain_id": 31337,
        "contract": "0x" + "11" * 20,
        "tx": "0x" + "22" * 32,
        "block": 12,
        "block_hash": "0x" + "33" * 32,
        "tree_size": N,
        "root": full.hex(),
        "consistency_proof": [p.hex() for p in factory.consistency_proof(SIZE, info.leaves)],
    }
    offline = verify_receipt(r, key(info), offline=True)
    assert offline.exit_code == 0
    assert {c.name: c.status for c in offline.checks}["anchor (offline)"] == "passed"
    online = verify_receipt(r, key(info), offline=False)
    # no --rpc: verified for what was checked (exit 0), the chain named as not checked (issue #17)
    assert online.exit_code == 0 and online.unavailable == []
    assert {c.name: (c.status, c.detail) for c in online.checks}["anchor on chain"] == ("not_run", CHAIN_NOT_CHECKED)
    r["anchor"]["root"] = "44" * 32
    with pytest.raises(ConsistencyProofError):
        verify_receipt(r, key(info), offline=True)


def ledger(info: factory.BundleInfo, size: int, root: bytes | None = None, proof_override: Any = None) -> httpx.Client:
    leaves = info.leaves[:size]
    note = factory.signed_checkpoint(info.signer, info.origin, size, root or factory.mth(leaves))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/checkpoint":
            return httpx.Response(200, text=note, headers={"content-type": "text/plain"})
        if request.url.path == "/v1/proofs/consistency":
            a, b = int(request.url.params["from"]), int(request.url.params["to"])
            assert b == size
            proof = [p.hex() for p in factory.consistency_proof(a, leaves)]
            return httpx.Response(200, json={"proof": proof_override if proof_override is not None else proof})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="https://ledger.example")


def test_ledger_consistency(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    report = verify_receipt(r, key(info), ledger_url="https://ledger.example", client=ledger(info, N))
    assert {c.name: c.status for c in report.checks}["ledger consistency"] == "passed"
    same = verify_receipt(r, key(info), ledger_url="https://ledger.example", client=ledger(info, SIZE))
    assert same.exit_code == 0


def test_ledger_fork_and_rollback(info: factory.BundleInfo) -> None:
    r = make_receipt(info)
    forked = factory.mth([factory.h_leaf(b"rewritten")] * N)
    with pytest.raises(ConsistencyProofError) as err:
        verify_receipt(r, key(info), ledger_url="https://ledger.example", client=ledger(info, N, root=forked))
    assert err.value.code == "fork" and "ledger checkpoint" in err.value.evidence.details
    with pytest.raises(ConsistencyProofError):
        verify_receipt(r, key(info), ledger_url="https://ledger.example", client=ledger(info, SIZE, root=forked))
    with pytest.raises(RollbackError):
        verify_receipt(r, key(info), ledger_url="https://ledger.example", client=ledger(info, 20))


def test_ledger_unreachable(info: factory.BundleInfo) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client = httpx.Client(transport=httpx.MockTransport(down))
    with pytest.raises(NetworkError):
        verify_receipt(make_receipt(info), key(info), ledger_url="https://ledger.example", client=client)
