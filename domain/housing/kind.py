"""The housing register's row of the registry of kinds (``housing.*``, state part ``housing``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domain.housing.aggregate import HousingRegister, fold_housing
from domain.housing.order import housing_lists
from domain.identity import Permission
from domain.registry import Kind

if TYPE_CHECKING:
    from domain.projections import Projections


def published(projections: Projections, register: str, state: Mapping[str, Any]) -> dict[str, list[str]]:
    """A register in ``state.json``: its three lists in order."""
    return housing_lists(state)


KIND = Kind(
    name="housing",
    prefix="housing",
    aggregates=(HousingRegister,),
    fold=fold_housing,
    permissions={
        "housing.register_opened": Permission("queue:housing:admin"),
        "housing.entry_registered": Permission("queue:housing:register", citizen=True),
        "housing.list_included": Permission("queue:housing:lists"),
        "housing.list_excluded": Permission("queue:housing:lists"),
        "housing.reregistered": Permission("queue:housing:register", citizen=True),
        "housing.removal_proposed": Permission("queue:housing:remove", system=True),
        "housing.entry_removed": Permission("queue:housing:remove"),
        "housing.dwelling_allocated": Permission("queue:housing:allocate"),
    },
    state_part="housing",
    published=published,
    snapshot_every={HousingRegister: 200},
)
