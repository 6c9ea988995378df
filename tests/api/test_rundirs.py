"""A writer killed with SIGKILL cannot remove its private socket directory; the next `hromada serve --fronts`
removes the directories of writers that are gone, and only those."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api.serving.fronts import RUNDIR_PREFIX, remove_stale_rundirs


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_only_the_directories_of_gone_writers_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / f"{RUNDIR_PREFIX}{_dead_pid()}-abc"
    (stale / "sub").mkdir(parents=True)
    (stale / "commands.sock").write_bytes(b"")
    alive = tmp_path / f"{RUNDIR_PREFIX}{os.getpid()}-def"
    alive.mkdir()
    not_ours = tmp_path / "hromada-verify-xyz"  # the verifier's scratch: another prefix
    not_ours.mkdir()
    a_file = tmp_path / f"{RUNDIR_PREFIX}{_dead_pid()}-file"
    a_file.write_text("")
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"{RUNDIR_PREFIX}{_dead_pid()}-link"
    link.symlink_to(target)

    assert remove_stale_rundirs(tmp_path) == [stale]
    assert not stale.exists()
    assert alive.is_dir() and not_ours.is_dir() and a_file.exists() and target.is_dir() and link.is_symlink()
