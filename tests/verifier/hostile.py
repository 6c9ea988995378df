"""Hostile inputs for the verifier, built from plain JSON recipes (tests/vectors/hostile/verifier/README.md).

A recipe names a small lawful base bundle (committed beside the recipes, rebuilt by :func:`write_base`), edits its
files, and packs it as a directory, a ``.tar`` or a ``.tar.gz``, optionally with extra archive members (links,
devices, paths leaving the bundle, ...) and byte-level damage (cut short, garbage appended). Contents are described,
not stored: ``{"repeat": {"text": "["}, "times": 3000}`` is streamed when the input is built, so a recipe for 1 GiB of
newlines is a few bytes and costs no disk until it is packed (and a ``.tar.gz`` of it about 1 MB).

This module is independent of the verifier (it writes tar and gzip bytes itself, so it can write what tarfile
would refuse to) except :func:`write_base`, which asks the verifier's own replay for the base's published state.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "hostile" / "verifier"
BASE = VECTORS / "base"
CHUNK = 1 << 20


# -- contents ---------------------------------------------------------------------------------------------------------
@dataclass
class Content:
    """Bytes described by a recipe: ``size`` of them, made in chunks by ``chunks()``."""

    size: int
    spec: Any
    files: dict[str, Content]

    def chunks(self) -> Iterator[bytes]:
        yield from _chunks(self.spec, self.files)

    def bytes(self) -> bytes:
        return b"".join(self.chunks())


def content(spec: Any, files: dict[str, Content]) -> Content:
    return Content(_size(spec, files), spec, files)


def _size(spec: Any, files: dict[str, Content]) -> int:
    if isinstance(spec, str):
        return len(spec.encode())
    if "text" in spec:
        return len(spec["text"].encode())
    if "hex" in spec:
        return len(bytes.fromhex(spec["hex"]))
    if "repeat" in spec:
        return _size(spec["repeat"], files) * int(spec["times"])
    if "concat" in spec:
        return sum(_size(s, files) for s in spec["concat"])
    if "file" in spec:
        return files[spec["file"]].size
    if "random" in spec:
        return int(spec["random"])
    if "zeros" in spec:
        return int(spec["zeros"])
    raise ValueError(f"unknown content {spec!r}")


def _chunks(spec: Any, files: dict[str, Content]) -> Iterator[bytes]:
    if isinstance(spec, str):
        yield spec.encode()
    elif "text" in spec:
        yield spec["text"].encode()
    elif "hex" in spec:
        yield bytes.fromhex(spec["hex"])
    elif "repeat" in spec:
        unit = b"".join(_chunks(spec["repeat"], files))
        times = int(spec["times"])
        per = max(1, CHUNK // max(1, len(unit)))
        block = unit * per
        while times >= per:
            yield block
            times -= per
        if times:
            yield unit * times
    elif "concat" in spec:
        for part in spec["concat"]:
            yield from _chunks(part, files)
    elif "file" in spec:
        yield from files[spec["file"]].chunks()
    elif "random" in spec:  # deterministic, incompressible: SHAKE-256 of the seed (FIPS 202), as many bytes as asked
        n = int(spec["random"])
        if n > 64 << 20:
            raise ValueError("at most 64 MiB of random bytes")
        data = hashlib.shake_256(f"hromada-hostile:{spec.get('seed', 0)}".encode()).digest(n)
        for at in range(0, n, CHUNK):
            yield data[at : at + CHUNK]
    elif "zeros" in spec:
        left = int(spec["zeros"])
        while left > 0:
            yield bytes(min(left, CHUNK))
            left -= CHUNK
    else:
        raise ValueError(f"unknown content {spec!r}")


class Many(Content):
    """``count`` files named ``pattern.format(i=i)``, each holding ``one`` (or, with ``one`` None, ``size`` random
    bytes of its own seed): never all in memory."""

    def __init__(self, pattern: str, count: int, one: Content | None, size: int = 0, seed: str = "") -> None:
        super().__init__((one.size if one is not None else size) * count, {}, {})
        self.pattern, self.count, self.one, self.each, self.seed = pattern, count, one, size, seed

    def names(self) -> Iterator[tuple[str, Content]]:
        for i in range(self.count):
            one = self.one or Content(self.each, {"random": self.each, "seed": f"{self.seed}-{i}"}, {})
            yield self.pattern.format(i=i), one


def expanded(files: dict[str, Content], names: list[str]) -> Iterator[tuple[str, Content]]:
    """``(name, content)`` of the files in ``names`` order, each :class:`Many` as its files."""
    for name in names:
        data = files[name]
        if isinstance(data, Many):
            yield from data.names()
        else:
            yield name, data


# -- the bundle's files, edited ---------------------------------------------------------------------------------------
def base_files(base: Path = BASE) -> dict[str, Content]:
    files: dict[str, Content] = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if path.is_file() and rel != "verifier.key":
            data = path.read_bytes()
            files[rel] = Content(len(data), {"hex": data.hex()}, files)
    return files


def edit(files: dict[str, Content], op: dict[str, Any]) -> None:
    kind, args = next(iter(op.items()))
    if kind == "write":
        files[args["file"]] = content(args["content"], dict(files))
    elif kind == "append":
        old = files[args["file"]]
        snapshot = dict(files)
        snapshot["\0old"] = old
        files[args["file"]] = content({"concat": [{"file": "\0old"}, args["content"]]}, snapshot)
    elif kind == "replace_line":
        lines = files[args["file"]].bytes().split(b"\n")
        lines[int(args["index"])] = content(args["content"], files).bytes()
        data = b"\n".join(lines)
        files[args["file"]] = Content(len(data), {"hex": data.hex()}, files)
    elif kind == "remove":
        del files[args["file"]]
    elif kind == "many":  # count files named by a pattern with {i}, made when packed (see Many)
        files[args["pattern"]] = Many(args["pattern"], int(args["count"]), content(args["content"], dict(files)))
    elif kind == "many_random":  # count files of random bytes, each of its own seed
        files[args["pattern"]] = Many(args["pattern"], int(args["count"]), None, int(args["bytes"]), str(args["seed"]))
    else:
        raise ValueError(f"unknown edit {kind!r}")


# -- tar and gzip, written here ---------------------------------------------------------------------------------------
_TYPES = {"file": b"0", "hardlink": b"1", "symlink": b"2", "chr": b"3", "blk": b"4", "dir": b"5", "fifo": b"6"}


def tar_header(name: str, size: int = 0, kind: str = "file", target: str = "", typeflag: bytes | None = None) -> bytes:
    """A ustar header (names of up to 100 bytes; a longer one goes in a pax header first, see :func:`tar_member`)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > 100:
        raise ValueError("use tar_member for a long name")
    template = _templates.get((size, kind, target, typeflag))
    if template is None:
        template = _templates[(size, kind, target, typeflag)] = _header(b"", size, kind, target, typeflag)
    checksum = int(template[148:154], 8) + sum(raw)  # the template's sum, with this name in its first 100 bytes
    return raw.ljust(100, b"\0") + template[100:148] + f"{checksum:06o}\0 ".encode() + template[156:]


_templates: dict[tuple[int, str, str, bytes | None], bytes] = {}


def _header(raw: bytes, size: int, kind: str, target: str, typeflag: bytes | None) -> bytes:
    mode = f"{0o755 if kind == 'dir' else 0o644:07o}\0".encode()
    size_field = f"{size:011o}\0".encode() if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    block = b"".join(
        [
            raw.ljust(100, b"\0"),
            mode,
            b"0000000\0",
            b"0000000\0",
            size_field,
            b"00000000000\0",
            b" " * 8,
            typeflag if typeflag is not None else _TYPES[kind],
            target.encode().ljust(100, b"\0"),
            b"ustar\x0000",
            b"root".ljust(32, b"\0"),
            b"root".ljust(32, b"\0"),
            b"0000000\0",
            b"0000000\0",
            bytes(167),  # prefix (155) and padding to 512
        ]
    )
    return block[:148] + f"{sum(block):06o}\0 ".encode() + block[156:]


def _pax(records: dict[str, str]) -> bytes:
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        n = len(body) + 1
        while len(str(n).encode()) + len(body) != n:
            n = len(str(n).encode()) + len(body)
        out += str(n).encode() + body
    return out


def tar_member(name: str, data: Content | None, kind: str = "file", target: str = "") -> Iterator[bytes]:
    """One member's blocks: a pax header first when the name is long, then the header, the data, the padding."""
    size = data.size if data is not None and kind == "file" else 0
    if len(name.encode("utf-8", "surrogateescape")) > 100:
        pax = _pax({"path": name})
        yield tar_header("././@PaxHeader", len(pax), typeflag=b"x")
        yield pax + bytes(-len(pax) % 512)
        name = name.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    yield tar_header(name, size, kind, target)
    if size:
        assert data is not None
        yield from data.chunks()
        yield bytes(-size % 512)


def coalesce(blocks: Iterator[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The same bytes in pieces of about ``size`` (a header is 512 bytes: compress a megabyte at a time)."""
    parts: list[bytes] = []
    held = 0
    for block in blocks:
        parts.append(block)
        held += len(block)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


def tar_stream(members: Iterator[dict[str, Any]], files: dict[str, Content]) -> Iterator[bytes]:
    for m in members:
        kind = m.get("type", "file")
        if kind == "raw_header":  # a header block of a given type and size, with any content
            raw = content(m.get("content", ""), files)
            yield tar_header(m["name"], int(m.get("size", raw.size)), typeflag=m["typeflag"].encode())
            yield from raw.chunks()
            yield bytes(-raw.size % 512)
            continue
        data: Content | None = m.get("data")
        if data is None and "content" in m:
            data = content(m["content"], files)
        yield from tar_member(m["name"], data, kind, m.get("target", ""))
    yield bytes(1024)  # the end-of-archive marker
    yield bytes(8192)  # padding to a 10 KiB record, as tar writes it


def gzip_stream(blocks: Iterator[bytes], level: int = 6, members: int = 1, total: int | None = None) -> Iterator[bytes]:
    """Gzip of the blocks (``members`` > 1: that many concatenated gzip members, cut at block boundaries)."""
    per = None if members <= 1 or total is None else max(1, total // members)
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    made = 0
    for block in blocks:
        out = comp.compress(block)
        if out:
            yield out
        made += len(block)
        if per is not None and made >= per:
            yield comp.flush()
            comp = zlib.compressobj(level, zlib.DEFLATED, 31)
            made = 0
    yield comp.flush()


# -- a recipe -------------------------------------------------------------------------------------------------------
def _order(names: list[str], order: Any) -> list[str]:
    if order in (None, "sorted"):
        return sorted(names)
    if order == "reversed":
        return sorted(names, reverse=True)
    out: list[str] = []  # the names matching each pattern of ``order`` in turn (``x*``: a prefix), then the rest
    for pattern in [*order, "*"]:
        for n in sorted(names):
            if n not in out and (n == pattern or (pattern.endswith("*") and n.startswith(pattern[:-1]))):
                out.append(n)
    return out


def members_of(files: dict[str, Content], archive: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The archive's members in order: extra members ``"at": "start"``, the top directory (``.`` or ``top``) and the
    bundle's directories, its files in ``order``, then the other extra members."""
    top = archive.get("top")
    prefix = f"{top}/" if top else "./"
    extra = archive.get("members", [])
    yield from (m for m in extra if m.get("at") == "start")
    yield {"name": top or ".", "type": "dir"}
    for d in sorted({n.rsplit("/", 1)[0] for n in files if "/" in n}):
        yield {"name": prefix + d, "type": "dir"}
    for name, data in expanded(files, _order(list(files), archive.get("order"))):
        yield {"name": prefix + name, "data": data}
    yield from (m for m in extra if m.get("at") != "start")


def expand(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """The recipe once per value of its ``each`` (``"$name"`` strings replaced), or once."""
    each = recipe.get("each")
    if not each:
        return [recipe]

    def sub(value: Any, name: str, v: Any) -> Any:
        if value == f"${name}":
            return v
        if isinstance(value, dict):
            return {k: sub(x, name, v) for k, x in value.items()}
        if isinstance(value, list):
            return [sub(x, name, v) for x in value]
        return value

    body = {k: v for k, v in recipe.items() if k != "each"}
    name, values = each["name"], each["values"]
    return [sub(copy.deepcopy(body), name, v) | {"variant": v, "variant_index": i} for i, v in enumerate(values)]


def build(recipe: dict[str, Any], out_dir: Path) -> Path:
    """Build the recipe's input under ``out_dir``; returns the path to pass to ``hromada-verify audit``."""
    spec = recipe["input"]
    files = base_files(VECTORS / spec.get("base", "base"))
    for op in spec.get("edits", []):
        edit(files, op)
    pack = spec.get("pack", {"format": "directory"})
    fmt = pack.get("format", "directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "directory":
        root = out_dir / "bundle"
        root.mkdir()
        made: set[Path] = set()
        for name, data in expanded(files, list(files)):
            path = root / name
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for chunk in data.chunks():
                    os.write(fd, chunk)
            finally:
                os.close(fd)
        for special in pack.get("special", []):
            path = root / special["name"]
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() or path.is_symlink():
                path.unlink()
            if special["type"] == "symlink":
                path.symlink_to(special["target"])
            elif special["type"] == "fifo":
                os.mkfifo(path)
            else:
                raise ValueError(special["type"])
        return root
    members = members_of(files, pack)
    total = sum(f.size for f in files.values())
    blocks = coalesce(tar_stream(members, files))
    path = out_dir / ("bundle.tar.gz" if fmt == "tar.gz" else "bundle.tar")
    with path.open("wb") as f:
        stream = (
            gzip_stream(blocks, int(pack.get("level", 6)), int(pack.get("gzip_members", 1)), total)
            if fmt == "tar.gz"
            else blocks
        )
        for chunk in stream:
            f.write(chunk)
    for op in pack.get("damage", []):
        _damage(path, op, files)
    return path


def _damage(path: Path, op: dict[str, Any], files: dict[str, Content]) -> None:
    size = path.stat().st_size
    if "cut" in op:  # keep this fraction of the archive's bytes
        os.truncate(path, int(size * float(op["cut"])))
    elif "append" in op:
        with path.open("ab") as f:
            for chunk in content(op["append"], files).chunks():
                f.write(chunk)
    elif "flip" in op:  # invert one byte at this fraction
        at = int(size * float(op["flip"]))
        with path.open("r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0xFF]))
    else:
        raise ValueError(f"unknown damage {op!r}")


@dataclass
class Outcome:
    """What ``hromada-verify audit`` answered: its exit code, its --json document (or None), its stderr."""

    exit: int
    doc: dict[str, Any] | None
    stderr: str
    seconds: float = 0.0
    peak_rss_kib: int = 0


def arguments(source: Path, base: Path = BASE, as_json: bool = True) -> list[str]:
    """``audit SOURCE --key KEY --offline [--json]``, with the base bundle's key."""
    return ["audit", str(source), "--key", key(base), "--offline", *(["--json"] if as_json else [])]


def command(source: Path, base: Path = BASE, as_json: bool = True) -> list[str]:
    """The real CLI entry: the ``hromada-verify`` console script beside this interpreter (else ``python -m``)."""
    script = Path(sys.executable).with_name("hromada-verify")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "verifier.cli"]
    return [*head, *arguments(source, base, as_json)]


def run(source: Path, base: Path = BASE, as_json: bool = True, timeout: float = 300) -> Outcome:
    """Run the audit in a child process; its wall time and peak RSS (``wait4``'s ``ru_maxrss``: the child's and its
    own children's largest) come back with the answer."""
    started = time.perf_counter()
    with subprocess.Popen(
        command(source, base, as_json), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return Outcome(-1, None, err + f"\n(no answer after {timeout} s)", time.perf_counter() - started)
        # communicate() reaped the child; its rusage is in the children's totals (measured again, per run, below)
    seconds = time.perf_counter() - started
    doc = None
    if as_json and out.strip():
        try:
            doc = json.loads(out.strip().splitlines()[-1])
        except ValueError:
            doc = None
    return Outcome(proc.returncode, doc, err, seconds)


def run_in_process(source: Path, base: Path = BASE, as_json: bool = True) -> Outcome:
    """The same command through typer's CliRunner, in this process (no interpreter start-up per case)."""
    from typer.testing import CliRunner

    from verifier.cli import app

    started = time.perf_counter()
    result = CliRunner().invoke(app, arguments(source, base, as_json))
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += "Traceback (in process): " + repr(result.exception)
    doc = None
    if as_json and result.stdout.strip():
        try:
            doc = json.loads(result.stdout.strip().splitlines()[-1])
        except ValueError:
            doc = None
    return Outcome(result.exit_code, doc, err, time.perf_counter() - started)


def check(recipe: dict[str, Any], outcome: Outcome) -> list[str]:
    """What is wrong with ``outcome`` for ``recipe``'s expected answer (empty: it is the expected one)."""
    want = recipe["expect"]
    problems: list[str] = []
    if "Traceback" in outcome.stderr:
        problems.append("a traceback: " + outcome.stderr.strip().splitlines()[-1])
    if outcome.exit != want["exit"]:
        problems.append(f"exit {outcome.exit}, expected {want['exit']}: {outcome.stderr.strip()[-300:]}")
    doc = outcome.doc
    if doc is None:
        problems.append("no --json answer")
        return problems
    if want["exit"] == 2:
        error = doc.get("error", {})
        if error.get("code") != want["error"]:
            problems.append(f"error code {error.get('code')!r}, expected {want['error']!r}: {error.get('message')}")
        if "message" in want and want["message"] not in str(error.get("message")):
            problems.append(f"error message {error.get('message')!r} lacks {want['message']!r}")
    else:
        found = {(f["step"], f["code"]) for s in doc.get("steps", []) for f in s.get("findings", [])}
        for step, code in want.get("findings", []):
            if (step, code) not in found:
                problems.append(f"no finding {code!r} in step {step}; found {sorted(found)}")
    return problems


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def cases() -> list[Path]:
    return sorted(p for p in VECTORS.glob("*.json"))


def key(base: Path = BASE) -> str:
    return (base / "verifier.key").read_text().strip()


# -- the base bundle -------------------------------------------------------------------------------------------------
def write_base(path: Path) -> None:
    """The lawful base bundle: a small city (petitions signed, a ballot with votes and a revote, kindergarten entries
    offered places in turn, housing registrations), a checkpoint at every tree size, and its published state."""
    from tests.verifier import factory
    from tests.verifier_rules.builder import History, cit, pseudonym

    h = History()
    h.city()
    petition = h.petition(threshold=1000, period={"days": 60})
    h.publish(petition)
    ballot = h.ballot(method={"type": "approval", "max_choices": 2}, hours=24 * 30)
    queue = h.queue(institutions=("k1",), acceptance_days=7)
    register = h.register()
    waiting = []
    for n in range(1, 25):
        h.sign(petition, n)
        h.vote(ballot, n, ["a"] if n % 2 else ["b", "c"])
        waiting.append((h.register_child(queue, n, ("k1",), 2023), n))
        if n % 6 == 0:
            entry, who = waiting.pop(0)
            offer = h.offer(queue, entry, place=f"p{n}")
            h.answer(queue, offer, entry, "queue.offer_accepted", cit(pseudonym("cit", f"parent{who}")))
        if n % 4 == 0:
            h.register_household(register, n)
    h.vote(ballot, 3, ["c"])  # a revote: only the last counts
    lines = [factory.jcs(e) for e in h.events]
    info = factory.write_bundle(path, lines=lines, checkpoint_sizes=range(1, len(lines) + 1))
    (path / "verifier.key").write_text(info.key + "\n")
    (path / "state.json").write_text(_replayed_state(path, info.key), encoding="utf-8")


def _replayed_state(path: Path, key: str) -> str:
    from verifier.audit import CheckpointStep, EnvelopeStep, run_audit
    from verifier.note import parse_verifier_key
    from verifier.rules.steps import AuthorisationStep, RuleReplayStep

    replay = RuleReplayStep()
    states: list[Any] = []
    replay._compare_state = lambda ctx: states.append(replay.replay.public_state())  # type: ignore[method-assign]
    steps = [EnvelopeStep(), CheckpointStep(), replay, AuthorisationStep()]
    run_audit(path, parse_verifier_key(key), offline=True, steps=steps, workers=1)
    return json.dumps(states[0], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
