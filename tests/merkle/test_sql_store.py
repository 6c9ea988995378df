"""SqlTileStore gives the same tiles, roots and proofs as MemoryTileStore; tampering is visible."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ledger.db.schema import merkle_tiles, metadata
from ledger.merkle import (
    MemoryTileStore,
    MerkleError,
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
from ledger.merkle.audit import TileMismatch, verify_tiles
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


@pytest.mark.parametrize(("level", "idx"), [(0, 3), (1, 0)])
def test_one_changed_byte_changes_the_root(sqlite_engine: sa.Engine, level: int, idx: int) -> None:
    """Tiles on the root's path: the right-edge partial level-0 tile, the level-1 tile."""
    with sqlite_engine.begin() as conn:
        fill(SqlTileStore(conn))
        before = TreeReader(SqlTileStore(conn), SIZE).root_at(SIZE)
        _tamper(conn, level, idx, 1 * 32 + 7)
        after = TreeReader(SqlTileStore(conn), SIZE).root_at(SIZE)
        if level == 0:  # level-0 hashes are the base: the audit returns the changed root
            assert verify_tiles(SqlTileStore(conn), SIZE) == after
        else:
            with pytest.raises(MerkleError):
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
