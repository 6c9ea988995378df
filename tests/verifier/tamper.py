"""The tamper matrix as data (docs/audit.md, "Tamper vectors"): each ``tests/vectors/audit/<case>/case.json`` says how
to tamper with a lawful bundle and which findings an auditor must then report. This module builds a case's bundle
(:func:`build`) and compares an audit report with its expectation (:func:`check`); another verifier can read the same
files. The byte-level edits of the hostile vectors (``write``, ``append``, ``remove``, ``replace_line``) are
:func:`tests.verifier.hostile.edit`'s, reused as they are.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import rfc8785

from tests.verifier import factory, hostile
from verifier.audit import AuditReport

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
AUDIT = VECTORS / "audit"

Files = dict[str, bytes]


def cases() -> list[Path]:
    return sorted(p.parent for p in AUDIT.glob("*/case.json"))


def load(case: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((case / "case.json").read_text(encoding="utf-8"))
    return doc


def base_files(base: Path) -> Files:
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and p.name != "verifier.key"
    }


def base_key(recipe: dict[str, Any]) -> str:
    base: str = recipe.get("base", "hostile/verifier/base")
    return (VECTORS / base / "verifier.key").read_text().strip()


def _lines(files: Files) -> list[bytes]:
    data = files["events.jsonl"]
    return data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")


def _set_lines(files: Files, lines: list[bytes]) -> None:
    files["events.jsonl"] = b"".join(line + b"\n" for line in lines)


def _resolve(value: Any, events: list[Any]) -> Any:
    """``{"$event": i, "path": "data.entry"}`` is that field of event ``i`` (as the log held it before the edit)."""
    if isinstance(value, dict) and "$event" in value:
        return _get(events[value["$event"]], value["path"])
    return value


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part]
    return obj


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    for part in head:
        obj = obj[part]
    obj[last] = value


def _leaf(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def _signer(files: Files) -> factory.Signer:
    """The test key of the log (tests/verifier/factory.py): Ed25519 seed SHA-256("hromada-test-seed:log" ‖ origin)."""
    return factory.make_signer(json.loads(files["log.json"])["origin"])


def _checkpoint(files: Files, size: int, root: bytes, origin: str | None = None) -> bytes:
    origin = origin or json.loads(files["log.json"])["origin"]
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    return _signer(files).sign(body).encode()


def _edit(files: Files, op: dict[str, Any]) -> None:
    kind, args = next(iter(op.items()))
    if kind in ("write", "append", "remove", "replace_line"):
        staged = {name: hostile.Content(len(data), {"hex": data.hex()}, {}) for name, data in files.items()}
        hostile.edit(staged, op)
        files.clear()
        files.update({name: content.bytes() for name, content in staged.items()})
    elif kind == "event":
        lines = _lines(files)
        before = [json.loads(line) for line in lines]
        event = copy.deepcopy(before[args["index"]])
        for path, value in args.get("set", {}).items():
            _set(event, path, _resolve(value, before))
        for path in args.get("remove", []):
            *head, last = path.split(".")
            del (_get(event, ".".join(head)) if head else event)[last]
        if args.get("fix_id"):
            event["id"] = str(uuid.uuid5(uuid.UUID(event["stream"]), str(event["version"])))
        canonical = args.get("canonical", True)
        lines[args["index"]] = rfc8785.dumps(event) if canonical else json.dumps(event, ensure_ascii=False).encode()
        _set_lines(files, lines)
    elif kind == "lines":
        lines = _lines(files)
        if "delete" in args:
            del lines[args["delete"]]
        if "swap" in args:
            i, j = args["swap"]
            lines[i], lines[j] = lines[j], lines[i]
        if "copy" in args:
            lines.insert(args["to"], lines[args["copy"]])
        if "keep" in args:
            lines = lines[: args["keep"]]
        _set_lines(files, lines)
    elif kind == "cut_bytes":
        files["events.jsonl"] = files["events.jsonl"][: -int(args)]
    elif kind == "json":
        doc = json.loads(files[args["file"]])
        for path, value in args.get("set", {}).items():
            _set(doc, path, value)
        files[args["file"]] = json.dumps(doc, indent=2).encode()
    elif kind == "format_2":  # the whole log as envelope format 2 writes it
        lines = []
        for line in _lines(files):
            event = json.loads(line)
            event["format"] = 2
            if event["type"].startswith("queue."):
                event["type"] = "kindergarten." + event["type"].partition(".")[2]
            lines.append(rfc8785.dumps(event))
        _set_lines(files, lines)
    elif kind == "resign":  # the operator signs every checkpoint again, over the events as they now are
        lines = _lines(files)
        leaves = [_leaf(line) for line in lines]
        sizes = {int(n.split("/")[1]) for n in files if n.startswith("checkpoints/") and n.split("/")[1].isdigit()}
        for n in [n for n in files if n.startswith("checkpoints/")]:
            del files[n]
        for size in sorted({s for s in sizes if s <= len(lines)} | {len(lines)}):
            files[f"checkpoints/{size}"] = _checkpoint(files, size, factory.mth(leaves[:size]))
        log = json.loads(files["log.json"])
        log["tree_size"] = len(lines)
        files["log.json"] = json.dumps(log, indent=2).encode()
    elif kind == "checkpoint":  # one more note signed by the log's key: for ``size``, with ``root`` or the leaves'
        leaves = [_leaf(line) for line in _lines(files)]
        root = bytes.fromhex(args["root"]) if "root" in args else factory.mth(leaves[: args["size"]])
        files[args["file"]] = _checkpoint(files, args["size"], root, args.get("origin"))
    elif kind == "flip_signature":  # one base64 character of the note's signature changed
        note = files[args["file"]].decode()
        text, _, sig = note.rstrip("\n").rpartition(" ")
        at = len(sig) // 2
        files[args["file"]] = (text + " " + sig[:at] + ("A" if sig[at] != "A" else "B") + sig[at + 1 :] + "\n").encode()
    else:
        raise ValueError(f"unknown tamper edit {kind!r}")


def build(recipe: dict[str, Any], out: Path) -> Path:
    """The case's bundle directory, under ``out``."""
    files = base_files(VECTORS / recipe.get("base", "hostile/verifier/base"))
    for op in recipe["edits"]:
        _edit(files, op)
    root = out / "bundle"
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _matches(want: dict[str, Any], finding: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key == "details":
            if not all(finding.get("details", {}).get(k) == v for k, v in value.items()):
                return False
        elif finding.get(key) != value:
            return False
    return True


def check(recipe: dict[str, Any], report: AuditReport) -> list[str]:
    """What is wrong with ``report`` for the case's ``expect`` (empty: it is the expected answer)."""
    want = recipe["expect"]
    doc = report.to_json()
    problems = []
    if doc["exit_code"] != want["exit"]:
        problems.append(f"exit {doc['exit_code']}, expected {want['exit']}")
    found = [f for s in doc["steps"] for f in s["findings"]]
    for expected in want.get("findings", []):
        if not any(_matches(expected, f) for f in found):
            problems.append(f"no finding {expected}; found {[(f['step'], f['code'], f.get('index')) for f in found]}")
    if want.get("only"):
        allowed = {(e["step"], e["code"]) for e in want.get("findings", [])}
        extra = sorted({(f["step"], f["code"]) for f in found} - allowed)
        if extra:
            problems.append(f"findings not expected: {extra}")
    return problems
