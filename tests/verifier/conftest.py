"""tests/verifier's factory bundles are byte-level test logs, not domain histories (docs/domain.md): steps 4 and 5
are reported NOT RUN for them; the rules are tested in tests/verifier_rules/."""

from __future__ import annotations

import pytest

import verifier.steps.defaults
from verifier.rules.steps import skipped_rule_steps


@pytest.fixture(autouse=True)
def _no_rule_replay_on_factory_bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        verifier.steps.defaults,
        "rule_steps",
        lambda rules=True, cache_items=None: skipped_rule_steps("skipped: not a domain history"),
    )
