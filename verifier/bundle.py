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
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from verifier.archive import BUNDLE_FILES, Stored, read_archive
from verifier.envelope import MAX_ENVELOPE_BYTES
from verifier.errors import InputLimitExceeded, UnreadableInput, UnsafeMember
from verifier.limits import (
    CHECKPOINT_LIMIT,
    EXTRA_CHECKPOINT_FILES,
    MAX_JSON_DEPTH,
    SMALL_FILE_LIMIT,
    TooDeep,
    loads_bounded,
    max_checkpoint_files,
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

READ_BLOCK = 1 << 20  # events.jsonl is read in blocks of this size (iter_event_lines)
CHECKPOINT_NAME = re.compile(r"(0|[1-9][0-9]*)(?:\.[^/]+)?\Z")


@dataclass(frozen=True)
class CheckpointFile:
    name: str  # path inside the bundle, e.g. "checkpoints/64"
    size_from_name: int | None  # the <tree size> the file name claims, None if the name does not follow the rule
    content: bytes


@dataclass(frozen=True)
class LogInfo:
    origin: str
    verifier_key: str
    tree_size: int
    format: int
    chain: dict[str, Any] | None
    rule_sets: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)


def parse_log_json(content: bytes) -> LogInfo:
    try:
        doc = loads_bounded(content.decode("utf-8"), MAX_JSON_DEPTH)
    except TooDeep as exc:
        raise InputLimitExceeded(f"log.json: {exc}", limit="max_json_depth", bound=MAX_JSON_DEPTH) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableInput(f"log.json is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UnreadableInput("log.json is not a JSON object")
    origin, key, size, fmt = doc.get("origin"), doc.get("verifier_key"), doc.get("tree_size"), doc.get("format")
    if not isinstance(origin, str) or not origin:
        raise UnreadableInput("log.json: 'origin' must be a non-empty string")
    if not isinstance(key, str):
        raise UnreadableInput("log.json: 'verifier_key' must be a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UnreadableInput("log.json: 'tree_size' must be a non-negative integer")
    if fmt != 1 or isinstance(fmt, bool):
        raise UnreadableInput(f"log.json: unsupported bundle format {fmt!r} (this verifier reads format 1)")
    chain = doc.get("chain")
    rules = doc.get("rule_sets")
    return LogInfo(
        origin=origin,
        verifier_key=key,
        tree_size=size,
        format=fmt,
        chain=chain if isinstance(chain, dict) else None,
        rule_sets=rules if isinstance(rules, dict) else None,
        raw=doc,
    )


class Bundle:
    """Common interface of directory and tar bundles (and of a ledger URL: :class:`verifier.remote.LedgerSource`)."""

    source: str
    local = True  # files a second process can read too (the rule worker reads events.jsonl itself)
    lists_anchors = True  # anchors.jsonl is part of the source: it must list every anchor on chain

    def read_small(self, name: str, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        """A small member's bytes, or None when absent."""
        raise NotImplementedError

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def checkpoint_names(self) -> list[str]:
        raise NotImplementedError

    def open_member(self, name: str) -> AbstractContextManager[IO[bytes]]:
        """Stream a (possibly large) member; UnreadableInput if absent."""
        raise NotImplementedError

    def close(self) -> None:
        return None

    def member_size(self, name: str) -> int | None:
        """A member's size in bytes, if the source knows it without reading it (None: unknown or absent)."""
        return None

    @property
    def worker_source(self) -> str | None:
        """A source a second process can :func:`open_bundle` to read this bundle's ``events.jsonl`` itself (the rule
        worker), or None when there is none (a ledger URL: a second reader would download everything again)."""
        return self.source if self.local else None

    def _bound_checkpoints(self, tree_size: int) -> None:
        """Refuse more checkpoint files than a log of ``tree_size`` can have signed (before any is read)."""
        return None

    def served_tiles(self) -> tuple[int, list[Any]] | None:
        """For a source that serves hash tiles (a ledger URL), after the events were read: how many tiles were
        compared with the recomputed ones, and the problems found (:class:`verifier.remote.TileProblem`)."""
        return None

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Shared helpers -------------------------------------------------------------------------------------
    def log_info(self) -> LogInfo:
        content = self.read_small("log.json")
        if content is None:
            raise UnreadableInput(f"{self.source}: no log.json (is this an audit bundle?)")
        info = parse_log_json(content)
        self._bound_checkpoints(info.tree_size)
        return info

    def checkpoint_files(self) -> list[CheckpointFile]:
        out: list[CheckpointFile] = []
        for name in sorted(self.checkpoint_names()):
            base = name.split("/", 1)[1]
            m = CHECKPOINT_NAME.match(base)
            content = self.read_small(name, CHECKPOINT_LIMIT)
            if content is None:
                continue
            out.append(CheckpointFile(name, int(m.group(1)) if m else None, content))
        return out

    def open_events(self) -> AbstractContextManager[IO[bytes]]:
        return self.open_member("events.jsonl")


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
        from verifier.remote import LedgerSource

        return LedgerSource(source)
    path = Path(source)
    if path.is_dir():
        return DirectoryBundle(path)
    if path.is_file():
        return TarBundle(path)
    raise UnreadableInput(f"{source}: no such bundle directory or archive")


@dataclass(frozen=True, slots=True)
class Unterminated:
    """The last line of the file, without its final newline (a truncated file)."""

    line: bytes


@dataclass(frozen=True, slots=True)
class Oversize:
    """A line longer than any envelope may be; kept as its length, leaf hash and first bytes only."""

    length: int
    leaf_hash: bytes
    head: bytes
    terminated: bool


@dataclass(slots=True)
class LineBound:
    """At most ``max_lines`` lines are read by :func:`iter_event_lines`; ``exceeded`` is set when the file holds more
    (nothing of them is read beyond the next block)."""

    max_lines: int
    exceeded: bool = False


def iter_event_lines(
    f: IO[bytes], max_len: int = MAX_ENVELOPE_BYTES, block: int = READ_BLOCK, bound: LineBound | None = None
) -> Iterator[bytes | Unterminated | Oversize]:
    """Lines of ``events.jsonl`` without their ``\\n``, each bounded in memory, and at most ``bound.max_lines`` of them.

    A line of at most ``max_len + 1`` bytes is yielded as ``bytes`` (step 1 reports one byte too many itself),
    a longer one as :class:`Oversize` (its length, leaf hash and first 200 bytes; never held whole beyond one
    read block), a last line without ``\\n`` as :class:`Unterminated` (or an unterminated :class:`Oversize`).

    The file is read in blocks of ``block`` bytes and split at ``\\n`` (one C call per block instead of a
    ``readline`` per line). Equivalent to reading line by line with ``readline(max_len + 2)`` (the previous
    implementation, kept as the reference in tests/verifier/test_verifier_lines.py and compared with it by
    Hypothesis): ``bytes.split`` cuts exactly at every ``\\n``; every complete line is classified by its
    length alone, as ``readline`` with that limit does; the unfinished tail ``carry`` is always shorter than
    ``max_len + 2`` after a block is split (else it is streamed, hashed, as an Oversize until its ``\\n``), so
    memory stays within one block plus one envelope, and at end of file a non-empty ``carry`` is exactly the
    unterminated last line.

    With ``bound``, the lines are those of the reference cut after ``bound.max_lines``; the count is kept per block
    (one comparison per block), and a line beyond the bound is never streamed: an Oversize or an unterminated line
    after the last allowed one only sets ``bound.exceeded``.
    """
    limit = max_len + 2
    head_len = min(200, limit)  # the reference keeps the first 200 bytes of its first readline(limit)
    read = f.read
    carry = b""
    pending: bytes | None = None
    left = bound.max_lines if bound is not None else -1  # lines still allowed; -1: no bound
    while True:
        if pending is not None:
            data, pending = pending, None
        else:
            data = read(block)
            if not data:
                if carry:
                    if left == 0:
                        assert bound is not None
                        bound.exceeded = True
                        return
                    yield Unterminated(carry)
                return
            if carry:
                data = carry + data
        lines = data.split(b"\n")
        carry = lines.pop()
        last = False
        if left >= 0:
            if len(lines) > left:  # more lines than allowed: the allowed ones, then stop
                assert bound is not None
                del lines[left:]
                bound.exceeded = last = True
            left -= len(lines)
        for line in lines:
            if len(line) < limit:
                yield line
            else:
                yield Oversize(
                    length=len(line),
                    leaf_hash=hashlib.sha256(b"\x00" + line).digest(),
                    head=line[:head_len],
                    terminated=True,
                )
        if last:
            return
        if len(carry) >= limit:
            if left == 0:
                assert bound is not None
                bound.exceeded = True
                return
            if left > 0:
                left -= 1
            h = hashlib.sha256(b"\x00")
            h.update(carry)
            n = len(carry)
            head = carry[:head_len]
            carry = b""
            while True:
                more = read(block)
                if not more:
                    yield Oversize(length=n, leaf_hash=h.digest(), head=head, terminated=False)
                    return
                at = more.find(b"\n")
                if at < 0:
                    h.update(more)
                    n += len(more)
                    continue
                h.update(more[:at])
                n += at
                yield Oversize(length=n, leaf_hash=h.digest(), head=head, terminated=True)
                pending = more[at + 1 :]
                break
