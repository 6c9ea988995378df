"""SqlTileStore gives the same tiles, roots and proofs as MemoryTileStore; tampering is visible."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from ledger.db.schema import merkle_tiles, metadata
from ledger.merkle import (
    MemoryTileStore,
    ProofError,
    SqlTileStore,
    TileReader,
    TileStore,
    TreeReader,
    TreeSizeError,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from ledger.merkle.audit import SubtreeMismatch, TileMismatch, verify_tiles
from ledger.merkle.tiles import tile_subtrees
from tests.merkle.reference import RefTree

SIZE = 1000
CUTS = [1, 2, 255, 256, 300, 511, 513, 700, SIZE]
LEAVES = [f"event {i}".encode() for i in range(SIZE)]
REF = RefTree(LEAVES)


def fill(store: TileStore) -> None:
    size = 0
    for cut in CUTS:
        size = append_leaves(store, size, [leaf_hash(x) for x in LEAVES[size:cut]])


@pytest.fixture
def sqlite_engine() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    return engine


def test_protocols() -> None:
    assert isinstance(MemoryTileStore(), TileStore)
    assert isinstance(MemoryTileStore(), TileReader)


def test_sql_equals_memory(sqlite_engine: sa.Engine) -> None:
    mem = MemoryTileStore()
    fill(mem)
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
    with sqlite_engine.connect() as conn:
        sql = SqlTileStore(conn)
        assert sql.read_tiles(mem.tiles) == mem.tiles
        widths = {(r.level, r.idx): r.width for r in conn.execute(sa.select(merkle_tiles))}
        assert widths == {k: len(v) // 32 for k, v in mem.tiles.items()}
        tree = TreeReader(sql, SIZE)
        for size in range(SIZE + 1):
            assert tree.root_at(size) == REF.mth(0, size)
        for index, size in ((0, 1), (0, SIZE), (255, 256), (256, 300), (999, SIZE), (511, 513)):
            assert inclusion_proof(sql, index, size) == inclusion_proof(mem, index, size) == REF.path(index, 0, size)
        for size1, size2 in ((1, SIZE), (256, 513), (300, 700), (513, SIZE), (SIZE, SIZE)):
            assert consistency_proof(sql, size1, size2) == REF.proof(size1, size2)


def test_rollback_leaves_nothing(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.connect() as conn:
        with conn.begin():
            append_leaves(SqlTileStore(conn), 0, [leaf_hash(b"a")])
        tx = conn.begin()
        append_leaves(SqlTileStore(conn), 1, [leaf_hash(b"b")])
        tx.rollback()
        assert SqlTileStore(conn).read_tiles([(0, 0)]) == {(0, 0): leaf_hash(b"a")}


def _tamper(conn: sa.Connection, level: int, idx: int, offset: int) -> None:
    where = (merkle_tiles.c.level == level, merkle_tiles.c.idx == idx)
    (hashes,) = conn.execute(sa.select(merkle_tiles.c.hashes).where(*where)).one()
    tampered = bytearray(hashes)
    tampered[offset] ^= 0x01
    conn.execute(sa.update(merkle_tiles).where(*where).values(hashes=bytes(tampered)))


@pytest.mark.parametrize(("level", "idx", "hash_index"), [(0, 3, 231), (1, 0, 1)])
def test_one_changed_byte_changes_the_root(sqlite_engine: sa.Engine, level: int, idx: int, hash_index: int) -> None:
    """Hashes the root is derived from: the last one of the right-edge partial level-0 tile (under the root's
    level-3 node [992, 1000), below the stored subtrees), one of the level-1 tile."""
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        before = TreeReader(SqlTileStore(conn), SIZE).root_at(SIZE)
        _tamper(conn, level, idx, hash_index * 32 + 7)
        after = TreeReader(SqlTileStore(conn), SIZE).root_at(SIZE)
        if level == 0:  # level-0 hashes are the base (this one is under no stored subtree): the changed root
            assert verify_tiles(SqlTileStore(conn), SIZE) == after
        else:
            with pytest.raises(TileMismatch):
                verify_tiles(SqlTileStore(conn), SIZE)
    assert before == REF.mth(0, SIZE)
    assert after != before


def test_changed_byte_under_a_full_tile(sqlite_engine: sa.Engine) -> None:
    """A level-0 hash under a full tile is not on the root's path: root_at (O(log n) tiles) cannot see it,
    but every inclusion proof through it fails against the true root, and verify_tiles names it."""
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        _tamper(conn, 0, 1, 5 * 32 + 7)  # leaf 261
        store = SqlTileStore(conn)
        assert TreeReader(store, SIZE).root() == REF.mth(0, SIZE)
        root = REF.mth(0, SIZE)
        with pytest.raises(ProofError):
            verify_inclusion(REF.leaf_hashes[260], 260, SIZE, inclusion_proof(store, 260, SIZE), root)
        verify_inclusion(REF.leaf_hashes[100], 100, SIZE, inclusion_proof(store, 100, SIZE), root)
        with pytest.raises(TileMismatch) as err:
            verify_tiles(store, SIZE)
        assert (err.value.level, err.value.index) == (1, 1)


def test_verify_tiles_clean(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        assert verify_tiles(SqlTileStore(conn), SIZE, batch_tiles=2) == REF.mth(0, SIZE)
    assert verify_tiles(MemoryTileStore(), 0) == REF.mth(0, 0)


def test_deleted_tile_is_an_error(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        conn.execute(sa.delete(merkle_tiles).where(merkle_tiles.c.level == 1))
        with pytest.raises(TreeSizeError):
            TreeReader(SqlTileStore(conn), SIZE).root()


def test_both_dialects(database_url: str) -> None:
    """The upsert and batched read on a SQLite file and on PostgreSQL (the `postgres` marked param)."""
    engine = sa.create_engine(database_url)
    try:
        metadata.create_all(engine, tables=[merkle_tiles])
        with engine.begin() as conn:
            fill(SqlTileStore(conn))
        with engine.connect() as conn:
            tree = TreeReader(SqlTileStore(conn), SIZE)
            assert [tree.root_at(s) for s in CUTS] == [REF.mth(0, s) for s in CUTS]
            assert inclusion_proof(tree, 700, SIZE) == REF.path(700, 0, SIZE)
    finally:
        engine.dispose()


def _set_subtrees(conn: sa.Connection, level: int, idx: int, change: Callable[[bytes], bytes | None]) -> None:
    where = (merkle_tiles.c.level == level, merkle_tiles.c.idx == idx)
    (subtrees,) = conn.execute(sa.select(merkle_tiles.c.subtrees).where(*where)).one()
    conn.execute(sa.update(merkle_tiles).where(*where).values(subtrees=change(bytes(subtrees))))


def _flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def test_stored_subtrees_are_those_of_the_tiles(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        rows = SqlTileStore(conn).read_tile_rows([(0, t) for t in range(4)] + [(1, 0)])
    assert rows and all(sub == tile_subtrees(hashes)[0] for hashes, sub in rows.values())
    assert [len(sub or b"") // 32 for _, sub in rows.values()] == [30, 30, 30, 14 + 7 + 3 + 1, 0]


def test_changed_subtree_hash(sqlite_engine: sa.Engine) -> None:
    """The height-7 node over leaves [384, 512) is read from tile 1's subtrees: changed, the proofs through it fail
    against the true root (those that do not use it still verify) and verify_tiles names the tile."""
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        # heights 4, 5, 6 of a full tile hold 16 + 8 + 4 hashes; the second height-7 hash is the 30th
        _set_subtrees(conn, 0, 1, lambda sub: _flip(sub, 29 * 32 + 3))
        store = SqlTileStore(conn)
        root = REF.mth(0, SIZE)
        with pytest.raises(ProofError):
            verify_inclusion(REF.leaf_hashes[300], 300, SIZE, inclusion_proof(store, 300, SIZE), root)
        verify_inclusion(REF.leaf_hashes[400], 400, SIZE, inclusion_proof(store, 400, SIZE), root)
        verify_inclusion(REF.leaf_hashes[100], 100, SIZE, inclusion_proof(store, 100, SIZE), root)
        with pytest.raises(SubtreeMismatch) as err:
            verify_tiles(store, SIZE)
        assert err.value.key == (0, 1)
        assert err.value.expected == tile_subtrees(store.read_tiles([(0, 1)])[(0, 1)])[0]


@pytest.mark.parametrize("change", ["null", "truncated"])
def test_tiles_without_subtrees_are_hashed(sqlite_engine: sa.Engine, change: str) -> None:
    """A row without subtrees (written before migration 0007) or with subtrees of the wrong length for its width is
    read by hashing its tile: the same roots and proofs. The audit accepts the first and names the second."""
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        for key in ((0, 0), (0, 1), (0, 3)):
            _set_subtrees(conn, *key, lambda sub: None if change == "null" else sub[:-32])
        store = SqlTileStore(conn)
        tree = TreeReader(store, SIZE)
        assert [tree.root_at(s) for s in CUTS] == [REF.mth(0, s) for s in CUTS]
        for index in (0, 300, 511, 800, 999):
            assert inclusion_proof(store, index, SIZE) == REF.path(index, 0, SIZE)
        assert consistency_proof(store, 300, SIZE) == REF.proof(300, SIZE)
        if change == "null":
            assert verify_tiles(store, SIZE) == REF.mth(0, SIZE)
        else:
            with pytest.raises(SubtreeMismatch):
                verify_tiles(store, SIZE)
