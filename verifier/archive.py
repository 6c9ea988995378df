"""An archived bundle (``.tar.gz`` or ``.tar``) from a stranger, read in one forward pass (docs/audit.md, "Limits on
hostile input").

- **gzip** is decompressed here with :mod:`zlib` (``wbits=31``: the gzip header, its CRC-32 and length are checked),
  never seeking back. Concatenated gzip members are read on; a stream that is cut short, damaged or followed by
  anything but another gzip member is refused (:class:`~verifier.errors.CorruptArchive`), and so is a stream that
  inflates beyond :func:`verifier.limits.max_inflated_bytes` of the archive's size
  (:class:`~verifier.errors.InputLimitExceeded`). A plain ``.tar`` is read as it is.
- **tar** headers are read in order by :mod:`tarfile` in stream mode (``"r|"``): whatever the order of the members,
  nothing is read twice. A block that is not a tar header, an archive without its end-of-archive marker, and anything
  but zeros after that marker are refused, as are pax and GNU long-name headers over
  :data:`~verifier.limits.MAX_TAR_HEADER_BYTES` (tarfile would read them whole into memory).
- **members** are judged on their header, before their content is read: a member whose path is absolute or leaves
  the bundle (``..``), a link, a device, a FIFO, a sparse file, a member of another type or a name given twice is
  refused, naming it (:class:`~verifier.errors.UnsafeMember`); a bundle file over its size limit, more
  checkpoint notes than the archive's size allows or more than :data:`~verifier.limits.MAX_OTHER_MEMBERS` other
  members is refused, naming the limit.
- **content**: the bundle's files (``log.json``, ``events.jsonl``, ``anchors.jsonl``, ``state.json``,
  ``checkpoints/*``, at the top level or in one top-level directory) are copied as they come into a private temporary
  directory, under names of the verifier's making (an archive's member names are never used as paths):
  ``events.jsonl`` and ``state.json`` into files of their own, the small files one after the other into one file.
  Nothing else of the archive is kept. Memory holds one read block and the index of the copied members.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from verifier.errors import CorruptArchive, InputLimitExceeded, UnreadableInput, UnsafeMember
from verifier.limits import (
    CHECKPOINT_ARCHIVE_BYTES,
    CHECKPOINT_LIMIT,
    EXTRA_CHECKPOINT_FILES,
    MAX_INFLATION,
    MAX_OTHER_MEMBERS,
    MAX_TAR_HEADER_BYTES,
    MIN_NOTE_BYTES,
    SMALL_FILE_LIMIT,
    max_inflated_bytes,
)

__all__ = ["BUNDLE_FILES", "LARGE_FILES", "Archive", "Stored", "read_archive"]

#: The bundle's files besides ``checkpoints/<name>`` (docs/formats.md §5).
BUNDLE_FILES = frozenset({"log.json", "events.jsonl", "anchors.jsonl", "state.json"})
#: Bundle files that are streamed, not read whole: each is copied into a file of its own.
LARGE_FILES = frozenset({"events.jsonl", "state.json"})
READ_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_COMPRESSION = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_LONG_HEADERS = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)
_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a member's content was copied: ``size`` bytes at ``offset`` of ``path`` (``whole``: the file holds
    this member alone)."""

    path: Path
    offset: int
    size: int
    whole: bool


@dataclass
class Archive:
    """The bundle's files of an archive: ``files`` maps a bundle name (``log.json``, ``checkpoints/64``, ...) to its
    copy; ``prefix`` is the top-level directory they were in ("" at the top level)."""

    files: dict[str, Stored]
    prefix: str
    members: int


class _BadHeader(Exception):
    """Raised from inside :mod:`tarfile` (which passes on exceptions of other classes than its own)."""


class _Sparse(_BadHeader):
    """A GNU sparse member: its map of holes would be read before the member is seen."""


class _Header(tarfile.TarInfo):
    """tarfile's header parser, strict: a header that is not one is an error, not the end of the archive (tarfile
    reads that as the end after the first member), and long headers are bounded before tarfile reads them."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _Header:
        if not buf:
            raise _BadHeader("it ends before its end-of-archive marker (cut short?)")
        if len(buf) == tarfile.BLOCKSIZE and buf.count(0) == tarfile.BLOCKSIZE:
            return super().frombuf(buf, encoding, errors)  # a block of zeros: tarfile ends at its end-of-archive marker
        try:
            info = super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as exc:
            raise _BadHeader(f"a block that is not a tar header ({exc})") from None
        if info.type in _LONG_HEADERS and info.size > MAX_TAR_HEADER_BYTES:
            raise _BadHeader(
                f"an extended (pax or GNU long name) header of {info.size:,} bytes, more than the "
                f"{MAX_TAR_HEADER_BYTES:,} bytes this verifier reads"
            )
        if info.type == tarfile.GNUTYPE_SPARSE:
            raise _Sparse(info.name)
        return info


class _Inflate:
    """The archive's bytes as a tar stream: gunzipped (with its checks) or as they are; counts what it makes."""

    def __init__(self, raw: IO[bytes], label: str, archive_bytes: int) -> None:
        self._raw = raw
        self._label = label
        self.limit = max_inflated_bytes(archive_bytes)
        self.archive_bytes = archive_bytes
        self.made = 0  # bytes made so far
        self.consumed = 0  # archive bytes read so far
        head = self._read_raw(8)
        self._pending = head
        self.gzip = head.startswith(_GZIP_MAGIC)
        for magic, name in _OTHER_COMPRESSION.items():
            if head.startswith(magic):
                raise CorruptArchive(f"{label}: a {name}-compressed archive; a bundle is a .tar.gz (or a plain .tar)")
        self._d: Any = zlib.decompressobj(31) if self.gzip else None
        self._done = False

    def _read_raw(self, n: int) -> bytes:
        data = self._raw.read(n)
        self.consumed += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = READ_CHUNK
        if not self.gzip:
            data = self._pending[:n] if self._pending else self._read_raw(n)
            self._pending = self._pending[len(data) :] if self._pending else b""
            self.made += len(data)
            return data
        out: list[bytes] = []
        want = n
        while want > 0 and not self._done:
            if not self._pending:
                self._pending = self._read_raw(READ_CHUNK)
                if not self._pending:
                    raise CorruptArchive(
                        f"{self._label}: the gzip stream is cut short after {self.consumed:,} bytes (it lacks its "
                        "end and CRC-32)"
                    )
            try:
                chunk = self._d.decompress(self._pending, want)
            except zlib.error as exc:
                raise CorruptArchive(
                    f"{self._label}: the gzip stream is damaged within its first {self.consumed:,} bytes ({exc})"
                ) from None
            self._pending = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
            if chunk:
                self.made += len(chunk)
                if self.made > self.limit:
                    raise InputLimitExceeded(
                        f"{self._label}: the archive inflates to more than {self.limit:,} bytes ({MAX_INFLATION} times "
                        f"its {self.archive_bytes:,} bytes, plus 16 MiB): refused as a decompression bomb",
                        limit="max_inflation",
                        bound=self.limit,
                    )
                out.append(chunk)
                want -= len(chunk)
            if self._d.eof:
                self._next_member()
        return b"".join(out)

    def _next_member(self) -> None:
        """At the end of a gzip member: the file ends here, or another gzip member follows; anything else is
        garbage."""
        while len(self._pending) < 2:
            more = self._read_raw(READ_CHUNK)
            if not more:
                break
            self._pending += more
        if not self._pending:
            self._done = True
            return
        if not self._pending.startswith(_GZIP_MAGIC):
            rest = self.archive_bytes - (self.consumed - len(self._pending))  # from where the garbage starts
            raise CorruptArchive(
                f"{self._label}: {rest:,} bytes after the end of the gzip stream that are not gzip (garbage appended)"
            )
        self._d = zlib.decompressobj(31)


def _member_path(name: str, label: str) -> list[str]:
    """The components of a member's path, refusing one that is absolute or leaves the bundle."""
    if name.startswith("/"):
        raise UnsafeMember(f"{label}: member {name!r} has an absolute path", member=name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeMember(f"{label}: member {name!r} leaves the bundle (a '..' in its path)", member=name)
    return parts


def _bundle_file(rel: str) -> bool:
    if rel in BUNDLE_FILES:
        return True
    head, _, base = rel.partition("/")
    return head == "checkpoints" and bool(base) and "/" not in base and not base.startswith(".")


class _Reader:
    def __init__(self, path: Path, spool: Path) -> None:
        self.label = str(path)
        self.spool = spool
        self.small = spool / "small"
        self.small_file = self.small.open("wb")
        self.stored: dict[str, Stored] = {}  # full member path -> copy
        self.seen: set[str] = set()
        self.notes = 0
        self.others = 0
        self.declared = 0  # sum of the members' sizes, from their headers
        self.large = 0

    def run(self, raw: IO[bytes], archive_bytes: int) -> int:
        inflate = _Inflate(raw, self.label, archive_bytes)
        self.max_notes = archive_bytes // CHECKPOINT_ARCHIVE_BYTES + EXTRA_CHECKPOINT_FILES
        self.limit = inflate.limit
        members = 0
        try:
            with tarfile.open(fileobj=inflate, mode="r|", tarinfo=_Header) as tar:  # type: ignore[call-overload]
                while True:
                    info = tar.next()
                    if info is None:
                        break
                    tar.members.clear()  # stream mode keeps every header otherwise
                    members += 1
                    self._member(tar, info)
                self._end(tar)
        except _Sparse as exc:
            name = str(exc)
            raise UnsafeMember(
                f"{self.label}: member {name!r} is a sparse file; a bundle holds regular files and directories only",
                member=name,
            ) from None
        except _BadHeader as exc:
            what = "not a whole tar archive" if members else "not a tar archive (nor a gzip-compressed one)"
            raise CorruptArchive(f"{self.label}: {what}: {exc}") from None
        except (tarfile.TarError, EOFError) as exc:
            raise CorruptArchive(f"{self.label}: not a readable tar archive: {exc}") from None
        finally:
            self.small_file.close()
        return members

    def _member(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        name = info.name
        parts = _member_path(name, self.label)
        key = "/".join(parts)
        if info.type in _KINDS or info.sparse is not None:
            kind = _KINDS.get(info.type, "a sparse file")
            target = f" (to {info.linkname!r})" if info.issym() or info.islnk() else ""
            raise UnsafeMember(
                f"{self.label}: member {name!r} is {kind}{target}; a bundle holds regular files and directories only",
                member=name,
            )
        if not (info.isreg() or info.isdir()):
            raise UnsafeMember(
                f"{self.label}: member {name!r} has the unsupported type {info.type!r}; a bundle holds regular files "
                "and directories only",
                member=name,
            )
        if key in self.seen:
            raise UnsafeMember(
                f"{self.label}: member {name!r} is in the archive twice (which one is the bundle's?)", member=name
            )
        self.seen.add(key)
        roles = [] if info.isdir() else self._roles(parts)
        note = any(r.startswith("checkpoints/") for r in roles) and info.size >= MIN_NOTE_BYTES
        if note:
            self.notes += 1
            if self.notes > self.max_notes:
                raise InputLimitExceeded(
                    f"{self.label}: more than {self.max_notes:,} checkpoint notes, more than an archive of this size "
                    f"holds lawfully (a signed note costs about 100 compressed bytes; the limit is one per "
                    f"{CHECKPOINT_ARCHIVE_BYTES} bytes + {EXTRA_CHECKPOINT_FILES})",
                    limit="checkpoint_notes_per_archive_byte",
                    bound=self.max_notes,
                )
        else:
            self.others += 1
            if self.others > MAX_OTHER_MEMBERS:
                raise InputLimitExceeded(
                    f"{self.label}: more than {MAX_OTHER_MEMBERS:,} members that are not checkpoint notes (a bundle "
                    "holds a handful)",
                    limit="max_other_members",
                    bound=MAX_OTHER_MEMBERS,
                )
        self.declared += info.size
        if self.declared > self.limit:
            raise InputLimitExceeded(
                f"{self.label}: member {name!r} ({info.size:,} bytes) brings the archive past {self.limit:,} bytes "
                f"inflated ({MAX_INFLATION} times its size, plus 16 MiB): refused as a decompression bomb",
                limit="max_inflation",
                bound=self.limit,
                found=self.declared,
            )
        if not roles:
            return
        large = any(r in LARGE_FILES for r in roles)
        limit = min(CHECKPOINT_LIMIT if r.startswith("checkpoints/") else SMALL_FILE_LIMIT for r in roles)
        if not large and info.size > limit:
            raise InputLimitExceeded(
                f"{self.label}: member {name!r} is {info.size:,} bytes, more than the {limit:,} bytes this bundle "
                "file may hold",
                limit="bundle_file_bytes",
                bound=limit,
                found=info.size,
            )
        f = tar.extractfile(info)
        assert f is not None  # a regular file
        with f:
            if large:
                self.large += 1
                directory = self.spool / f"{self.large}"
                directory.mkdir()
                path = directory / next(r for r in roles if r in LARGE_FILES)  # a name of ours, not the archive's
                with path.open("wb") as out:
                    while chunk := f.read(READ_CHUNK):
                        out.write(chunk)
                self.stored[key] = Stored(path, 0, info.size, whole=True)
            else:
                offset = self.small_file.tell()
                self.small_file.write(f.read(info.size))
                self.stored[key] = Stored(self.small, offset, info.size, whole=False)

    @staticmethod
    def _roles(parts: list[str]) -> list[str]:
        """What a member could be: a bundle file at the top level, or inside one top-level directory."""
        roles = []
        if _bundle_file("/".join(parts)):
            roles.append("/".join(parts))
        if len(parts) >= 2 and _bundle_file("/".join(parts[1:])):
            roles.append("/".join(parts[1:]))
        return roles

    def _end(self, tar: tarfile.TarFile) -> None:
        """After the end-of-archive marker: only zeros, to the end of the (gzip) stream."""
        stream = tar.fileobj
        assert stream is not None
        while chunk := stream.read(READ_CHUNK):
            if chunk.count(0) != len(chunk):
                raise CorruptArchive(f"{self.label}: data after the tar archive's end-of-archive marker")


def read_archive(path: Path, spool: Path) -> Archive:
    """Read the archive at ``path`` once, copying the bundle's files into the directory ``spool`` (made empty by
    the caller, removed by the caller). Raises CorruptArchive, UnsafeMember, InputLimitExceeded or
    UnreadableInput (an OSError)."""
    reader = _Reader(path, spool)
    try:
        with path.open("rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            members = reader.run(raw, size)
    except OSError as exc:
        raise UnreadableInput(f"cannot read archive {path}: {exc}") from exc
    prefix = ""
    if "log.json" not in reader.stored:
        tops = sorted({k.split("/", 1)[0] for k in reader.stored if k.count("/") == 1 and k.endswith("/log.json")})
        if len(tops) == 1:
            prefix = tops[0]
    cut = len(prefix) + 1 if prefix else 0
    files = {k[cut:]: v for k, v in reader.stored.items() if (not prefix or k.startswith(prefix + "/"))}
    return Archive(files={k: v for k, v in files.items() if _bundle_file(k)}, prefix=prefix, members=members)
