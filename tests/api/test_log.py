"""The log as tlog clients and auditors read it: checkpoint, tiles, entry bundles, proofs, receipts, export."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from ledger.merkle.proof_verify import verify_consistency, verify_inclusion
from ledger.merkle.tiles import decode_entry_bundle
from tests.api.conftest import integrate, problem
from verifier.note import parse_verifier_key
from verifier.receipt import verify_receipt


def _write_events(client, citizen, n):
    refs = []
    for i in range(n):
        r = client.post(
            "/v1/petitions", json={"title": f"P{i}", "text": "t", "rule_set": "sumy"}, headers=citizen(f"c{i}")
        )
        assert r.status_code == 201
        refs += r.json()["events"]
    return refs


def _root(note: str) -> tuple[int, bytes]:
    import base64

    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def test_checkpoint_tiles_entries_and_proofs(client, ledger, citizen):
    problem(client.get("/checkpoint"), 404, "not-found")
    problem(client.get("/v1/export"), 404, "export-unavailable")
    refs = _write_events(client, citizen, 1)  # after the 4 events of the city's statutes (tests/api/conftest.py)
    integrate(ledger)
    r = client.get("/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    size, root = _root(r.text)
    assert size == 5 and r.text.startswith("test.hromada.local/api\n5\n")
    tile = client.get("/tile/0/000.p/5")
    assert tile.status_code == 200 and len(tile.content) == 5 * 32
    leaves = [tile.content[i * 32 : (i + 1) * 32] for i in range(5)]
    assert [x.hex() for x in leaves[4:]] == [e["leaf_hash"] for e in refs]
    bundle = client.get("/tile/entries/000.p/5")
    entries = decode_entry_bundle(bundle.content)
    assert [hashlib.sha256(b"\x00" + e).hexdigest() for e in entries] == [x.hex() for x in leaves]
    assert json.loads(entries[4])["id"] == refs[0]["id"]
    # a prefix of a partial tile is served; a wider one, a full one or a bad path is not
    assert client.get("/tile/0/000.p/3").content == tile.content[: 3 * 32]
    for bad in (
        "/tile/0/000.p/6",
        "/tile/0/000",
        "/tile/entries/000",
        "/tile/1/000.p/1",
        "/tile/0/1.p/2",
        "/tile/x/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/64/000",
        "/tile/entries/001.p/1",
    ):
        problem(client.get(bad), 404, "not-found")
    # inclusion proofs verify against the signed root
    for i, leaf in enumerate(leaves):
        p = client.get("/v1/proofs/inclusion", params={"index": i, "size": 5}).json()
        verify_inclusion(leaf, i, 5, [bytes.fromhex(h) for h in p["proof"]], root)
    problem(client.get("/v1/proofs/inclusion", params={"index": 5, "size": 5}), 422, "proof-unavailable")
    problem(client.get("/v1/proofs/inclusion", params={"index": 0, "size": 4}), 422, "proof-unavailable")
    problem(client.get("/v1/proofs/inclusion", params={"index": -1, "size": 5}), 422, "validation-error")
    _write_events(client, citizen, 3)
    integrate(ledger)
    size2, root2 = _root(client.get("/checkpoint").text)
    c = client.get("/v1/proofs/consistency", params={"from": 5, "to": size2}).json()
    verify_consistency(5, size2, [bytes.fromhex(h) for h in c["proof"]], root, root2)
    problem(client.get("/v1/proofs/consistency", params={"from": 6, "to": size2}), 422, "proof-unavailable")
    problem(client.get("/v1/proofs/consistency", params={"from": size2, "to": 5}), 422, "proof-unavailable")
    info = client.get("/v1/log").json()
    assert (
        info["tree_size"] == 8 and info["checkpoint_size"] == 8 and info["verifier_key"] == ledger.signer.verifier_key
    )


def test_receipt_upgrades_and_verifies(client, ledger, citizen):
    (ref,) = _write_events(client, citizen, 1)
    problem(client.get(ref["receipt"]), 404, "unknown-event")  # not integrated yet
    ledger.integrator.integrate_all()
    pending = client.get(ref["receipt"]).json()
    assert pending["status"] == "pending" and pending["inclusion_proof"] is None
    ledger.checkpointer.checkpoint()
    proved = client.get(ref["receipt"]).json()
    assert proved["status"] == "proved" and proved["leaf_hash"] == ref["leaf_hash"]
    report = verify_receipt(proved, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.leaf_hash == ref["leaf_hash"] and report.event_id == ref["id"]  # raises when it fails
    problem(client.get("/v1/receipts/00000000-0000-4000-8000-000000000000"), 404, "unknown-event")
    problem(client.get("/v1/receipts/nope"), 422, "validation-error")


def test_receipt_carries_the_anchor_from_the_lookup(client, ledger, citizen):
    (ref,) = _write_events(client, citizen, 1)
    integrate(ledger)
    size, root = _root(client.get("/checkpoint").text)
    anchor = {
        "tree_size": size,
        "root": root.hex(),
        "chain_id": 31337,
        "contract": "0x" + "11" * 20,
        "tx": "0x" + "22" * 32,
        "block": 7,
        "block_hash": "0x" + "33" * 32,
    }
    client.app.state.api.anchor_lookup_override = lambda conn, min_size: anchor if min_size <= size else None
    rc = client.get(ref["receipt"]).json()
    assert rc["status"] == "anchored" and rc["anchor"]["tx"] == anchor["tx"] and rc["anchor"]["block"] == 7


def test_export_bundle_audits(client, ledger, citizen, tmp_path):
    integrate(ledger)  # the 4 events of the city's statutes (tests/api/conftest.py)
    _write_events(client, citizen, 2)
    integrate(ledger)
    r = client.get("/v1/export", params={"size": 4})
    assert r.status_code == 200 and r.headers["content-type"] == "application/gzip" and r.headers["x-tree-size"] == "4"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = set(tar.getnames())
        events = tar.extractfile("./events.jsonl").read().splitlines()  # type: ignore[union-attr]
    assert {"./log.json", "./events.jsonl", "./state.json", "./anchors.jsonl"} <= names
    assert len(events) == 4
    problem(client.get("/v1/export", params={"size": 5}), 404, "export-unavailable")
    latest = client.get("/v1/export")
    assert latest.headers["x-tree-size"] == "6"
    path = tmp_path / "b.tar.gz"
    path.write_bytes(latest.content)
    from verifier.audit import run_audit

    report = run_audit(path, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert report.verified, report.to_json()
