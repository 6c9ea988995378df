"""The erasures' row of the registry of kinds (``personal_data.*``; publishes no state part: the entry views and the
receipt page read the erased subjects from the projections)."""

from __future__ import annotations

from domain.identity import Permission
from domain.personal_data.aggregate import Erasure, fold_erasure
from domain.registry import Kind

KIND = Kind(
    name="personal_data",
    prefix="personal_data",
    aggregates=(Erasure,),
    fold=fold_erasure,
    permissions={"personal_data.erased": Permission("pii:erase", system=True)},
)
