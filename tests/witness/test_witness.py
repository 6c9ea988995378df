"""The witness (c2sp.org/tlog-witness add-checkpoint, c2sp.org/tlog-cosignature v1): each refusal first, with the
exact thing tampered, then what it cosigns; its state across restarts and under concurrent requests."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from ledger import note
from tests.witness.logs import FakeLog, body
from verifier.errors import NoteSignatureError
from verifier.note import parse_verifier_key, verify_cosignature
from witness.keys import KEY_FILE, WitnessKey, WitnessKeyError, create_key, load_key
from witness.protocol import Refusal, Witness
from witness.server import create_app
from witness.state import WitnessState

VECTOR = json.loads((Path(__file__).parent / "cosignature_vector.json").read_text(encoding="utf-8"))
ORIGIN = "city.example/kyiv"


@pytest.fixture
def log() -> FakeLog:
    return FakeLog(ORIGIN)


@pytest.fixture
def key(tmp_path: Path) -> WitnessKey:
    return create_key(tmp_path / "w", "witness.test.example/w1")


def make_witness(state_dir: Path, key: WitnessKey, *logs: FakeLog) -> Witness:
    return Witness(key, WitnessState(state_dir), {lg.origin: parse_verifier_key(lg.verifier_key) for lg in logs})


@pytest.fixture
def witness(tmp_path: Path, key: WitnessKey, log: FakeLog) -> Witness:
    return make_witness(tmp_path / "w", key, log)


def refused(witness: Witness, request: bytes) -> Refusal:
    with pytest.raises(Refusal) as info:
        witness.add_checkpoint(request)
    return info.value


def stored_size(witness: Witness, log: FakeLog) -> int:
    return witness.state.latest(log.origin, log.verifier_key).size


def check_cosignature(witness: Witness, log: FakeLog, size: int, line: str) -> int:
    text = log.checkpoint(size).split("\n\n")[0] + "\n"
    return verify_cosignature(text, line, witness.key.verifier_key())


# ---------------------------------------------------------------------------------------------- the signature


def test_cosignature_reproduces_the_independent_vector() -> None:
    key = WitnessKey(VECTOR["cosigner_name"], bytes.fromhex(VECTOR["ed25519_seed_hex"]))
    assert key.public_key.hex() == VECTOR["public_key_hex"]
    assert key.key_id.hex() == VECTOR["key_id_hex"]
    assert str(key.verifier_key()) == VECTOR["verifier_key"]
    line = key.cosign(VECTOR["checkpoint_body"], VECTOR["timestamp"])
    assert line == VECTOR["cosignature_line"]
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[4:12] == VECTOR["timestamp"].to_bytes(8, "big")
    assert raw[12:].hex() == VECTOR["signature_hex"]
    # the verifier (written apart) and the ledger's note code accept it over that body and nothing else
    vkey = parse_verifier_key(VECTOR["verifier_key"])
    assert verify_cosignature(VECTOR["checkpoint_body"], line, vkey) == VECTOR["timestamp"]
    with pytest.raises(NoteSignatureError):
        verify_cosignature(VECTOR["checkpoint_body"].replace("\n42\n", "\n43\n"), line, vkey)
    _, sigs = note.parse_note(VECTOR["checkpoint_body"] + "\n" + line)
    assert note.verify_cosignature(VECTOR["checkpoint_body"], sigs[0], note.parse_verifier_key(VECTOR["verifier_key"]))


# ------------------------------------------------------------------------------------------------- refusals


def test_a_bad_log_signature_is_refused_403(witness: Witness, log: FakeLog) -> None:
    impostor = note.generate_signer(ORIGIN)  # same name, another key: its key id is unknown to the witness
    assert refused(witness, body(0, [], log.checkpoint(4, signer=impostor))).status == 403
    good = log.checkpoint(4)
    text, sig_line = good.split("\n\n")
    raw = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    raw[-1] ^= 1  # the log's own key id, one signature bit flipped
    tampered = f"{text}\n\n— {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    assert refused(witness, body(0, [], tampered)).status == 403
    # the body changed under a valid signature
    assert refused(witness, body(0, [], good.replace("\n4\n", "\n5\n", 1))).status == 403
    assert stored_size(witness, log) == 0
    assert check_cosignature(witness, log, 4, witness.add_checkpoint(log.add(0, 4))) > 0


def test_an_unknown_origin_is_refused_404(witness: Witness) -> None:
    other = FakeLog("elsewhere.example/log")
    assert refused(witness, other.add(0, 4)).status == 404


def test_a_bad_consistency_proof_is_refused_422_and_kept_as_evidence(witness: Witness, log: FakeLog) -> None:
    witness.add_checkpoint(log.add(0, 4))
    proof = log.proof(4, 8)
    proof[0] = bytes(32)
    assert refused(witness, body(4, proof, log.checkpoint(8))).status == 422
    fork = log.fork(2)  # the same log key signing a tree that rewrote entries 2 and 3
    assert refused(witness, body(4, fork.proof(4, 8), fork.checkpoint(8))).status == 422
    assert stored_size(witness, log) == 4
    evidence = witness.state.evidence()
    assert len(evidence) == 2 and all("does not verify" in reason for _, reason, _ in evidence)
    assert fork.checkpoint(8) in witness.state.evidence()[1][2]  # the log-signed request itself
    assert check_cosignature(witness, log, 8, witness.add_checkpoint(log.add(4, 8))) > 0


def test_an_old_size_mismatch_is_409_with_the_witness_size(witness: Witness, log: FakeLog) -> None:
    witness.add_checkpoint(log.add(0, 5))
    refusal = refused(witness, log.add(3, 8))
    assert (refusal.status, refusal.body, refusal.media_type) == (409, "5\n", "text/x.tlog.size")
    assert refused(witness, log.add(0, 8)).body == "5\n"
    witness.add_checkpoint(log.add(5, 8))  # re-sent from the size the witness reported
    assert stored_size(witness, log) == 8


def test_a_rollback_to_a_smaller_size_is_refused(witness: Witness, log: FakeLog) -> None:
    witness.add_checkpoint(log.add(0, 8))
    assert refused(witness, body(8, [], log.checkpoint(4))).status == 400  # old size above the checkpoint's
    refusal = refused(witness, log.add(4, 4))
    assert (refusal.status, refusal.body) == (409, "8\n")
    assert refused(witness, log.add(0, 4)).status == 409
    assert stored_size(witness, log) == 8


def test_never_two_roots_at_one_size(witness: Witness, log: FakeLog) -> None:
    witness.add_checkpoint(log.add(0, 4))
    witness.add_checkpoint(log.add(4, 8))
    fork = log.fork(6)
    # the same size again with another root: 409, kept as evidence
    assert refused(witness, body(8, [], fork.checkpoint(8))).status == 409
    # a fork of size 8 from size 4 (a valid proof of the forked tree): 409, the witness is at 8 already
    assert refused(witness, body(4, fork.proof(4, 8), fork.checkpoint(8))).status == 409
    assert witness.state.latest(ORIGIN, log.verifier_key).root == log.root(8)
    assert len(witness.state.evidence()) == 1
    # the same checkpoint again is cosigned again (same size, same root)
    assert check_cosignature(witness, log, 8, witness.add_checkpoint(log.add(8, 8))) > 0


def race(witnesses: list[Witness], requests: list[bytes]) -> list[str | Refusal]:
    """Submit request i through witness i, all at once (a barrier releases the threads together)."""
    barrier = threading.Barrier(len(requests))
    results: list[str | Refusal] = [""] * len(requests)

    def submit(i: int) -> None:
        barrier.wait()
        try:
            results[i] = witnesses[i].add_checkpoint(requests[i])
        except Refusal as refusal:
            results[i] = refusal

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_concurrent_forks_get_one_cosignature(tmp_path: Path, key: WitnessKey) -> None:
    """Two requests for two different trees of one size race, each through its own Witness over the same state
    directory (as two witness processes would): in every round exactly one is cosigned, the other gets 409, and
    the stored root is the cosigned one."""
    logs = [FakeLog(f"city.example/log{i}") for i in range(12)]
    witnesses = [make_witness(tmp_path / "w", key, *logs) for _ in range(2)]
    for lg in logs:
        forks = [lg, lg.fork(1)]
        results = race(witnesses, [f.add(0, 4) for f in forks])
        won = [i for i, r in enumerate(results) if isinstance(r, str)]
        lost = [r for r in results if isinstance(r, Refusal)]
        assert len(won) == 1 and len(lost) == 1, results
        assert (lost[0].status, lost[0].body) == (409, "4\n")
        assert witnesses[0].state.latest(lg.origin, lg.verifier_key).root == forks[won[0]].root(4)


def test_the_key_check_before_the_transaction_takes_no_write_lock(
    tmp_path: Path, key: WitnessKey, log: FakeLog
) -> None:
    """Another process holds the state's write lock (a long cosignature elsewhere): a request with a bad signature
    is still refused 403 at once, since the log key it is checked against is read without the lock; a good one
    waits for the lock and is cosigned once it is free (the check that counts is the one inside the transaction)."""
    import sqlite3

    from witness.state import DB_FILE

    witness = make_witness(tmp_path / "w", key, log)
    holder = sqlite3.connect(tmp_path / "w" / DB_FILE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the writer's lock, as another witness process inside its transaction
    try:
        impostor = note.generate_signer(ORIGIN)
        results: list[object] = []

        def submit(request: bytes) -> None:
            try:
                results.append(witness.add_checkpoint(request))
            except Exception as exc:  # the outcome is what is asserted
                results.append(exc)

        bad = threading.Thread(target=submit, args=(body(0, [], log.checkpoint(4, signer=impostor)),))
        bad.start()
        bad.join(timeout=10)  # the state's busy timeout is 30 s: a pre-check taking the lock would still wait here
        assert not bad.is_alive(), "the pre-check waited for the write lock"
        assert isinstance(results[0], Refusal) and results[0].status == 403, results
        good = threading.Thread(target=submit, args=(log.add(0, 4),))
        good.start()
        good.join(timeout=0.5)
        assert good.is_alive()  # the transaction that checks and stores waits for the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    good.join(timeout=30)
    assert isinstance(results[1], str) and check_cosignature(witness, log, 4, results[1]) > 0
    assert stored_size(witness, log) == 4


def test_the_state_survives_a_restart(tmp_path: Path, key: WitnessKey, log: FakeLog) -> None:
    make_witness(tmp_path / "w", key, log).add_checkpoint(log.add(0, 6))
    again = make_witness(tmp_path / "w", load_key(tmp_path / "w"), log)
    assert refused(again, log.add(0, 6)).body == "6\n"
    again.add_checkpoint(log.add(6, 9))


@pytest.mark.parametrize(
    "request_body",
    [
        b"old 0\nnot the empty line",
        b"old 01\n\n",
        b"new 0\n\n",
        b"old 0\n" + b"AAAA\n" + b"\n",
        b"old 0\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\n",
        b"old 0\n\nno note",
        b"\xff\xfe",
    ],
)
def test_a_malformed_request_is_400(witness: Witness, request_body: bytes) -> None:
    assert refused(witness, request_body).status == 400


def test_a_proof_from_size_zero_must_be_empty(witness: Witness, log: FakeLog) -> None:
    assert refused(witness, body(0, [bytes(32)], log.checkpoint(4))).status == 422


# --------------------------------------------------------------------------------------------- over HTTP


def test_over_http(witness: Witness, log: FakeLog) -> None:
    client = TestClient(create_app(witness))
    first = client.post("/add-checkpoint", content=log.add(0, 3))
    assert first.status_code == 200 and first.text.startswith("— witness.test.example/w1 ")
    assert check_cosignature(witness, log, 3, first.text) > 0
    conflict = client.post("/add-checkpoint", content=log.add(0, 7))
    assert (conflict.status_code, conflict.text, conflict.headers["content-type"]) == (409, "3\n", "text/x.tlog.size")
    assert client.post("/add-checkpoint", content=FakeLog("other.example/x").add(0, 1)).status_code == 404
    assert client.post("/add-checkpoint", content=b"x" * (64 * 1024 + 1)).status_code == 413
    assert client.get("/add-checkpoint").status_code == 405
    info = client.get("/").text
    assert str(witness.key.verifier_key()) in info and log.verifier_key in info


# ------------------------------------------------------------------------------------------------------ keys


def test_the_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = create_key(tmp_path, "w.example/1")
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(WitnessKeyError, match="exists"):
        create_key(tmp_path, "w.example/1")
    assert load_key(tmp_path) == key
    os.chmod(path, 0o644)
    with pytest.raises(WitnessKeyError, match="readable by others"):
        load_key(tmp_path)
    os.chmod(path, 0o600)
    path.write_text(key.key_string().replace(key.key_id.hex(), "00000000"))
    with pytest.raises(WitnessKeyError, match="does not match"):
        load_key(tmp_path)


def test_two_concurrent_http_requests_get_one_cosignature(tmp_path: Path, key: WitnessKey) -> None:
    """The same race through one real server on 127.0.0.1 (uvicorn, its thread pool): one 200, one 409."""
    from tests.ports import free_port
    from tests.witness.servers import serve_in_thread

    logs = [FakeLog(f"city.example/http{i}") for i in range(6)]
    server_witness = make_witness(tmp_path / "w", key, *logs)
    with serve_in_thread(create_app(server_witness), free_port()) as url, httpx.Client() as client:
        for lg in logs:
            forks = [lg, lg.fork(2)]
            barrier = threading.Barrier(2)
            answers: list[httpx.Response | None] = [None, None]

            def post(i: int, forks: list[FakeLog] = forks, barrier: threading.Barrier = barrier) -> None:
                request = forks[i].add(0, 5)
                barrier.wait()
                answers[i] = client.post(url + "/add-checkpoint", content=request)  # noqa: B023 - joined below

            threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(a.status_code for a in answers if a is not None)
            assert statuses == [200, 409], [a.text for a in answers if a is not None]
            winner = next(i for i, a in enumerate(answers) if a is not None and a.status_code == 200)
            assert server_witness.state.latest(lg.origin, lg.verifier_key).root == forks[winner].root(5)
