"""Shared test helpers: test vectors and trees built through the real append path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger.merkle import MemoryTileStore, append_leaves, leaf_hash

TESTVECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "testvectors"


def load_vectors(name: str) -> Any:
    return json.loads((TESTVECTORS / name).read_text(encoding="utf-8"))


def h(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str)


def build_store(entries: list[bytes], batch: int = 7) -> MemoryTileStore:
    store = MemoryTileStore()
    size = 0
    for i in range(0, len(entries), batch):
        size = append_leaves(store, size, [leaf_hash(e) for e in entries[i : i + batch]])
    assert size == len(entries)
    return store
