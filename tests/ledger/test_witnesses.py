"""The ledger's side of witnessing (ledger/witnesses.py): it sends each new checkpoint with the consistency proof from
what the witness last cosigned, re-sends from the size a 409 reports, stores only cosignatures that verify against
the witness's configured key, and records (never raises into the ledger) a witness that is down or lying."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from hromada.settings import load
from ledger.checkpoints import latest_checkpoint
from ledger.config import Settings
from ledger.db.schema import witness_cosignatures
from ledger.errors import ConfigurationError
from ledger.runtime import Ledger
from ledger.witnesses import WitnessConfig, WitnessFailure, WitnessSender, cosigned_note, witness_statuses
from tests.ledger.sample import NotesApp
from tests.ports import free_port
from tests.witness.servers import lying_app
from verifier.note import open_checkpoint, open_note, parse_verifier_key, verify_cosignature
from witness.keys import WitnessKey, create_key
from witness.protocol import Witness
from witness.server import create_app
from witness.state import WitnessState

ORIGIN = "test.local/witnessed"


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(Settings(data_dir=tmp_path / "ledger", database_url=database_url, origin=ORIGIN), NotesApp) as ledger:
        yield ledger


def grow(ledger: Ledger, n: int) -> int:
    app = ledger.app
    assert isinstance(app, NotesApp)
    for i in range(n):
        app.write(f"note {i}")
    cp = ledger.integrate_and_checkpoint()
    assert cp is not None
    return cp.tree_size


@pytest.fixture
def witness(tmp_path: Path, ledger: Ledger) -> Witness:
    key = create_key(tmp_path / "w", "witness.test.example/honest")
    return Witness(key, WitnessState(tmp_path / "w"), {ORIGIN: parse_verifier_key(ledger.signer.verifier_key)})


def sender(ledger: Ledger, key: WitnessKey, client: httpx.Client, url: str = "http://testserver") -> WitnessSender:
    config = WitnessConfig(url=url, key=str(key.verifier_key()), name="w")
    return WitnessSender(ledger.engine, config, timeout=2.0, client=client)


def stored_lines(ledger: Ledger) -> list[str]:
    with ledger.engine.connect() as conn:
        return [r.line for r in conn.execute(select(witness_cosignatures.c.line)).all()]


def test_the_settings_read_witnesses_as_json_and_refuse_a_log_key() -> None:
    key = str(WitnessKey("w.example/1", bytes(32)).verifier_key())
    tree = load({"HROMADA_WITNESSES": json.dumps([{"url": "http://127.0.0.1:9", "key": key}])})
    assert [(w.label, w.url) for w in tree.witnesses.witnesses] == [("w.example/1", "http://127.0.0.1:9")]
    log_key = "test.local/x+" + parse_verifier_key(key).key_id.hex()  # the shape of a key, the wrong kind
    with pytest.raises((ConfigurationError, ValueError)):
        load({"HROMADA_WITNESSES": json.dumps([{"url": "http://x", "key": log_key}])})
    from ledger import note

    signer_vkey = note.generate_signer("test.local/x").verifier_key()
    with pytest.raises((ConfigurationError, ValueError), match="not a cosignature"):
        load({"HROMADA_WITNESSES": json.dumps([{"url": "http://x", "key": signer_vkey}])})
    with pytest.raises((ConfigurationError, ValueError), match="unique"):
        load({"HROMADA_WITNESSES": json.dumps([{"url": "http://x", "key": key}, {"url": "http://y", "key": key}])})
    with pytest.raises((ConfigurationError, ValueError), match="not JSON"):
        load({"HROMADA_WITNESSES": "[{"})


def test_each_checkpoint_is_cosigned_and_served_with_the_cosignature(ledger: Ledger, witness: Witness) -> None:
    send = sender(ledger, witness.key, TestClient(create_app(witness)))
    assert send.round() is False  # no checkpoint yet: nothing is sent
    for n in (3, 5):  # from 0 with no proof, then 3 -> 8 with a proof
        size = grow(ledger, n)
        assert send.round() is True
        with ledger.engine.connect() as conn:
            cp = latest_checkpoint(conn)
            assert cp is not None and cp.tree_size == size
            served = cosigned_note(conn, cp)
        # a client that knows only the log's key still opens it; the witness's line verifies over its body
        opened = open_checkpoint(served, parse_verifier_key(ledger.signer.verifier_key))
        assert opened.size == size
        lines = [s.line for s in open_note(served, [parse_verifier_key(ledger.signer.verifier_key)]).unverified]
        assert len(lines) == 1 and verify_cosignature(opened.body, lines[0], witness.key.verifier_key()) > 0
        assert witness.state.latest(ORIGIN, ledger.signer.verifier_key).size == size
    assert send.round() is False  # cosigned already
    assert [(s.cosigned_size, s.failures) for s in witness_statuses(ledger.engine.connect())] == [(8, 0)]


def test_on_409_it_resends_from_the_size_the_witness_reports(ledger: Ledger, witness: Witness) -> None:
    size = grow(ledger, 4)
    with ledger.engine.connect() as conn:
        cp = latest_checkpoint(conn)
    assert cp is not None
    witness.add_checkpoint(f"old 0\n\n{cp.note}".encode())  # the witness saw size 4 from elsewhere
    grow(ledger, 3)
    send = sender(ledger, witness.key, TestClient(create_app(witness)))  # the ledger's record says 0
    assert send.round() is True
    assert witness.state.latest(ORIGIN, ledger.signer.verifier_key).size == size + 3


def test_a_lying_witness_is_recorded_and_nothing_of_it_is_stored(ledger: Ledger, tmp_path: Path) -> None:
    grow(ledger, 3)
    liar = WitnessKey("witness.test.example/liar", bytes(range(32)))
    send = sender(ledger, liar, TestClient(lying_app(liar)))
    with pytest.raises(WitnessFailure, match="does not verify"):
        send.round()
    assert stored_lines(ledger) == []
    with ledger.engine.connect() as conn:
        [status] = witness_statuses(conn)
    assert status.failures == 1 and status.cosigned_size == 0 and "does not verify" in (status.last_error or "")


def test_a_witness_that_is_down_is_recorded(ledger: Ledger, witness: Witness) -> None:
    grow(ledger, 2)
    send = sender(ledger, witness.key, httpx.Client(), url=f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        with pytest.raises(WitnessFailure):
            send.round()
    with ledger.engine.connect() as conn:
        [status] = witness_statuses(conn)
        assert status.failures == 2 and "ConnectError" in (status.last_error or "")
        cp = latest_checkpoint(conn)
        assert cp is not None and cosigned_note(conn, cp) == cp.note


@pytest.mark.parametrize("out", ["bundle", "bundle.tar.gz"])
def test_bundles_carry_the_cosignatures_and_the_policy_reads_them(
    ledger: Ledger, witness: Witness, tmp_path: Path, out: str
) -> None:
    from ledger.export import write_bundle
    from verifier.witness.policy import check_witness_policy, note_for_audit, policy_from_options

    size = grow(ledger, 4)
    assert sender(ledger, witness.key, TestClient(create_app(witness))).round()
    written = write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ORIGIN,
        verifier_key=ledger.signer.verifier_key,
        out=tmp_path / out,
    )
    assert written == size
    note_text = note_for_audit(str(tmp_path / out), size)
    assert f"— {witness.key.name} " in note_text
    log_key = parse_verifier_key(ledger.signer.verifier_key)
    honest = f"honest={witness.key.verifier_key()}"
    policy = policy_from_options([honest], None)
    assert policy is not None and check_witness_policy(note_text, policy, log_key).passed
    other = str(WitnessKey("witness.test.example/other", bytes(32)).verifier_key())
    two = policy_from_options([honest, f"other={other}"], 2)
    assert two is not None and not check_witness_policy(note_text, two, log_key).passed


def test_a_witness_follows_the_log_key_rotation_through_the_hand_over(
    ledger: Ledger, witness: Witness, tmp_path: Path
) -> None:
    """The ledger sends its key hand-over (docs/formats.md §3) before the first checkpoint beyond it: the witness,
    configured with the original key only, cosigns the new key's checkpoints, and never the retired key's again."""
    from ledger import note
    from ledger.keys import generate_signer_file

    send = sender(ledger, witness.key, TestClient(create_app(witness)))
    grow(ledger, 3)
    assert send.round()
    old = ledger.signer
    ledger.rotate_key(generate_signer_file(tmp_path / "new.key", ORIGIN))
    size = grow(ledger, 2)
    assert send.round()  # the hand-over, then the new key's checkpoint
    with ledger.engine.connect() as conn:
        cp = latest_checkpoint(conn)
    assert cp is not None and cp.tree_size == size
    with ledger.engine.connect() as conn:
        served = cosigned_note(conn, cp)
    [line] = [r for r in stored_lines(ledger) if r in served]
    assert verify_cosignature(cp.note.split("\n\n")[0] + "\n", line, witness.key.verifier_key())
    retired = note.sign_note(note.format_checkpoint(ORIGIN, size, cp.root), old.signer)
    answer = TestClient(create_app(witness)).post("/add-checkpoint", content=f"old {size}\n\n{retired}".encode())
    assert answer.status_code == 403
