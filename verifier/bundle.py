"""Reading an audit bundle (docs/formats.md §5): a directory, or the same directory as a ``.tar.gz``.

A bundle comes from a stranger, so it is read within the bounds of :mod:`verifier.limits` (docs/audit.md, "Limits
on hostile input"):

- a directory's files must be regular files: a symbolic link, a device, a FIFO is refused, naming it (a link could
  make the report quote a file of the auditor's; a FIFO or ``/dev/zero`` would never end), and ``checkpoints/`` is
  listed no further than :func:`verifier.limits.max_checkpoint_files` of ``log.json``'s ``tree_size``;
- a ``.tar.gz`` (or ``.tar``) is read once, forward, by :mod:`verifier.archive`, which copies the bundle's files into a
  private temporary directory (removed on :meth:`Bundle.close`) and refuses what no bundle holds;
- ``events.jsonl`` is read line by line (each line bounded, :func:`iter_event_lines`), at most as many lines as the
  audit allows (:class:`LineBound`), and ``log.json`` is parsed within :data:`verifier.limits.MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

from verifier.archive import BUNDLE_FILES, Stored, read_archive
from verifier.errors import InputLimitExceeded, UnreadableInput, UnsafeMember
from verifier.limits import EXTRA_CHECKPOINT_FILES, max_checkpoint_files

# The source interface and the line reader live in verifier.source (shared with verifier.remote); named here too,
# where callers have always found them.
from verifier.source import (
    CHECKPOINT_LIMIT,
    CHECKPOINT_NAME,
    SMALL_FILE_LIMIT,
    Bundle,
    CheckpointFile,
    LineBound,
    LogInfo,
    Oversize,
    Unterminated,
    iter_event_lines,
    parse_log_json,
)

__all__ = [
    "CHECKPOINT_LIMIT",
    "CHECKPOINT_NAME",
    "SMALL_FILE_LIMIT",
    "Bundle",
    "CheckpointFile",
    "DirectoryBundle",
    "LineBound",
    "LogInfo",
    "Oversize",
    "TarBundle",
    "Unterminated",
    "iter_event_lines",
    "open_bundle",
    "parse_log_json",
]


def _read_limited(f: IO[bytes], name: str, limit: int) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise UnreadableInput(f"{name} is larger than {limit} bytes")
    return data


def _too_many_checkpoints(source: str, found: int | None, tree_size: int) -> InputLimitExceeded:
    """``found``: how many there are, or None when the listing stopped at the bound."""
    bound = max_checkpoint_files(tree_size)
    count = (
        f"more than {bound:,} checkpoint files" if found is None else f"{found:,} checkpoint files, more than {bound:,}"
    )
    return InputLimitExceeded(
        f"{source}: {count}: a log signs at most one checkpoint per tree size, and log.json's tree_size is "
        f"{tree_size:,} (allowed: one per size 0..{tree_size:,} and {EXTRA_CHECKPOINT_FILES:,} more)",
        limit="max_checkpoint_files",
        bound=bound,
        found=found if found is not None else f"more than {bound}",
    )


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


class DirectoryBundle(Bundle):
    """A bundle directory. Its files are opened without following a symbolic link and must be regular files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = str(root)
        self._checkpoints: list[str] | None = None
        for name in sorted(BUNDLE_FILES):  # each a regular file or absent, whether or not a step will read it
            self._stat(name)

    def _refuse(self, name: str, mode: int) -> UnsafeMember:
        return UnsafeMember(
            f"{self.source}: {name} is {_kind(mode)}; a bundle holds regular files only (a link could point at any "
            "file of this machine, a device or FIFO never ends)",
            member=name,
        )

    def _stat(self, name: str) -> os.stat_result | None:
        """The member's status (not following a link), None when absent; refuses anything but a regular file."""
        try:
            st = (self.root / name).lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UnreadableInput(f"cannot read {self.root / name}: {exc}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise self._refuse(name, st.st_mode)
        return st

    def _open_file(self, name: str) -> IO[bytes] | None:
        """The member opened for reading, None when absent. ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a FIFO must not
        block the open) and a check of the opened file itself: no race between looking and opening."""
        if self._stat(name) is None:
            return None
        path = self.root / name
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._refuse(name, stat.S_IFLNK) from exc
            raise UnreadableInput(f"cannot read {path}: {exc}") from exc
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise self._refuse(name, mode)
        return os.fdopen(fd, "rb")

    def has(self, name: str) -> bool:
        return self._stat(name) is not None

    def member_size(self, name: str) -> int | None:
        st = self._stat(name)
        return None if st is None else st.st_size

    def read_small(self, name: str, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        f = self._open_file(name)
        if f is None:
            return None
        try:
            with f:
                return _read_limited(f, name, limit)
        except OSError as exc:
            raise UnreadableInput(f"cannot read {self.root / name}: {exc}") from exc

    def _bound_checkpoints(self, tree_size: int) -> None:
        self._checkpoints = self._list_checkpoints(max_checkpoint_files(tree_size), tree_size)

    def _list_checkpoints(self, bound: int | None, tree_size: int = 0) -> list[str]:
        d = self.root / "checkpoints"
        try:
            mode = d.lstat().st_mode
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise UnreadableInput(f"cannot read {d}: {exc}") from exc
        if stat.S_ISLNK(mode):
            raise self._refuse("checkpoints", mode)
        if not stat.S_ISDIR(mode):
            return []
        names: list[str] = []
        entries = 0
        try:
            with os.scandir(d) as it:
                for entry in it:
                    entries += 1
                    if bound is not None and entries > bound:  # listing stops here: never more than the bound
                        raise _too_many_checkpoints(self.source, None, tree_size)
                    if entry.name.startswith("."):
                        continue
                    entry_mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISREG(entry_mode):
                        names.append(f"checkpoints/{entry.name}")
                    elif not stat.S_ISDIR(entry_mode):
                        raise self._refuse(f"checkpoints/{entry.name}", entry_mode)
        except OSError as exc:
            raise UnreadableInput(f"cannot read {d}: {exc}") from exc
        return names

    def checkpoint_names(self) -> list[str]:
        if self._checkpoints is None:
            self._checkpoints = self._list_checkpoints(None)
        return list(self._checkpoints)

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[bytes]]:
        f = self._open_file(name)
        if f is None:
            raise UnreadableInput(f"cannot read {self.root / name}: no such file")
        with f:
            yield f

    def open_member(self, name: str) -> AbstractContextManager[IO[bytes]]:
        return self._open(name)


class TarBundle(Bundle):
    """A ``.tar.gz`` (or plain ``.tar``) bundle, read once by :func:`verifier.archive.read_archive`: the bundle's files
    are copied into a private temporary directory, removed by :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.source = str(path)
        self._spool = Path(tempfile.mkdtemp(prefix="hromada-verify-"))
        try:
            self._files = read_archive(path, self._spool).files
        except BaseException:
            shutil.rmtree(self._spool, ignore_errors=True)
            raise

    @property
    def worker_source(self) -> str | None:
        stored = self._files.get("events.jsonl")
        return str(stored.path.parent) if self.local and stored is not None and stored.whole else None

    def has(self, name: str) -> bool:
        return name in self._files

    def member_size(self, name: str) -> int | None:
        stored = self._files.get(name)
        return None if stored is None else stored.size

    def _bound_checkpoints(self, tree_size: int) -> None:
        found = sum(1 for n in self._files if n.startswith("checkpoints/"))
        if found > max_checkpoint_files(tree_size):
            raise _too_many_checkpoints(self.source, found, tree_size)

    def _read(self, stored: Stored) -> bytes:
        with stored.path.open("rb") as f:
            f.seek(stored.offset)
            return f.read(stored.size)

    def read_small(self, name: str, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        stored = self._files.get(name)
        if stored is None:
            return None
        if stored.size > limit:
            raise UnreadableInput(f"{self.source}: {name} is larger than {limit} bytes")
        return self._read(stored)

    def checkpoint_names(self) -> list[str]:
        return [n for n in self._files if n.startswith("checkpoints/")]

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[bytes]]:
        stored = self._files.get(name)
        if stored is None:
            raise UnreadableInput(f"{self.source}: no {name} in the archive")
        f: IO[bytes] = stored.path.open("rb") if stored.whole else io.BytesIO(self._read(stored))
        with f:
            yield f

    def open_member(self, name: str) -> AbstractContextManager[IO[bytes]]:
        return self._open(name)

    def close(self) -> None:
        shutil.rmtree(self._spool, ignore_errors=True)


def open_bundle(source: str | Path) -> Bundle:
    """Open a bundle directory or archive, or a running ledger's base URL (``http://`` / ``https://``). Raises
    UnreadableInput when it is none of these (NetworkError when the ledger cannot be read)."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        from verifier.remote import LedgerSource  # here: it imports httpx, which a local bundle never needs

        return LedgerSource(source)
    path = Path(source)
    if path.is_dir():
        return DirectoryBundle(path)
    if path.is_file():
        return TarBundle(path)
    raise UnreadableInput(f"{source}: no such bundle directory or archive")
