"""The petitions' row of the registry of kinds (``petition.*``, state part ``petitions``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domain.identity import Permission
from domain.petitions.aggregate import Petition, Signature, fold_petition
from domain.registry import Kind

if TYPE_CHECKING:
    from domain.projections import Projections


def published(projections: Projections, petition: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """A petition in ``state.json``: status, signatures counted so far, threshold, threshold reached, responded."""
    return {
        "status": state["status"],
        "signatures": projections.signature_count(petition),
        "threshold": state["rules"]["threshold"],
        "threshold_reached": state["threshold_reached"],
        "responded": state["responded"],
    }


KIND = Kind(
    name="petitions",
    prefix="petition",
    aggregates=(Petition, Signature),
    fold=fold_petition,
    permissions={
        "petition.created": Permission(citizen=True),
        "petition.published": Permission("petition:moderate"),
        "petition.rejected": Permission("petition:moderate"),
        "petition.signed": Permission(citizen=True),
        "petition.threshold_reached": Permission(system=True),
        "petition.responded": Permission("petition:respond"),
        "petition.response_overdue": Permission(system=True),
        "petition.closed": Permission("petition:close", system=True),
    },
    state_part="petitions",
    published=published,
    guarded=(Petition,),
)
