"""Every rule test runs with a rule-state cache of 2 values per map, so each check is also exercised on state
that was evicted to the scratch file and read back (the bench and tests/e2e use the default size)."""

from __future__ import annotations

import pytest

from verifier.rules import store


@pytest.fixture(autouse=True)
def tiny_rule_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "DEFAULT_CACHE_ITEMS", 2)
