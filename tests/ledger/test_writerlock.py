"""One serving process per database (ledger.writerlock), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hromada.cli import app
from ledger.db.engine import make_engine
from ledger.errors import WriterBusyError
from ledger.writerlock import WriterLock


def test_a_second_writer_is_refused_until_the_first_releases(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with WriterLock(engine):
            with pytest.raises(WriterBusyError) as info:
                WriterLock(engine).acquire()
            assert "another process serves" in str(info.value) and info.value.database
        with WriterLock(engine):  # released: the next server may start
            pass
    finally:
        engine.dispose()


def test_the_lock_is_held_against_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    probe = (
        "import sys\n"
        "from ledger.db.engine import make_engine\n"
        "from ledger.errors import WriterBusyError\n"
        "from ledger.writerlock import WriterLock\n"
        "try:\n"
        f"    WriterLock(make_engine({url!r})).acquire()\n"
        "except WriterBusyError:\n"
        "    sys.exit(3)\n"
    )
    engine = make_engine(url)
    with WriterLock(engine):
        held = subprocess.run([sys.executable, "-c", probe], check=False)
    free = subprocess.run([sys.executable, "-c", probe], check=False)
    engine.dispose()
    assert held.returncode == 3 and free.returncode == 0


def test_serve_on_a_database_already_served_exits_2_with_a_diagnosis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("HROMADA_"):
            monkeypatch.delenv(name)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with WriterLock(engine):
        result = CliRunner().invoke(app, ["serve", "--no-chain", "--data-dir", str(tmp_path), "--port", "1"])
    engine.dispose()
    assert result.exit_code == 2, result.output
    assert "cannot serve" in result.output and "another process serves" in result.output
