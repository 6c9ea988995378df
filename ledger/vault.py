"""SQL storage for the personal-data vault (domain.pii.KeyValueStore), in its own database.

The vault lives apart from the public log (default: <data_dir>/vault.db) so that erasing a subject
(crypto-shredding: its data key is deleted) never touches the log, and the log can be published and backed up
without personal data. Its single key-value table never changes shape; it is created if missing (the
documented equivalent of a migration for this store).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, select

from ledger.db.engine import IdleConnections, make_engine

vault_metadata = MetaData()
vault_items = Table(
    "vault_items",
    vault_metadata,
    Column("key", String(512), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)


class SqlKeyValueStore:
    """Durable key-value store: every put/delete commits before returning.

    Reads and writes run as positional SQL on a DB-API connection kept between calls (ledger/db/engine.py
    ``IdleConnections``: the pool's, detached, with the engine's pragmas), so a sealed record is one lookup and one
    write without SQLAlchemy's statement compilation or pool checkouts, each of which cost more than the SQL.
    ``put_many`` is one upsert transaction: all of its items or none."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conns = IdleConnections(engine)
        vault_metadata.create_all(engine)
        m = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._m = m
        self._upsert = (
            f"INSERT INTO vault_items (key, value) VALUES ({m}, {m}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )

    @classmethod
    def open(cls, url: str) -> SqlKeyValueStore:
        return cls(make_engine(url))

    def get(self, key: str) -> bytes | None:
        return self.get_many((key,))[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of `keys` (None where absent), in one query."""
        if not keys:
            return []
        marks = ", ".join([self._m] * len(keys))
        raw = self._conns.take()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(f"SELECT key, value FROM vault_items WHERE key IN ({marks})", tuple(keys))
                found = {k: bytes(v) for k, v in cursor.fetchall()}  # fetched in full: no read transaction left
            finally:
                cursor.close()
        finally:
            self._conns.give(raw)
        return [found.get(k) for k in keys]

    def put(self, key: str, value: bytes) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Write every item (replacing a value held under its key) in one transaction, committed before returning."""
        if not items:
            return
        self._write(self._upsert, [(k, bytes(v)) for k, v in items])

    def delete(self, key: str) -> None:
        self._write(f"DELETE FROM vault_items WHERE key = {self._m}", [(key,)])

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        raw = self._conns.take()
        try:
            cursor = raw.cursor()
            try:
                cursor.executemany(sql, rows)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cursor.close()
        finally:
            self._conns.give(raw)  # committed or rolled back

    def keys(self, prefix: str) -> Iterator[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(vault_items.c.key).where(vault_items.c.key.like(escaped + "%", escape="\\"))
            ).all()
        return iter([r[0] for r in rows])

    def close(self) -> None:
        self._conns.close()
        self.engine.dispose()
