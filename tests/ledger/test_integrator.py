"""The integrator turns committed events into gapless Merkle leaves, exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text, update

from ledger.app import events_table_name, open_application
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.db.schema import merkle_tiles
from ledger.envelope import event_id
from ledger.errors import IntegrationError
from ledger.integrator import Integrator
from ledger.leafmap import leaf_index_of, leaf_index_of_event, notification_of
from ledger.merkle.audit import SubtreeMismatch, verify_tiles
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tree import TreeReader
from tests.ledger.sample import NotesApp
from tests.merkle.reference import mth

ORIGIN = "test.local/log"


@pytest.fixture
def setup(database_url: str) -> Iterator[tuple[NotesApp, Integrator]]:
    engine = make_engine(database_url)
    upgrade(engine)
    app = open_application(NotesApp, database_url=database_url, origin=ORIGIN)
    integrator = Integrator(engine, origin=ORIGIN, events_table=events_table_name(app), batch=7)
    yield app, integrator
    app.close()
    engine.dispose()


def stored_leaves(app: NotesApp) -> list[bytes]:
    """The raw leaf entries: each stored event state, in notification order."""
    return [r.state for r in app.recorder.select_notifications(start=1, limit=100_000)]


def tree_root(integrator: Integrator, size: int | None = None) -> bytes:
    with integrator.engine.connect() as conn:
        st = integrator.state() if size is None else None
        return TreeReader(SqlTileStore(conn), size if size is not None else st.tree_size).root()  # type: ignore[union-attr]


def test_every_committed_event_becomes_one_leaf_in_commit_order(setup: tuple[NotesApp, Integrator]) -> None:
    app, integrator = setup
    for i in range(30):
        note = app.write(f"n{i}")
        if i % 3 == 0:
            note.edit(f"n{i}'")
            app.save(note)
    assert integrator.pending() == 40
    assert integrator.integrate_once() == 7
    assert integrator.integrate_all() == 33
    assert integrator.integrate_once() == 0
    leaves = stored_leaves(app)
    assert integrator.state().tree_size == len(leaves) == 40
    assert tree_root(integrator) == mth(leaves)
    for size in (1, 7, 8, 33):
        assert tree_root(integrator, size) == mth(leaves[:size])
    with integrator.engine.connect() as conn:
        ids = [n.id for n in app.recorder.select_notifications(start=1, limit=100)]
        assert [leaf_index_of(conn, nid) for nid in ids] == list(range(40))
        assert [notification_of(conn, i) for i in range(40)] == ids
        assert leaf_index_of(conn, ids[-1] + 1) is None and notification_of(conn, 40) is None
        streams = [
            (n.originator_id, n.originator_version) for n in app.recorder.select_notifications(start=1, limit=100)
        ]
        assert [leaf_index_of_event(conn, event_id(s, v)) for s, v in streams] == list(range(40))


def test_notification_id_gaps_do_not_make_leaf_gaps(setup: tuple[NotesApp, Integrator]) -> None:
    app, integrator = setup
    app.write("a")
    app.write("b")
    app.write("c")
    table = events_table_name(app)
    with integrator.engine.begin() as conn:  # what a rolled-back sequence value leaves: a gap before integration
        conn.execute(text(f"DELETE FROM {table} WHERE id = 2"))
    integrator.integrate_all()
    assert integrator.state().tree_size == 2
    assert tree_root(integrator) == mth(stored_leaves(app))
    with integrator.engine.connect() as conn:
        assert [leaf_index_of(conn, nid) for nid in (1, 2, 3)] == [0, None, 1]
        assert [notification_of(conn, i) for i in (0, 1)] == [1, 3]


def test_concurrent_integrators_never_duplicate_or_lose_a_leaf(setup: tuple[NotesApp, Integrator]) -> None:
    app, integrator = setup
    for i in range(60):
        app.write(str(i))
    rivals = [
        Integrator(integrator.engine, origin=ORIGIN, events_table=events_table_name(app), batch=5) for _ in range(3)
    ]
    errors: list[BaseException] = []

    def work(it: Integrator) -> None:
        for _ in range(200):
            try:
                if it.integrate_once() == 0 and it.state().tree_size == 60:
                    return
            except (IntegrationError, Exception) as e:  # losers roll back and retry
                errors.append(e)

    threads = [threading.Thread(target=work, args=(r,)) for r in rivals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert integrator.state().tree_size == 60
    assert tree_root(integrator) == mth(stored_leaves(app))


def test_one_changed_stored_event_byte_changes_the_recomputed_root(setup: tuple[NotesApp, Integrator]) -> None:
    app, integrator = setup
    for i in range(20):
        app.write(f"n{i}")
    integrator.integrate_all()
    signed_root = tree_root(integrator)
    table = events_table_name(app)
    with integrator.engine.begin() as conn:
        state = conn.execute(text(f"SELECT state FROM {table} WHERE id = 11")).scalar_one()
        forged = bytes(state).replace(b"n10", b"n1O")
        conn.execute(text(f"UPDATE {table} SET state = :s WHERE id = 11"), {"s": forged})
    assert mth(stored_leaves(app)) != signed_root


def test_one_changed_tile_hash_byte_changes_the_root(setup: tuple[NotesApp, Integrator]) -> None:
    app, integrator = setup
    for i in range(20):
        app.write(f"n{i}")
    integrator.integrate_all()
    before = tree_root(integrator)
    with integrator.engine.begin() as conn:
        tile = bytes(conn.execute(select(merkle_tiles.c.hashes).where(merkle_tiles.c.level == 0)).scalar_one())
        # the root of 20 leaves is H(node over [0, 16), node over [16, 20)): the first is read from the tile's
        # stored subtrees (height 4), the second is hashed from leaf hashes 16..19; change leaf hash 19
        flipped = tile[: 19 * 32] + bytes([tile[19 * 32] ^ 1]) + tile[19 * 32 + 1 :]
        conn.execute(update(merkle_tiles).where(merkle_tiles.c.level == 0).values(hashes=flipped))
    assert tree_root(integrator) != before
    with integrator.engine.begin() as conn:  # leaf hash 0 is under the stored subtrees: they no longer agree
        flipped = bytes([tile[0] ^ 1]) + tile[1:]
        conn.execute(update(merkle_tiles).where(merkle_tiles.c.level == 0).values(hashes=flipped))
        with pytest.raises(SubtreeMismatch):
            verify_tiles(SqlTileStore(conn), 20)
