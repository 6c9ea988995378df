"""Gas bounds of issue #4 (a correctness bound on the contract's cost, not a timing), measured on anvil."""

from __future__ import annotations

import statistics

import pytest

from bench.anchoring import PER_LOG_BOUND, SINGLE_BOUND, measure
from tests.anchoring.conftest import needs_anvil

pytestmark = [pytest.mark.slow, needs_anvil]


def test_gas_within_issue_bounds() -> None:
    m = measure(rounds=5, batch=100)
    single = statistics.median(m["single"])
    per_log = m["batch"] / m["batch_size"]
    print(f"anchor(): {single:.0f} gas; anchorBatch(100): {per_log:.1f} gas/log; deploy {m['deploy']} gas")
    assert single <= SINGLE_BOUND, f"single anchor {single} gas > {SINGLE_BOUND}"
    assert per_log <= PER_LOG_BOUND, f"batch {per_log} gas/log > {PER_LOG_BOUND}"
