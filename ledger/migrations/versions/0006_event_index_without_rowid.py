"""event_index as a clustered table on SQLite (WITHOUT ROWID): one B-tree keyed by event id instead of a rowid
table plus a separate primary-key index, so the integrator's random-key inserts touch half the pages.

Rows are copied as they are; PostgreSQL has no rowid tables and is left unchanged.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rebuild(without_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    suffix = " WITHOUT ROWID" if without_rowid else ""
    op.execute(
        "CREATE TABLE event_index_new (event_id BLOB NOT NULL, leaf_index INTEGER NOT NULL, "
        f"PRIMARY KEY (event_id)){suffix}"
    )
    op.execute("INSERT INTO event_index_new (event_id, leaf_index) SELECT event_id, leaf_index FROM event_index")
    op.execute("DROP TABLE event_index")
    op.execute("ALTER TABLE event_index_new RENAME TO event_index")


def upgrade() -> None:
    _rebuild(without_rowid=True)


def downgrade() -> None:
    _rebuild(without_rowid=False)
