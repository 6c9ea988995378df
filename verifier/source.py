"""What the audit reads (docs/formats.md §5), whatever it comes from: the :class:`Bundle` interface, ``log.json``
(:class:`LogInfo`), the checkpoint files, and ``events.jsonl`` as bounded lines (:func:`iter_event_lines`).

The sources themselves: a directory or ``.tar.gz`` (:mod:`verifier.bundle`, which also has :func:`open_bundle`) and
a running ledger's URL (:mod:`verifier.remote`). Both build on this module and neither on the other.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

from verifier.envelope import MAX_ENVELOPE_BYTES
from verifier.errors import InputLimitExceeded, UnreadableInput
from verifier.limits import CHECKPOINT_LIMIT, MAX_JSON_DEPTH, SMALL_FILE_LIMIT, TooDeep, loads_bounded

__all__ = [
    "BUNDLE_TERMS",
    "CHECKPOINT_LIMIT",
    "CHECKPOINT_NAME",
    "LEDGER_TERMS",
    "READ_BLOCK",
    "SMALL_FILE_LIMIT",
    "Bundle",
    "CheckpointFile",
    "LineBound",
    "LogInfo",
    "Oversize",
    "Terms",
    "Unterminated",
    "iter_event_lines",
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


@dataclass(frozen=True)
class Terms:
    """How findings and warnings name the parts of a source, in its own terms: a bundle's files, or a ledger's
    endpoints (a URL audit must not speak of a ``log.json`` the auditor never saw)."""

    source: str  # "the bundle" / "the ledger"
    key: str  # where the log's verifier key was read: "log.json" / "the ledger's GET /v1/log"
    size: str  # where the tree size was read: "log.json's tree_size" / "the ledger's latest checkpoint size"
    events: str  # where the events were read: "events.jsonl" / "the ledger's entry tiles (GET /tile/entries)"
    owner: str  # who controls it: "whoever made the bundle" / "whoever runs the ledger"


BUNDLE_TERMS = Terms("the bundle", "log.json", "log.json's tree_size", "events.jsonl", "whoever made the bundle")
LEDGER_TERMS = Terms(
    "the ledger",
    "the ledger's GET /v1/log",
    "the size of the ledger's latest checkpoint",
    "the ledger's entry tiles (GET /tile/entries)",
    "whoever runs the ledger",
)


class Bundle:
    """Common interface of directory and tar bundles (and of a ledger URL: :class:`verifier.remote.LedgerSource`)."""

    source: str
    local = True  # files a second process can read too (the rule worker reads events.jsonl itself)
    lists_anchors = True  # anchors.jsonl is part of the source: it must list every anchor on chain
    terms = BUNDLE_TERMS  # how messages name this source's parts

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
        """A source a second process can :func:`verifier.bundle.open_bundle` to read this bundle's ``events.jsonl``
        itself (the rule worker), or None when there is none (a ledger URL: a second reader would download
        everything again)."""
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
