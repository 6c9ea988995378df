"""The verifier's bounds on hostile input (docs/audit.md, "Limits on hostile input"), and the cheap checks behind them.

An audit bundle comes from a stranger. Every input the verifier reads is bounded here, so that the time and memory of
an audit follow what the bundle lawfully holds (its signed events and checkpoints), never what a hostile file claims
or inflates to. Each bound is tied to the format, not picked to fit one test:

- JSON nesting: a lawful envelope nests a few levels (``data`` is level 2), the published state five or so; Python's
  parsers and every recursive walk over parsed values (canonical form, rule replay, the report) recurse once per
  level, so depth is bounded before any of them sees the value;
- archives: a ``.tar.gz`` is decompressed here at most :data:`MAX_INFLATION` times its own size (a lawful bundle
  compresses 3-15 fold), its members are few besides the checkpoint notes, and every checkpoint note costs a lawful
  archive at least ~100 compressed bytes (its Ed25519 signature and its root hash are random: no compressor shrinks
  them);
- lines: ``events.jsonl`` is read no further than the largest tree size a checkpoint signed by the trusted key
  covers (``verifier.audit``), each line at most 65,535 bytes (formats.md §1);
- checkpoint notes: at most one per tree size up to ``tree_size`` (the log signs at most one per size), plus a few
  kept as evidence of a fork.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "CHECKPOINT_ARCHIVE_BYTES",
    "CHECKPOINT_LIMIT",
    "EXTRA_CHECKPOINT_FILES",
    "INFLATION_ALLOWANCE",
    "MAX_EVENT_DEPTH",
    "MAX_INFLATION",
    "MAX_JSON_DEPTH",
    "MAX_OTHER_MEMBERS",
    "MAX_STATE_DEPTH",
    "MAX_TAR_HEADER_BYTES",
    "MIN_NOTE_BYTES",
    "SMALL_FILE_LIMIT",
    "STATE_ALLOWANCE",
    "TooDeep",
    "depth_of_text",
    "loads_bounded",
    "max_checkpoint_files",
    "max_inflated_bytes",
    "nesting_depth",
    "openers",
]

#: ``log.json``, ``anchors.jsonl`` and a served ledger's small answers are read whole up to this size.
SMALL_FILE_LIMIT = 16 * 1024 * 1024
#: One checkpoint note (a C2SP signed note: three body lines and its signature lines, ~250 bytes).
CHECKPOINT_LIMIT = 64 * 1024

#: Nesting levels of one line of ``events.jsonl`` (the envelope object is level 1, its ``data`` level 2). A lawful
#: envelope nests about 4; Python's recursion limit (1,000 frames) would let a parser go past 900.
MAX_EVENT_DEPTH = 64
#: Nesting levels of the other JSON the verifier parses whole: ``log.json``, each line of ``anchors.jsonl``, a receipt.
MAX_JSON_DEPTH = 64
#: Nesting levels of ``state.json``: the published state is ``{part: {aggregate: {field: value}}}`` with lists of entry
#: ids and ballot tallies below that (about 5 levels).
MAX_STATE_DEPTH = 16
#: ``state.json`` may hold at most ``events.jsonl``'s size plus this (the state is derived from the events and is
#: far smaller: 14.8 MB for a 1e6-event city of about 400 MB).
STATE_ALLOWANCE = 1 << 20

#: A ``.tar.gz`` is decompressed to at most this many times its own size, plus :data:`INFLATION_ALLOWANCE`.
MAX_INFLATION = 100
INFLATION_ALLOWANCE = 16 << 20
#: Members of an archive that are not checkpoint notes: directories, the bundle's files, anything else.
MAX_OTHER_MEMBERS = 1024
#: A file under ``checkpoints/`` smaller than this cannot be a signed note (origin, size, root, an em dash, a key name
#: and a 92-character signature); it counts as one of the :data:`MAX_OTHER_MEMBERS`.
MIN_NOTE_BYTES = 100
#: Archive bytes per checkpoint note: an archive of S bytes may hold at most S / 64 + 64 notes (a lawful note costs
#: about 100 incompressible bytes).
CHECKPOINT_ARCHIVE_BYTES = 64
#: A pax extended header or GNU long name, read whole by tarfile before the member it describes.
MAX_TAR_HEADER_BYTES = 64 << 10
#: Checkpoint files beyond one per tree size 0..``tree_size`` (second notes for a size, kept as evidence of a fork).
EXTRA_CHECKPOINT_FILES = 1024


def max_inflated_bytes(archive_bytes: int) -> int:
    """How many bytes an archive of ``archive_bytes`` may decompress to."""
    return MAX_INFLATION * archive_bytes + INFLATION_ALLOWANCE


def max_checkpoint_files(tree_size: int) -> int:
    """How many checkpoint files a bundle of ``tree_size`` may hold."""
    return tree_size + 1 + EXTRA_CHECKPOINT_FILES


class TooDeep(ValueError):
    """A JSON text nests deeper than a limit (a ValueError, so a caller that reports malformed JSON reports it)."""

    def __init__(self, limit: int, depth: int) -> None:
        self.limit = limit
        self.depth = depth
        super().__init__(f"JSON nests deeper than {limit} levels ({depth:,} levels; the verifier's limit)")


def openers(text: str) -> int:
    """An upper bound of the nesting depth of a JSON text: its ``[`` and ``{`` (strings included)."""
    return text.count("{") + text.count("[")


# A JSON string (possessive: never backtracks), a bracket, or a lone quote (a string that never ends).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]|"', re.DOTALL)


def nesting_depth(text: str) -> int:
    """How deep a JSON text nests, scanned, never parsed: the most brackets open at once outside strings. For a JSON
    value it is the value's depth; for any other text it is at least as deep as a parser gets before it fails (the
    scan stops where a parser must: at a closing bracket with none open, or a string that never ends). Linear: a
    string is matched once, and a quote that opens no whole string ends the scan."""
    depth = deepest = 0
    for m in _TOKEN.finditer(text):
        c = m.group()
        if c == "[" or c == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c == "]" or c == "}":
            depth -= 1
            if depth < 0:
                break
        elif c == '"':
            break
    return deepest


def depth_of_text(text: str, limit: int) -> TooDeep | None:
    """Whether a JSON text nests deeper than ``limit``: None when it does not, else the error. The text is scanned
    (:func:`nesting_depth`) only when it has more than ``limit`` brackets (rare), and never handed to a recursive
    parser first: json's C scanner recurses once per level until Python's recursion limit, and a process that
    raised that limit (py_ecc sets 100,000) would overflow the C stack - a segmentation fault, not an error."""
    if openers(text) <= limit:
        return None
    depth = nesting_depth(text)
    return None if depth <= limit else TooDeep(limit, depth)


def loads_bounded(text: str, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)``, raising :class:`TooDeep` (a ValueError) for a value nested deeper than ``limit``."""
    problem = depth_of_text(text, limit)
    if problem is not None:
        raise problem
    return json.loads(text)
