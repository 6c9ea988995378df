"""A running ledger as the audit's source: ``hromada-verify audit https://ledger.example --key ...``.

The ledger's public transparency-log endpoints take the place of a bundle's files:

- ``GET /checkpoint``: the latest signed checkpoint (C2SP signed note) - the bundle's only checkpoint; its origin
  and size make ``log.json``; its signature is checked by step 2 with the auditor's key, like a bundle's;
- ``GET /tile/entries/<N>[.p/<W>]``: the C2SP tlog-tiles entry bundles (``uint16 big-endian length || entry``,
  256 entries per full bundle) up to the checkpoint's size, streamed one bundle at a time, as ``events.jsonl``;
- ``GET /v1/log``: the verifier key the ledger names, compared with yours as a bundle's ``log.json`` key is;
- ``GET /v1/log/handovers``: the log's key hand-overs (docs/formats.md §3) up to the checkpoint's size, as the
  bundle's ``checkpoints/<size>.handover-<hex8>``: step 2 follows them from your key (none when the ledger answers
  404, as one from before rotations does);
- ``GET /tile/<L>/<N>[.p/<W>]``: the hash tiles a tlog client builds proofs from. Each is compared with the tile
  recomputed from the entries (level 0: the leaf hashes; level L: the roots of the level L-1 tiles), holding at most
  256 hashes per level; a tile that differs, or is not served, is a step 2 finding (``tile_mismatch``).

A ledger serves no ``anchors.jsonl`` and no ``state.json`` for a given size: step 3 reads the anchors from the chain
alone (``--contract`` is required with ``--rpc``: the ledger names none) and does not check a listing; step 4
reports the state comparison as not done. Save the checkpoints you audit and pass them back with ``--checkpoint``:
step 2 then proves that the ledger's new tree extends them (or shows the fork).

Requests overlap: the next ``FETCH_AHEAD`` entry bundles, each with its level-0 hash tile, are fetched by a few
threads while the audit reads the current one (a remote ledger's round trip would otherwise dominate: 8 requests
per 1,024 events one after the other). They are consumed strictly in order, so the audit and its findings are
those of fetching one at a time; memory holds at most ``FETCH_AHEAD`` + 1 bundles (256 entries of at most 64 KiB
each). The higher-level tiles (one per 65,536 events) are fetched when needed.
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx

from verifier.errors import NetworkError, UnreadableInput, VerificationError
from verifier.limits import loads_bounded
from verifier.merkle import leaf_hash, root_of
from verifier.note import parse_checkpoint_body, parse_note
from verifier.source import CHECKPOINT_LIMIT, LEDGER_TERMS, SMALL_FILE_LIMIT, Bundle

#: the whole answer of GET /v1/log/handovers (a few hundred bytes per rotation)
MAX_HANDOVER_BYTES = CHECKPOINT_LIMIT * 256

__all__ = [
    "FETCH_AHEAD",
    "TILE_WIDTH",
    "LedgerSource",
    "TileProblem",
    "entries_path",
    "parse_entry_bundle",
    "tile_path",
]

TILE_WIDTH = 256
#: Entry bundles (each with its level-0 tile) requested ahead of the one the audit reads (0: one request at a time).
FETCH_AHEAD = 8


def encode_index(n: int) -> str:
    """A tile index as C2SP path elements: 3-digit groups, ``x`` before all but the last (1234067 ->
    ``x001/x234/067``)."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]`` (``.p/<W>`` for a partial bundle of ``W`` < 256 entries)."""
    return f"tile/entries/{encode_index(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``: the hash tile of level ``L`` (tree height ``8 L``)."""
    return f"tile/{level}/{encode_index(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")


@dataclass(frozen=True)
class TileProblem:
    """A hash tile the ledger serves that is not the one its entries make."""

    path: str
    index: int  # of the first differing hash in the tile (or -1: the tile was not served)
    expected: str
    found: str


class _TileCheck:
    """Recomputes the hash tiles from the leaf hashes, a tile at a time, and compares the served ones."""

    def __init__(self, fetch: Callable[[str], bytes | None]) -> None:
        self._fetch = fetch
        self._pending: dict[int, list[bytes]] = {}  # level -> hashes of its unfinished tile (fewer than 256)
        self._full: dict[int, int] = {}  # level -> full tiles seen
        self.checked = 0
        self.problems: list[TileProblem] = []

    def add_leaves(self, hashes: list[bytes]) -> None:
        """The leaf hashes of one entry bundle (256, or fewer for the last)."""
        self._add(0, hashes)

    def _add(self, level: int, hashes: list[bytes]) -> None:
        pending = self._pending.setdefault(level, [])
        pending.extend(hashes)
        while len(pending) >= TILE_WIDTH:
            tile = pending[:TILE_WIDTH]
            del pending[:TILE_WIDTH]
            index = self._full.get(level, 0)
            self._full[level] = index + 1
            self._compare(tile_path(level, index), tile)
            self._add(level + 1, [root_of(tile)])  # one more hash for the level above (never this level's list)

    def finish(self) -> None:
        """The partial tiles at the right edge of the tree, at every level that has one."""
        for level in sorted(self._pending):
            tile = self._pending[level]
            if tile:
                self._compare(tile_path(level, self._full.get(level, 0), len(tile)), tile)

    def _compare(self, path: str, hashes: list[bytes]) -> None:
        self.checked += 1
        expected = b"".join(hashes)
        served = self._fetch(path)
        if served == expected:
            return
        if served is None:
            self.problems.append(TileProblem(path, -1, expected.hex(), "not served"))
            return
        n = min(len(served), len(expected))
        i = next((k for k in range(0, n, 32) if served[k : k + 32] != expected[k : k + 32]), n) // 32
        want = expected[i * 32 : i * 32 + 32].hex() or f"no hash {i}: the recomputed tile holds {len(expected) // 32}"
        got = served[i * 32 : i * 32 + 32].hex() or f"no hash {i}: the served tile holds {len(served) / 32:g}"
        self.problems.append(TileProblem(path, i, want, got))


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """The ``width`` entries of an entry bundle; ValueError if it holds another number or trailing bytes."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError(f"a length prefix is cut off at byte {at}")
        n = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + n > len(data):
            raise ValueError(f"entry {len(entries)} claims {n} bytes, {len(data) - at - 2} remain")
        entries.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    if len(entries) != width:
        raise ValueError(f"{len(entries)} entries, expected {width}")
    return entries


class LedgerSource(Bundle):
    """A ledger's base URL read as an audit bundle (see the module docstring)."""

    local = False  # a second reader would download everything again: the rule worker gets the lines sent
    lists_anchors = False
    terms = LEDGER_TERMS

    def __init__(self, base_url: str, client: httpx.Client | None = None) -> None:
        self.source = base_url.rstrip("/")
        self._own = client is None
        self._pool: ThreadPoolExecutor | None = None  # started by the first read of events.jsonl
        self._ahead: dict[str, Future[tuple[int, bytes]]] = {}  # level-0 tiles requested with their bundle
        self._client = client if client is not None else httpx.Client(timeout=60.0, follow_redirects=False)
        try:
            note = self._get("checkpoint", CHECKPOINT_LIMIT)
            try:
                cp = parse_checkpoint_body(parse_note(note).text)
            except VerificationError as exc:
                raise UnreadableInput(f"{self.source}/checkpoint is not a checkpoint note: {exc.message}") from exc
            try:
                key = loads_bounded(self._get("v1/log", SMALL_FILE_LIMIT).decode("utf-8")).get("verifier_key")
            except (ValueError, AttributeError) as exc:
                raise UnreadableInput(f"{self.source}/v1/log is not the ledger's JSON log status") from exc
            handovers = self._handovers(cp.size)
        except BaseException:
            self.close()
            raise
        self._handover_notes = handovers
        self.tree_size = cp.size
        self.tiles = _TileCheck(self._tile)
        self._checkpoint = note
        log = {"format": 1, "origin": cp.origin, "verifier_key": key, "tree_size": cp.size}
        self._log_json = json.dumps(log).encode()

    def _handovers(self, size: int) -> dict[str, bytes]:
        """The log's key hand-overs (``GET /v1/log/handovers``, docs/formats.md §3) up to ``size``, as the bundle
        names them (``checkpoints/<size>.handover-<hex8>``), for step 2 to follow from the pinned key; none from a
        ledger that has no such endpoint. They are notes to check, not to trust."""
        status, body = self._fetch("v1/log/handovers", MAX_HANDOVER_BYTES)
        if status == 404:
            return {}
        if status != 200:
            raise NetworkError(f"GET {self.source}/v1/log/handovers answered HTTP {status}")
        if len(body) > MAX_HANDOVER_BYTES:
            raise UnreadableInput(f"GET {self.source}/v1/log/handovers: the answer is larger than {MAX_HANDOVER_BYTES}")
        try:
            listed = loads_bounded(body.decode("utf-8"))["handovers"]
            out = {}
            for h in listed:
                at, new_key, note = h["tree_size"], h["new_key"], h["note"]
                if type(at) is not int or type(new_key) is not str or type(note) is not str:
                    raise TypeError("tree_size, new_key and note")
                if 0 <= at <= size:
                    out[f"checkpoints/{at}.handover-{new_key.split('+')[1]}"] = note.encode()
            return out
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise UnreadableInput(f"{self.source}/v1/log/handovers is not the ledger's list of hand-overs") from exc

    def _tile(self, path: str) -> bytes | None:
        """A hash tile's bytes (at most one byte more than a full tile), or None if the ledger answers 404; a
        transport failure stops the audit."""
        ahead = self._ahead.pop(path, None)
        status, body = ahead.result() if ahead is not None else self._fetch(path, TILE_WIDTH * 32)
        return None if status == 404 else body

    def _get(self, path: str, limit: int) -> bytes:
        status, body = self._fetch(path, limit)
        if status != 200:
            raise NetworkError(f"GET {self.source}/{path} answered HTTP {status}")
        if len(body) > limit:
            raise UnreadableInput(f"GET {self.source}/{path}: the answer is larger than {limit} bytes")
        return body

    def _fetch(self, path: str, limit: int) -> tuple[int, bytes]:
        """(status, body) of ``GET <base>/<path>``; a body is read up to ``limit + 1`` bytes (so a caller can see
        it is too large). Transport failures raise NetworkError."""
        url = f"{self.source}/{path}"
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    return response.status_code, b""
                out = bytearray()
                for chunk in response.iter_bytes():
                    out += chunk
                    if len(out) > limit:
                        break
                return 200, bytes(out[: limit + 1])
        except httpx.HTTPError as exc:
            raise NetworkError(f"GET {url} failed: {exc}") from exc

    # -- the bundle's files ------------------------------------------------------------------------------------
    def read_small(self, name: str, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        if name == "log.json":
            return self._log_json
        if name == f"checkpoints/{self.tree_size}":
            return self._checkpoint
        return self._handover_notes.get(name)

    def has(self, name: str) -> bool:
        return name in ("log.json", "events.jsonl", f"checkpoints/{self.tree_size}") or name in self._handover_notes

    def checkpoint_names(self) -> list[str]:
        return [*self._handover_notes, f"checkpoints/{self.tree_size}"]

    @contextmanager
    def open_member(self, name: str) -> Iterator[IO[bytes]]:
        if name != "events.jsonl":
            raise UnreadableInput(f"{self.source}: a ledger serves no {name}")
        stream = io.BufferedReader(_ChunkReader(self._event_lines()), buffer_size=1 << 16)
        try:
            yield stream
        finally:
            stream.close()

    def _width(self, index: int) -> int:
        """Entries in bundle ``index`` (256 but in the last, partial one)."""
        return min(TILE_WIDTH, self.tree_size - index * TILE_WIDTH)

    def _entry_bundle(self, index: int) -> tuple[int, str, int, bytes]:
        """``(index, path, width, body)`` of entry bundle ``index``, fetched."""
        width = self._width(index)
        path = entries_path(index, width)
        return index, path, width, self._get(path, width * (2 + 65535))

    def _bundles(self) -> Iterator[tuple[int, str, int, bytes]]:
        """:meth:`_entry_bundle` of every bundle up to the checkpoint's size, in order; the next ``FETCH_AHEAD``
        bundles (and their level-0 tiles) are requested while the caller works on one."""
        count = (self.tree_size + TILE_WIDTH - 1) // TILE_WIDTH
        if FETCH_AHEAD < 1:  # one request at a time (the benchmark's baseline)
            yield from map(self._entry_bundle, range(count))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=FETCH_AHEAD, thread_name_prefix="hromada-verify-fetch")
        pool = self._pool
        queue: deque[Future[tuple[int, str, int, bytes]]] = deque()

        def request(index: int) -> None:
            queue.append(pool.submit(self._entry_bundle, index))
            tile = tile_path(0, index, self._width(index))  # the level-0 tile the entries of this bundle make
            self._ahead[tile] = pool.submit(self._fetch, tile, TILE_WIDTH * 32)

        for index in range(min(FETCH_AHEAD, count)):
            request(index)
        for index in range(count):
            if index + FETCH_AHEAD < count:
                request(index + FETCH_AHEAD)
            yield queue.popleft().result()

    def _event_lines(self) -> Iterator[bytes]:
        """``events.jsonl``'s bytes: the entries up to the checkpoint's size, one bundle at a time."""
        for index, path, width, body in self._bundles():
            try:
                entries = parse_entry_bundle(body, width)
            except ValueError as exc:
                raise UnreadableInput(f"{self.source}/{path} is not an entry bundle: {exc}") from exc
            for offset, entry in enumerate(entries):
                if b"\n" in entry:  # a canonical envelope has none: this could not be a line of events.jsonl
                    raise UnreadableInput(
                        f"{self.source}/{path}: entry {index * TILE_WIDTH + offset} holds a newline, so it is no "
                        "canonical envelope (the ledger serves a log that is not this format)"
                    )
            self.tiles.add_leaves([leaf_hash(entry) for entry in entries])
            yield b"".join(entry + b"\n" for entry in entries)
        self.tiles.finish()

    def served_tiles(self) -> tuple[int, list[Any]] | None:
        return self.tiles.checked, self.tiles.problems

    def close(self) -> None:
        if self._pool is not None:  # requests still running end before their client closes; queued ones never start
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._ahead.clear()
        if self._own:
            self._client.close()


class _ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n
