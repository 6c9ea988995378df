"""Rotating the log signing key (ledger/keychain.py, docs/formats.md §3 "Key hand-over"): the refusals first, then
the hand-over note, the switch of signer, and that a restart signs with the new key and never with the old one."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hromada.cli import app as cli
from ledger import note
from ledger.checkpoints import all_checkpoints
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.keychain import HANDOVER_PREFIX, KeyRotationError, handovers, sign_handover
from ledger.keys import LogSigner, generate_signer_file, load_signer_file
from ledger.runtime import Ledger
from ledger.writerlock import WriterLock
from tests.ledger.sample import NotesApp

ORIGIN = "test.local/keychain"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SIGNED_NOTE = Path(__file__).resolve().parents[2] / ".." / "shared" / "testvectors" / "signed_note.json"


def settings(tmp_path: Path, log_key: str | None = None, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url or f"sqlite:///{tmp_path / 'ledger.db'}",
        origin=ORIGIN,
        checkpoint_every_events=10,
        checkpoint_every_seconds=3600,
        log_key=log_key,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(settings(tmp_path), NotesApp) as ledger:
        yield ledger


def write(ledger: Ledger, n: int) -> None:
    app = ledger.app
    assert isinstance(app, NotesApp)
    for i in range(n):
        app.write(f"e{i}")


def fresh(tmp_path: Path, name: str = "new.key", origin: str = ORIGIN) -> LogSigner:
    return generate_signer_file(tmp_path / name, origin)


def signers_of(text: str) -> list[bytes]:
    return [s.key_id for s in note.parse_note(text)[1]]


# --- refusals ---------------------------------------------------------------------------------------------------
def test_rotation_before_anything_was_signed_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(KeyRotationError, match="no signed checkpoint yet"):
        ledger.rotate_key(fresh(tmp_path))


def test_a_key_that_did_not_sign_the_latest_checkpoint_cannot_hand_over(tmp_path: Path) -> None:
    with Ledger(settings(tmp_path), NotesApp) as ledger:
        write(ledger, 3)
        ledger.integrate_and_checkpoint()
    impostor = fresh(tmp_path, "impostor.key")
    with Ledger(settings(tmp_path, log_key=str(tmp_path / "impostor.key")), NotesApp) as ledger:
        assert ledger.signer.verifier_key == impostor.verifier_key
        with pytest.raises(KeyRotationError, match=r"latest checkpoint \(tree size 3\) is not signed by the"):
            ledger.rotate_key(fresh(tmp_path))
        with ledger.engine.connect() as conn:
            assert handovers(conn) == []


def test_new_key_of_another_log_the_same_key_or_a_used_key_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    write(ledger, 2)
    ledger.integrate_and_checkpoint()
    first = ledger.signer
    generate_signer_file(tmp_path / "other.key", "other.log/x")
    with pytest.raises(ConfigurationError, match=re.escape("named 'other.log/x'")):
        load_signer_file(tmp_path / "other.key", ORIGIN)
    with pytest.raises(KeyRotationError, match="the new key is the current key"):
        ledger.rotate_key(first)
    second = fresh(tmp_path, "second.key")
    ledger.rotate_key(second)
    write(ledger, 1)
    ledger.integrate_and_checkpoint()
    with pytest.raises(KeyRotationError, match="was already a key of this log"):
        ledger.rotate_key(first)


def test_generate_never_overwrites_a_key_file(tmp_path: Path) -> None:
    fresh(tmp_path, "k.key")
    with pytest.raises(ConfigurationError, match="refusing to overwrite"):
        fresh(tmp_path, "k.key")


def test_the_retired_key_never_signs_again_nor_starts(tmp_path: Path, database_url: str) -> None:
    """HROMADA_LOG_KEY names a file: after the rotation a ledger (or a second process) configured with the old key
    refuses to start, and a checkpointer still holding it refuses to sign (SQLite and PostgreSQL)."""

    def conf(log_key: str) -> Settings:
        return settings(tmp_path, log_key, database_url)

    old = fresh(tmp_path, "old.key")
    with Ledger(conf(str(tmp_path / "old.key")), NotesApp) as ledger:
        write(ledger, 3)
        ledger.integrate_and_checkpoint()
        with Ledger(conf(str(tmp_path / "old.key")), NotesApp) as stale:
            _, installed = ledger.rotate_key(fresh(tmp_path))
            assert installed is None  # HROMADA_LOG_KEY: the operator points it at the new key
            write(stale, 2)
            stale.integrator.integrate_all()
            with pytest.raises(KeyRotationError, match="is a retired log key"):
                stale.checkpointer.checkpoint()
    with pytest.raises(ConfigurationError, match=re.escape(f"{old.verifier_key} is a retired log key")):
        Ledger(conf(str(tmp_path / "old.key")), NotesApp)
    with Ledger(conf(str(tmp_path / "new.key")), NotesApp) as ledger:
        cp = ledger.integrate_and_checkpoint()
        assert cp is not None and cp.tree_size == 5
        assert signers_of(cp.note) == [ledger.signer.signer.key_id]


# --- the hand-over ----------------------------------------------------------------------------------------------
def test_rotation_signs_a_handover_at_the_current_size_then_only_the_new_key_signs(tmp_path: Path) -> None:
    with Ledger(settings(tmp_path), NotesApp) as ledger:
        write(ledger, 4)
        ledger.integrate_and_checkpoint()
        write(ledger, 2)  # not yet checkpointed: the rotation signs size 6 with the old key first
        old = ledger.signer
        new = fresh(tmp_path)
        handover, installed = ledger.rotate_key(new)
        assert installed == tmp_path / "log.key"
        assert handover.tree_size == 6 and (handover.old_key, handover.new_key) == (old.verifier_key, new.verifier_key)
        text, sigs = note.open_note(handover.note, [old.signer.verifier(), new.signer.verifier()])
        assert [s.key_id for s in sigs] == [old.signer.key_id, new.signer.key_id]  # old first, then the new one
        cp = note.parse_checkpoint(text)
        last = all_checkpoints(ledger.engine.connect())[-1]
        assert (cp.origin, cp.size, cp.root) == (ORIGIN, 6, last.root)
        assert cp.extensions == (HANDOVER_PREFIX + new.verifier_key,)
        assert signers_of(last.note) == [old.signer.key_id]
        write(ledger, 1)
        after = ledger.integrate_and_checkpoint()
        assert after is not None and signers_of(after.note) == [new.signer.key_id]
    key_file = tmp_path / "log.key"
    assert key_file.read_text().strip() == new.signer.signer_key()
    retired = tmp_path / f"log.key.retired-{old.signer.key_id.hex()}"
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with Ledger(settings(tmp_path), NotesApp) as ledger:  # a restart loads the new key from the data directory
        assert ledger.signer.verifier_key == new.verifier_key
        write(ledger, 1)
        cp2 = ledger.integrate_and_checkpoint()
        assert cp2 is not None and signers_of(cp2.note) == [new.signer.key_id]


def test_a_key_file_that_cannot_be_installed_is_said_and_the_old_key_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.runtime

    def broken(*_: object) -> None:
        raise OSError("disk full")

    with Ledger(settings(tmp_path), NotesApp) as led:
        write(led, 2)
        led.integrate_and_checkpoint()
        monkeypatch.setattr(ledger.runtime, "install_signer", broken)
        with pytest.raises(ConfigurationError, match=r"the key was rotated .* copy the new key file there"):
            led.rotate_key(fresh(tmp_path))
    with pytest.raises(ConfigurationError, match="is a retired log key"):  # log.key still holds the old key
        Ledger(settings(tmp_path), NotesApp)


def test_golden_handover_note() -> None:
    """tests/golden/checkpoint_handover.txt: the size-8 golden checkpoint's tree handed over from the x/mod test key
    (PeterNeumann) to the key of seed 0x01*32 with the same name."""
    vector = next(v for v in json.loads(SIGNED_NOTE.read_text())["vectors"] if v["id"] == "x-mod-peterneumann")
    old = note.parse_signer_key(vector["signer_key"])
    new = note.Signer("PeterNeumann", bytes([1]) * 32)
    golden8 = note.parse_checkpoint(note.parse_note((GOLDEN / "checkpoint_size8.txt").read_text())[0])
    got = sign_handover("PeterNeumann", 8, golden8.root, old, new)
    assert (GOLDEN / "checkpoint_handover.txt").read_bytes() == got.encode()
    assert (GOLDEN / "checkpoint_handover_new_key.txt").read_text() == new.verifier_key() + "\n"


# --- the command ------------------------------------------------------------------------------------------------
def test_cli_rotate_key_generate_then_restart_signs_with_the_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("HROMADA_"):
            monkeypatch.delenv(name)
    runner = CliRunner()
    data = tmp_path / "data"
    assert runner.invoke(cli, ["init", "--data-dir", str(data)]).exit_code == 0
    refused = runner.invoke(cli, ["log", "rotate-key", "--new-key", str(tmp_path / "n.key"), "--data-dir", str(data)])
    assert refused.exit_code == 1 and "no such key file" in refused.output
    status = json.loads(runner.invoke(cli, ["log", "status", "--json", "--data-dir", str(data)]).output)
    args = ["log", "rotate-key", "--generate", "--new-key", str(tmp_path / "n.key"), "--data-dir", str(data)]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1 and "no signed checkpoint yet" in refused.output, refused.output
    (tmp_path / "n.key").unlink()
    with Ledger(Settings(data_dir=data)) as ledger:
        ledger.checkpointer.sign_empty()
        with WriterLock(ledger.engine):  # as `hromada serve` holds it
            busy = runner.invoke(cli, args)
        assert busy.exit_code == 1 and "refused" in busy.output and "serve" in busy.output, busy.output
        assert not (tmp_path / "n.key").exists()  # nothing generated when the rotation cannot run
    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert f"retired key   {status['verifier_key']}" in done.output
    assert "hand-over at  tree size 0" in done.output and HANDOVER_PREFIX in done.output
    after = json.loads(runner.invoke(cli, ["log", "status", "--json", "--data-dir", str(data)]).output)
    assert after["verifier_key"] != status["verifier_key"]
    assert (tmp_path / "n.key").read_text().strip().startswith("PRIVATE+KEY+")
