"""SQL storage for the personal-data vault (domain.pii.KeyValueStore), in its own database.

The vault lives apart from the public log (default: <data_dir>/vault.db) so that erasing a subject
(crypto-shredding: its data key is deleted) never touches the log, and the log can be published and backed up
without personal data. Its single key-value table never changes shape; it is created if missing (the
documented equivalent of a migration for this store).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, delete, select

from ledger.db.engine import make_engine

vault_metadata = MetaData()
vault_items = Table(
    "vault_items",
    vault_metadata,
    Column("key", String(512), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)


class SqlKeyValueStore:
    """Durable key-value store: every put/delete commits before returning."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        vault_metadata.create_all(engine)

    @classmethod
    def open(cls, url: str) -> SqlKeyValueStore:
        return cls(make_engine(url))

    def get(self, key: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(vault_items.c.value).where(vault_items.c.key == key)).first()
        return None if row is None else bytes(row[0])

    def put(self, key: str, value: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(vault_items).where(vault_items.c.key == key))
            conn.execute(vault_items.insert().values(key=key, value=bytes(value)))

    def delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(vault_items).where(vault_items.c.key == key))

    def keys(self, prefix: str) -> Iterator[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(vault_items.c.key).where(vault_items.c.key.like(escaped + "%", escape="\\"))
            ).all()
        return iter([r[0] for r in rows])

    def close(self) -> None:
        self.engine.dispose()
