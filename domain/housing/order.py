"""The housing register's lists in order, computed from the register's state (no event sets a position).

Shared by the aggregate (allocations go to the first entry, removal proposals walk the general list), the
projections (the published lists) and the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.housing.rules import HOUSING_LISTS


def list_order(state: Mapping[str, Any], list_name: str) -> list[str]:
    """Active entries of a list in order: general by (registered_at, entry id); the others by
    (included_at, entry id)."""
    entries = state["entries"]
    if list_name == "general":
        ids = [eid for eid, e in entries.items() if e["status"] == "active"]
        ids.sort(key=lambda eid: (entries[eid]["registered_at"], eid))
    else:
        ids = [eid for eid, e in entries.items() if e["status"] == "active" and list_name in e["lists"]]
        ids.sort(key=lambda eid: (entries[eid]["lists"][list_name]["included_at"], eid))
    return ids


def housing_lists(state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every list of a register in order (its part of the published state)."""
    return {name: list_order(state, name) for name in HOUSING_LISTS}
