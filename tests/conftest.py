"""Shared fixtures: the database backends every contract test runs against (SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PostgresServer, create_database

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TESTVECTORS = SHARED / "testvectors"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("HROMADA_TEST_PG_URL")
    if url:
        yield url
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: an SQLite file, or a new database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server_url: str = request.getfixturevalue("pg_server_url")
    return create_database(server_url).replace("postgresql://", "postgresql+psycopg://")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The RFC 6962, signed-note and tiles vectors live beside the repository (../shared/testvectors). Without
    them whole test modules would find nothing to check: stop loudly instead of passing fewer tests."""
    if not (TESTVECTORS / "rfc6962.json").is_file():
        raise pytest.UsageError(f"test vectors not found at {TESTVECTORS}: clone the repository beside ../shared")
