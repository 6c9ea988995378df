"""merkle_tiles.subtrees: the hashes of each tile's complete nodes at in-tile heights 4..7, so that an inclusion
or consistency proof hashes at most 7 times per node instead of up to 127 (ledger.merkle.tiles.tile_subtrees).

Existing tiles are filled in here from their hashes (derived data, nothing else read); a row left NULL would still
be read correctly, by hashing its tile as before.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.merkle.tiles import tile_subtrees

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("merkle_tiles", sa.Column("subtrees", sa.LargeBinary, nullable=True))
    conn = op.get_bind()
    tiles = sa.table("merkle_tiles", sa.column("level"), sa.column("idx"), sa.column("hashes"), sa.column("subtrees"))
    after = (-1, -1)
    while True:
        rows = conn.execute(
            sa.select(tiles.c.level, tiles.c.idx, tiles.c.hashes)
            .where(sa.tuple_(tiles.c.level, tiles.c.idx) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
            .order_by(tiles.c.level, tiles.c.idx)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            sa.update(tiles)
            .where(tiles.c.level == sa.bindparam("k_level"), tiles.c.idx == sa.bindparam("k_idx"))
            .values(subtrees=sa.bindparam("v_subtrees")),
            [{"k_level": r[0], "k_idx": r[1], "v_subtrees": tile_subtrees(bytes(r[2]))[0]} for r in rows],
        )
        after = (int(rows[-1][0]), int(rows[-1][1]))


def downgrade() -> None:
    op.drop_column("merkle_tiles", "subtrees")
