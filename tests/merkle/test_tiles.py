"""C2SP tlog-tiles geometry against ../shared/testvectors/tlog_tiles.json, and the stored tile bytes."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.merkle import MemoryTileStore, TreeReader, TreeSizeError, append_leaves, leaf_hash
from ledger.merkle.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_index,
    entries_path,
    iter_tile_paths,
    tile_path,
    tile_width,
    tiles_for_size,
)
from tests.merkle.helpers import build_store, h, load_vectors

V = load_vectors("tlog_tiles.json")
RFC = load_vectors("rfc6962.json")


def test_constants() -> None:
    assert (TILE_HEIGHT, TILE_WIDTH) == (8, 256)


@pytest.mark.parametrize("case", V["index_path_examples"], ids=lambda c: str(c["index"]))
def test_encode_index(case: dict[str, Any]) -> None:
    assert encode_index(case["index"]) == case["encoded"]


@pytest.mark.parametrize("case", V["tile_path_examples"], ids=lambda c: c["path"])
def test_tile_paths(case: dict[str, Any]) -> None:
    if case.get("entries"):
        assert entries_path(case["index"], case["width"]) == case["path"]
    else:
        assert tile_path(case["level"], case["index"], case["width"]) == case["path"]


@pytest.mark.parametrize("size", list(V["tiles_for_tree_size"]))
def test_tiles_for_size(size: str) -> None:
    got = tiles_for_size(int(size))
    want = V["tiles_for_tree_size"][size]
    assert [(t.level, t.full_tiles, t.partial_width, t.partial_path()) for t in got] == [
        (w["level"], w["full_tiles"], w["partial_width"], w["partial_path"]) for w in want
    ]


def test_bad_paths_rejected() -> None:
    with pytest.raises(ValueError):
        encode_index(-1)
    with pytest.raises(ValueError):
        tile_path(0, 0, 0)
    with pytest.raises(ValueError):
        tile_path(0, 0, 257)
    with pytest.raises(ValueError):
        entries_path(0, 0)


def test_tile_width_and_paths_of_70000() -> None:
    assert tile_width(70000, 0, 273) == 112
    assert tile_width(70000, 0, 272) == 256
    assert tile_width(70000, 0, 274) == 0
    paths = list(iter_tile_paths(70000))
    assert len(paths) == 274 + 2 + 1
    assert paths[-3:] == ["tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]


def test_eight_leaf_tile_bytes() -> None:
    e = V["eight_leaf_tree"]
    leaves = [h(x) for x in RFC["leaves_hex"]]
    store = build_store(leaves, batch=3)
    assert store.tiles == {(0, 0): h(e["level0_tile_hex"])}
    assert tile_path(0, 0, len(store.tiles[(0, 0)]) // 32) == e["level0_tile_path"]
    assert TreeReader(store, 8).root() == h(e["root_from_tile_hex"])


def test_entry_bundle() -> None:
    e = V["eight_leaf_tree"]
    leaves = [h(x) for x in RFC["leaves_hex"]]
    assert encode_entry_bundle(leaves) == h(e["entry_bundle_hex"])
    assert decode_entry_bundle(h(e["entry_bundle_hex"])) == leaves
    assert entries_path(0, len(leaves)) == e["entry_bundle_path"]


def test_entry_bundle_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        encode_entry_bundle([b"x" * 0x10000])
    with pytest.raises(ValueError):
        encode_entry_bundle([b""] * 257)
    with pytest.raises(ValueError):
        decode_entry_bundle(b"\x00")
    with pytest.raises(ValueError):
        decode_entry_bundle(b"\x00\x05abc")
    assert decode_entry_bundle(b"") == []


def test_tiles_at_every_level_after_65537_leaves() -> None:
    """Level-1 and level-2 tiles appear exactly when 256 and 65536 leaves are complete."""
    store = MemoryTileStore()
    size = 0
    for n in (255, 1, 65279, 1, 1):
        size = append_leaves(store, size, [leaf_hash(i.to_bytes(4, "big")) for i in range(size, size + n)])
        want = {(t.level, t.full_tiles + (1 if t.partial_width else 0) - 1) for t in tiles_for_size(size)}
        assert {(lvl, max(i for (l2, i) in store.tiles if l2 == lvl)) for (lvl, _) in store.tiles} == want
        for t in tiles_for_size(size):
            if t.partial_width:
                assert len(store.tiles[(t.level, t.full_tiles)]) == 32 * t.partial_width
    assert size == 65537
    assert len(store.tiles[(2, 0)]) == 32


def test_append_refuses_inconsistent_store() -> None:
    store = MemoryTileStore()
    append_leaves(store, 0, [leaf_hash(b"a"), leaf_hash(b"b")])
    with pytest.raises(TreeSizeError):  # store holds 2 leaves, caller claims 1
        append_leaves(store, 1, [leaf_hash(b"c")])
    with pytest.raises(TreeSizeError):  # store holds 2 leaves, caller claims 3
        append_leaves(store, 3, [leaf_hash(b"c")])
    with pytest.raises(TreeSizeError):  # store holds 2 leaves, caller claims 0
        append_leaves(store, 0, [leaf_hash(b"c")])
    with pytest.raises(ValueError):
        append_leaves(store, 2, [b"short"])
    assert append_leaves(store, 2, []) == 2
    assert store.tiles[(0, 0)] == leaf_hash(b"a") + leaf_hash(b"b")


def test_missing_tile_is_reported() -> None:
    store = build_store([i.to_bytes(2, "big") for i in range(300)])
    del store.tiles[(1, 0)]  # the root of [0, 256) lives there
    with pytest.raises(TreeSizeError):
        TreeReader(store, 300).root()
    del store.tiles[(0, 0)]
    with pytest.raises(TreeSizeError):
        TreeReader(store, 300).node_hash(0, 5)
    store.tiles[(0, 1)] = store.tiles[(0, 1)][:-32]  # truncated partial tile
    with pytest.raises(TreeSizeError):
        TreeReader(store, 300).node_hash(0, 299)
