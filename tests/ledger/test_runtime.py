"""The ledger builds the city application from its settings (the domain reads none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.identity import Pseudonymizer
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.runtime import Ledger


def test_pseudonym_keys_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HROMADA_PSEUDONYM_KEYS is read here, by the ledger, and handed to CityApp (tests/domain/test_app.py checks
    that CityApp itself refuses to start without a pseudonymizer and never looks at the environment)."""
    keys = f"1={'ab' * 32}"
    monkeypatch.delenv("HROMADA_PRODUCTION", raising=False)
    monkeypatch.setenv("HROMADA_PSEUDONYM_KEYS", keys)
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        pseudonymizer = ledger.app.pseudonymizer  # type: ignore[attr-defined]
        assert pseudonymizer.current == 1
        assert pseudonymizer.citizen("diia:1") == Pseudonymizer.from_text(keys).citizen("diia:1")
    assert not (tmp_path / "pseudonym.keys").exists()  # the setting was used, nothing generated

    # without keys: a production ledger refuses to start
    monkeypatch.delenv("HROMADA_PSEUDONYM_KEYS")
    with pytest.raises(ConfigurationError, match="HROMADA_PSEUDONYM_KEYS"):
        Settings(
            data_dir=tmp_path,
            production=True,
            log_key="unused",
            database_url="sqlite://",
            vault_key="00" * 32,
            vault_url="sqlite://",
        )
    # a development ledger generates its keys once, 0600, and uses them
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        citizen = ledger.app.pseudonymizer.citizen("diia:1")  # type: ignore[attr-defined]
        generated = (tmp_path / "pseudonym.keys").read_text().strip()
        assert (tmp_path / "pseudonym.keys").stat().st_mode & 0o777 == 0o600
        assert citizen == Pseudonymizer.from_text(generated).citizen("diia:1")
