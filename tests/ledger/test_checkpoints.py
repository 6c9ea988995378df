"""Signed checkpoints: the policy, the note format, and the refusal to sign a fork."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ledger import note
from ledger.checkpoints import Checkpointer, all_checkpoints
from ledger.config import Settings
from ledger.db.schema import merkle_tiles
from ledger.errors import ConfigurationError, InconsistentCheckpointError
from ledger.keys import load_or_create_signer
from ledger.runtime import Ledger
from tests.ledger.sample import NotesApp
from tests.merkle.reference import mth

ORIGIN = "test.local/checkpoints"


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        origin=ORIGIN,
        checkpoint_every_events=10,
        checkpoint_every_seconds=3600,
    )
    with Ledger(settings, NotesApp) as ledger:
        yield ledger


def write(ledger: Ledger, n: int) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    for i in range(n):
        app.write(f"e{i}")


def entries(ledger: Ledger) -> list[bytes]:
    return [r.state for r in ledger.app.recorder.select_notifications(start=1, limit=100_000)]


def test_checkpoint_is_a_signed_c2sp_note_over_the_tree_root(ledger: Ledger) -> None:
    write(ledger, 13)
    cp = ledger.integrate_and_checkpoint()
    assert cp is not None and cp.tree_size == 13
    verifier = note.parse_verifier_key(ledger.signer.verifier_key)
    text, sigs = note.open_note(cp.note, [verifier])
    assert len(sigs) == 1
    parsed = note.parse_checkpoint(text)
    assert (parsed.origin, parsed.size, parsed.root) == (ORIGIN, 13, mth(entries(ledger)))
    assert text == f"{ORIGIN}\n13\n" + __import__("base64").b64encode(cp.root).decode() + "\n"


def test_no_checkpoint_when_the_tree_did_not_grow(ledger: Ledger) -> None:
    assert ledger.integrate_and_checkpoint() is None
    write(ledger, 2)
    assert ledger.integrate_and_checkpoint() is not None
    assert ledger.integrate_and_checkpoint() is None
    with ledger.engine.connect() as conn:
        assert [c.tree_size for c in all_checkpoints(conn)] == [2]


def test_policy_signs_after_n_events_or_t_seconds(ledger: Ledger) -> None:
    write(ledger, 9)
    ledger.integrator.integrate_all()
    assert not ledger.checkpointer.due()
    write(ledger, 1)
    ledger.integrator.integrate_all()
    assert ledger.checkpointer.due()
    assert ledger.checkpointer.maybe_checkpoint() is not None
    write(ledger, 1)
    ledger.integrator.integrate_all()
    assert not ledger.checkpointer.due()
    quick = Checkpointer(ledger.engine, ledger.signer, every_events=1000, every_seconds=0.01)
    import time

    time.sleep(0.02)
    assert quick.due()


def test_refuses_to_sign_a_tree_that_does_not_extend_the_last_checkpoint(ledger: Ledger) -> None:
    write(ledger, 20)
    first = ledger.integrate_and_checkpoint()
    assert first is not None
    with ledger.engine.begin() as conn:  # a DBA rewrites history in the Merkle store
        tile = conn.execute(select(merkle_tiles.c.hashes).where(merkle_tiles.c.level == 0)).scalar_one()
        conn.execute(update(merkle_tiles).where(merkle_tiles.c.level == 0).values(hashes=b"\x00" * 32 + tile[32:]))
    write(ledger, 5)
    ledger.integrator.integrate_all()
    with pytest.raises(InconsistentCheckpointError) as caught:
        ledger.checkpointer.checkpoint()
    assert caught.value.old_size == 20 and caught.value.new_size == 25
    assert caught.value.old_root == first.root
    with ledger.engine.connect() as conn:
        assert [c.tree_size for c in all_checkpoints(conn)] == [20]


def test_key_is_created_once_with_mode_0600_and_reloaded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, origin=ORIGIN)
    first = load_or_create_signer(settings)
    mode = stat.S_IMODE(os.stat(tmp_path / "log.key").st_mode)
    assert mode == 0o600
    assert load_or_create_signer(settings).verifier_key == first.verifier_key


def test_key_from_environment_string_or_file(tmp_path: Path) -> None:
    signer = note.generate_signer(ORIGIN)
    from_string = load_or_create_signer(Settings(data_dir=tmp_path, origin=ORIGIN, log_key=signer.signer_key()))
    assert from_string.verifier_key == signer.verifier_key()
    key_file = tmp_path / "k"
    key_file.write_text(signer.signer_key())
    from_file = load_or_create_signer(Settings(data_dir=tmp_path, origin=ORIGIN, log_key=str(key_file)))
    assert from_file.verifier_key == signer.verifier_key()
    assert not (tmp_path / "log.key").exists()


def test_key_named_for_another_log_is_refused(tmp_path: Path) -> None:
    other = note.generate_signer("other.example/log")
    with pytest.raises(ConfigurationError, match=r"named 'other\.example/log'"):
        load_or_create_signer(Settings(data_dir=tmp_path, origin=ORIGIN, log_key=other.signer_key()))


def test_production_refuses_to_start_without_an_explicit_key(tmp_path: Path) -> None:
    with pytest.raises((ConfigurationError, ValueError), match="HROMADA_LOG_KEY"):
        Settings(data_dir=tmp_path, origin=ORIGIN, production=True, database_url="sqlite:///x.db")
    assert not (tmp_path / "log.key").exists()


def test_the_empty_log_has_a_signed_checkpoint_from_the_start(ledger: Ledger) -> None:
    """Clients poll /checkpoint on a new log (C2SP): the ledger signs size 0 when it starts, once."""
    import hashlib

    from verifier.note import open_checkpoint, parse_verifier_key

    cp = ledger.checkpointer.sign_empty()
    assert cp is not None and cp.tree_size == 0 and cp.root == hashlib.sha256(b"").digest()
    opened = open_checkpoint(cp.note.encode(), parse_verifier_key(ledger.signer.verifier_key))
    assert (opened.size, opened.root) == (0, cp.root)
    assert ledger.checkpointer.sign_empty() is None  # once
    write(ledger, 12)
    nxt = ledger.integrate_and_checkpoint()
    assert nxt is not None and nxt.tree_size == 12  # every tree extends the empty one
    assert ledger.checkpointer.sign_empty() is None  # never once the log has leaves


def test_the_worker_signs_the_empty_checkpoint_at_start(ledger: Ledger) -> None:
    import time

    from ledger.checkpoints import latest_checkpoint

    ledger.start_worker()
    try:
        deadline = time.monotonic() + 10
        cp = None
        while cp is None and time.monotonic() < deadline:
            with ledger.engine.connect() as conn:
                cp = latest_checkpoint(conn)
            time.sleep(0.05)
    finally:
        ledger.stop_worker()
    assert cp is not None and cp.tree_size == 0
