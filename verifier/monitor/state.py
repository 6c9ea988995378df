"""The monitor's state on disk: ``DIR/state.json``, written atomically (a temporary file, fsync, rename, fsync of
the directory), so a crash leaves either the old state or the new one, never half of one.

It holds the last checkpoint note the monitor accepted and the Merkle frontier of the entries up to its size (one
hash per set bit of the size: ``verifier.merkle.TreeBuilder``'s compact range), so a restart resumes with O(log n)
state and fetches only the entries added since; with ``--rpc``, also what it keeps of the chain (``anchors``:
verifier/monitor/anchors.py's :class:`~verifier.monitor.anchors.ChainState`: the next block to read, the anchors
pending beyond the kept size).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import UnreadableInput
from verifier.merkle import TreeBuilder
from verifier.monitor.anchors import ChainState, chain_doc, chain_from_doc

__all__ = ["MonitorState", "load_state", "save_state", "state_doc", "state_from_doc"]

STATE_FORMAT = 1


@dataclass
class MonitorState:
    origin: str | None = None
    size: int = 0
    checkpoint: str | None = None  # the last accepted signed checkpoint note
    frontier: list[bytes] = field(default_factory=list)
    rounds: int = 0
    chain: ChainState | None = None  # with --rpc: what is kept of the chain's anchors

    def tree(self) -> TreeBuilder:
        return TreeBuilder.resume(self.size, self.frontier)


def state_doc(state: MonitorState) -> dict[str, Any]:
    """``state.json``'s content (also committed in ``rules.db`` with the rule state, verifier/monitor/rules.py)."""
    return {
        "format": STATE_FORMAT,
        "origin": state.origin,
        "size": state.size,
        "checkpoint": state.checkpoint,
        "frontier": [h.hex() for h in state.frontier],
        "rounds": state.rounds,
        "anchors": None if state.chain is None else chain_doc(state.chain),
    }


def state_from_doc(doc: Any, where: Path) -> MonitorState:
    try:
        if doc.get("format") != STATE_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {STATE_FORMAT}")
        state = MonitorState(
            origin=doc["origin"],
            size=int(doc["size"]),
            checkpoint=doc["checkpoint"],
            frontier=[bytes.fromhex(h) for h in doc["frontier"]],
            rounds=int(doc["rounds"]),
        )
        anchors = doc.get("anchors")  # absent in a state written before anchors were read
        state.chain = None if anchors is None else chain_from_doc(anchors, state.origin)
        state.tree()  # the frontier fits the size
    except (AttributeError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableInput(f"{where} is not a monitor state file: {exc}") from exc
    return state


def load_state(directory: Path) -> MonitorState:
    path = directory / "state.json"
    if not path.exists():
        return MonitorState()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnreadableInput(f"{path} is not a monitor state file: {exc}") from exc
    return state_from_doc(doc, path)


def save_state(directory: Path, state: MonitorState) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = state_doc(state)
    path = directory / "state.json"
    tmp = directory / "state.json.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
