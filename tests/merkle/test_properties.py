"""Hypothesis: the tile-built tree equals the naive RFC 9162 reference for random sizes and batch splits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    MemoryTileStore,
    ProofError,
    TreeReader,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle.reference import RefTree


def flip(b: bytes, bit: int) -> bytes:
    return bytes(x ^ (1 << (bit % 8)) if i == bit // 8 else x for i, x in enumerate(b))


@st.composite
def log_and_splits(draw: st.DrawFn, max_size: int = 3000) -> tuple[list[bytes], list[int]]:
    size = draw(st.integers(min_value=1, max_value=max_size))
    leaves = [f"entry-{i}".encode() for i in range(size)]
    cuts = sorted(set(draw(st.lists(st.integers(min_value=1, max_value=size), max_size=12))) | {size})
    return leaves, cuts


def build(leaves: list[bytes], cuts: list[int], ref: RefTree) -> MemoryTileStore:
    store = MemoryTileStore()
    size = 0
    for cut in cuts:
        size = append_leaves(store, size, ref.leaf_hashes[size:cut])
        assert size == cut
        assert TreeReader(store, size).root() == ref.mth(0, size)
    return store


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(log_and_splits())
def test_root_at_every_size(data: tuple[list[bytes], list[int]]) -> None:
    leaves, cuts = data
    ref = RefTree(leaves)
    store = build(leaves, cuts, ref)
    tree = TreeReader(store, len(leaves))
    assert tree.root_at(0) == EMPTY_ROOT
    for size in range(1, len(leaves) + 1):
        assert tree.root_at(size) == ref.mth(0, size), size


@SETTINGS
@given(log_and_splits(), st.data())
def test_inclusion_proofs(data: tuple[list[bytes], list[int]], pick: st.DataObject) -> None:
    leaves, cuts = data
    ref = RefTree(leaves)
    store = build(leaves, cuts, ref)
    n = len(leaves)
    for k in range(6):
        size = pick.draw(st.integers(min_value=1, max_value=n))
        index = pick.draw(st.integers(min_value=0, max_value=size - 1))
        proof = inclusion_proof(store, index, size)
        assert proof == ref.path(index, 0, size)
        root, leaf = ref.mth(0, size), ref.leaf_hashes[index]
        verify_inclusion(leaf, index, size, proof, root)
        # every single-bit flip of a proof hash, the root or the leaf fails (all bits for the first proof)
        bits = range(256) if k == 0 else [pick.draw(st.integers(0, 255))]
        for bit in bits:
            for j in range(len(proof)):
                bad = [*proof[:j], flip(proof[j], bit), *proof[j + 1 :]]
                with pytest.raises(ProofError):
                    verify_inclusion(leaf, index, size, bad, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, proof, flip(root, bit))
            with pytest.raises(ProofError):
                verify_inclusion(flip(leaf, bit), index, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [*proof, root], root)
        if proof:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, proof[:-1], root)


@SETTINGS
@given(log_and_splits(), st.data())
def test_consistency_proofs(data: tuple[list[bytes], list[int]], pick: st.DataObject) -> None:
    leaves, cuts = data
    ref = RefTree(leaves)
    store = build(leaves, cuts, ref)
    n = len(leaves)
    for k in range(6):
        size2 = pick.draw(st.integers(min_value=1, max_value=n))
        size1 = pick.draw(st.integers(min_value=1, max_value=size2))
        proof = consistency_proof(store, size1, size2)
        assert proof == ref.proof(size1, size2)
        root1, root2 = ref.mth(0, size1), ref.mth(0, size2)
        verify_consistency(size1, size2, proof, root1, root2)
        bits = range(256) if k == 0 else [pick.draw(st.integers(0, 255))]
        for bit in bits:
            for j in range(len(proof)):
                bad = [*proof[:j], flip(proof[j], bit), *proof[j + 1 :]]
                with pytest.raises(ProofError):
                    verify_consistency(size1, size2, bad, root1, root2)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof, flip(root1, bit), root2)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof, root1, flip(root2, bit))
        if proof:
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof[:-1], root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, [*proof, root1], root1, root2)


def test_large_tree_spanning_three_tile_levels() -> None:
    """70000 leaves (the spec's example size): every tile level, sampled proofs against the reference."""
    leaves = [i.to_bytes(4, "big") for i in range(70000)]
    ref = RefTree(leaves)
    store = build(leaves, [1, 255, 256, 257, 65535, 65536, 65537, 70000], ref)
    tree = TreeReader(store, 70000)
    for size in (1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 69999, 70000):
        assert tree.root_at(size) == ref.mth(0, size)
    for index, size in ((0, 70000), (65535, 70000), (65536, 70000), (69999, 70000), (300, 65537)):
        assert inclusion_proof(tree, index, size) == ref.path(index, 0, size)
    for size1, size2 in ((1, 70000), (256, 70000), (65535, 65537), (65536, 70000), (777, 69999)):
        assert consistency_proof(tree, size1, size2) == ref.proof(size1, size2)
