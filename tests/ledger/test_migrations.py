"""The Alembic migrations produce exactly the tables the code declares (ledger + anchoring), on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import anchoring.schema  # noqa: F401 - registers the anchoring tables on the shared metadata
import api.schema  # noqa: F401 - and the HTTP layer's
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.db.schema import metadata


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
