"""The settings tree (hromada/settings.py): one read of the environment, production defined once and handed down,
every variable documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hromada.settings import VARIABLES, HromadaSettings, load
from ledger.errors import ConfigurationError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_production_is_read_once_and_handed_to_every_part_that_refuses_something() -> None:
    prod = {"HROMADA_PRODUCTION": "true", "HROMADA_LOG_KEY": "k", "HROMADA_PSEUDONYM_KEYS": "1=00"}
    prod |= {"HROMADA_VAULT_KEY": "00" * 32, "HROMADA_VAULT_URL": "sqlite://", "HROMADA_DATABASE_URL": "sqlite://"}
    tree = load(prod)
    assert tree.production and tree.ledger.production and tree.api.production
    assert not tree.api.dev_issuer_enabled()
    # the root's value wins over whatever a part was given
    assert HromadaSettings(production=False, api={"production": True}).api.production is False
    # and the part's own refusals still run on it
    with pytest.raises(ConfigurationError, match="HROMADA_LOG_KEY"):
        load({"HROMADA_PRODUCTION": "1"})
    assert load({"hromada_data_dir": "elsewhere"}).ledger.data_dir == Path("elsewhere")  # any case, as before


def test_options_override_the_environment_and_blanks_are_unset() -> None:
    env = {"HROMADA_DATA_DIR": "from-env", "HROMADA_ORIGIN": "city.example/log", "HROMADA_CHAIN_RPC_URL": " "}
    tree = load(env, ledger={"data_dir": Path("from-option")})
    assert (tree.ledger.data_dir, tree.ledger.origin) == (Path("from-option"), "city.example/log")
    assert tree.chain.config() is None
    assert tree.anchoring.config(local=True).confirmations == 1
    assert load({"HROMADA_ANCHOR_CONFIRMATIONS": "3"}).anchoring.config(local=True).confirmations == 3
    assert load({"HROMADA_ANCHOR_EVERY_MINUTES": "2"}).anchoring.config(local=False).every_seconds == 120


def test_the_readme_lists_every_variable_of_the_tree() -> None:
    table = README.read_text(encoding="utf-8").split("## Configuration (environment)", 1)[1]
    listed = set(re.findall(r"`(HROMADA_[A-Z_]+)`", table))
    assert set(VARIABLES) - listed == set()
