"""Issue #17 item 7: `postgresql://` URLs use the installed driver (psycopg 3), `python -m ledger.cli.main`
points to `hromada`, the README's configuration table names HROMADA_HOST and HROMADA_PORT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.config import Settings, with_installed_driver
from ledger.runtime import Ledger
from tests.pg import create_database

ROOT = Path(__file__).resolve().parents[2]


def test_plain_postgresql_urls_name_the_installed_driver() -> None:
    assert with_installed_driver("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert with_installed_driver("postgres://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert with_installed_driver("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"  # named: kept
    assert with_installed_driver("sqlite:///x.db") == "sqlite:///x.db"
    s = Settings(data_dir=Path("d"), database_url="postgresql://u@h/db", vault_url="postgresql://u@h/vault")
    assert s.resolved_database_url() == "postgresql+psycopg://u@h/db"
    assert s.resolved_vault_url() == "postgresql+psycopg://u@h/vault"
    locked = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    assert "\npsycopg==" in locked and "psycopg2" not in locked  # the driver the URL is normalised to


@pytest.mark.postgres
def test_the_readme_example_url_opens_a_ledger(pg_server_url: str, tmp_path: Path) -> None:
    url = create_database(pg_server_url)
    assert url.startswith("postgresql://")  # as the README writes it, no driver named
    with Ledger(Settings(data_dir=tmp_path, database_url=url)) as ledger:
        assert ledger.status().tree_size == 0
    engine = create_engine(with_installed_driver(url))
    with engine.connect() as conn:
        assert conn.execute(text("select 1")).scalar() == 1
    engine.dispose()


def test_python_m_ledger_cli_main_points_to_hromada() -> None:
    run = subprocess.run([sys.executable, "-m", "ledger.cli.main"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "`hromada`" in run.stderr and "python -m hromada" in run.stderr


def test_readme_configuration_table_names_host_and_port() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration") :]
    assert "`HROMADA_HOST`" in table and "`HROMADA_PORT`" in table
