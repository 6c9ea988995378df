"""Every vector of ../shared/testvectors/rfc6962.json, through the tile-based implementation."""

from __future__ import annotations

from hashlib import sha256
from typing import Any

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    TreeReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle import reference as ref
from tests.merkle.helpers import build_store, h, load_vectors

V = load_vectors("rfc6962.json")
LEAVES = [h(x) for x in V["leaves_hex"]]
STORE = build_store(LEAVES, batch=3)


def test_hasher_vectors() -> None:
    hv = V["hasher_vectors"]
    assert h(hv["empty_tree_root"]["hash"]) == EMPTY_ROOT
    assert leaf_hash(h(hv["empty_leaf"]["leaf_hex"])) == h(hv["empty_leaf"]["hash"])
    assert leaf_hash(h(hv["leaf"]["leaf_hex"])) == h(hv["leaf"]["hash"])
    node = hv["node"]
    assert node_hash(h(node["left_hex"]), h(node["right_hex"])) == h(node["hash"])


def test_leaf_hashes() -> None:
    assert [leaf_hash(x).hex() for x in LEAVES] == V["leaf_hashes"]


@pytest.mark.parametrize("size", range(9))
def test_roots(size: int) -> None:
    tree = TreeReader(STORE, 8)
    assert tree.root_at(size).hex() == V["roots"][str(size)]
    assert TreeReader(build_store(LEAVES[:size], batch=1), size).root().hex() == V["roots"][str(size)]


def test_node_hashes() -> None:
    tree = TreeReader(STORE, 8)
    for level, row in enumerate(V["node_hashes"]["levels"]):
        assert [tree.node_hash(level, i).hex() for i in range(len(row))] == row


@pytest.mark.parametrize("case", V["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion(case: dict[str, Any]) -> None:
    proof = inclusion_proof(STORE, case["index"], case["size"])
    assert [p.hex() for p in proof] == case["proof"]
    assert proof == ref.path(case["index"], LEAVES[: case["size"]])
    verify_inclusion(h(case["leaf_hash"]), case["index"], case["size"], proof, h(case["root"]))


@pytest.mark.parametrize("case", V["consistency"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_consistency(case: dict[str, Any]) -> None:
    proof = consistency_proof(STORE, case["size1"], case["size2"])
    assert [p.hex() for p in proof] == case["proof"]
    assert proof == ref.proof(case["size1"], LEAVES[: case["size2"]])
    verify_consistency(case["size1"], case["size2"], proof, h(case["root1"]), h(case["root2"]))


@pytest.mark.parametrize("probe", V["probes"]["inclusion"], ids=lambda p: p["file"])
def test_inclusion_probes(probe: dict[str, Any]) -> None:
    args = (
        h(probe["leaf_hash"]),
        probe["index"],
        probe["size"],
        [h(p) for p in probe["proof"]],
        h(probe["root"]),
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", V["probes"]["consistency"], ids=lambda p: p["file"])
def test_consistency_probes(probe: dict[str, Any]) -> None:
    args = (
        probe["size1"],
        probe["size2"],
        [h(p) for p in probe["proof"]],
        h(probe["root1"]),
        h(probe["root2"]),
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- accumulated subtree vectors (draft-ietf-plants-merkle-tree-certs appendix) ----------------------

ACC = V["accumulated_subtree_vectors"]
ACC_N = 130
ACC_D = [bytes([i]) for i in range(ACC_N)]
ACC_STORE = build_store(ACC_D, batch=13)


def _proof_line(prefix: str, proof: list[bytes]) -> bytes:
    return (prefix + "".join(" " + p.hex() for p in proof) + "\n").encode()


def _subtree_hash(tree: TreeReader, start: int, end: int) -> bytes:
    return EMPTY_ROOT if start == end else tree.range_hash(start, end)


def test_accumulated_roots_by_size() -> None:
    tree = TreeReader(ACC_STORE, ACC_N)
    for size, want in ACC["roots_by_size"].items():
        assert tree.root_at(int(size)).hex() == want


def test_accumulated_subtree_hashes() -> None:
    tree = TreeReader(ACC_STORE, ACC_N)
    acc = sha256()
    for end in range(ACC_N + 1):
        for start in range(end + 1):
            if ref.subtree_valid(start, end):
                got = _subtree_hash(tree, start, end)
                assert got == ref.mth(ACC_D[start:end])
                acc.update(f"[{start}, {end}) {got.hex()}\n".encode())
    assert acc.hexdigest() == ACC["subtree_hash_sha256"]


def test_accumulated_subtree_inclusion() -> None:
    tree = TreeReader(ACC_STORE, ACC_N)
    acc = sha256()
    for end in range(ACC_N + 1):
        for start in range(end + 1):
            if not ref.subtree_valid(start, end):
                continue
            for index in range(start, end):
                proof = ref.path(index - start, ACC_D[start:end])
                if start == 0:  # a prefix subtree is a tree of its own: the tile-built proof must agree
                    assert inclusion_proof(tree, index, end) == proof
                acc.update(_proof_line(f"{index} [{start}, {end})", proof))
    assert acc.hexdigest() == ACC["subtree_inclusion_sha256"]


def test_accumulated_subtree_consistency() -> None:
    tree = TreeReader(ACC_STORE, ACC_N)
    acc = sha256()
    for n in range(ACC_N + 1):
        for end in range(n + 1):
            for start in range(end + 1):
                if not ref.subtree_valid(start, end):
                    continue
                proof = ref.subtree_consistency(start, end, ACC_D[:n])
                if start == 0 and end > 0:  # prefix subtrees: plain RFC 9162 consistency, tile-built
                    assert consistency_proof(tree, end, n) == proof
                acc.update(_proof_line(f"[{start}, {end}) {n}", proof))
    assert acc.hexdigest() == ACC["subtree_consistency_sha256"]
