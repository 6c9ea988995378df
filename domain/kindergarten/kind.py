"""The kindergarten queue's row of the registry of kinds (``kindergarten.*``, state part ``kindergarten``).

Envelope format 1 wrote these events as ``queue.*`` (the prefix predated the other queues). Format 2 writes
``kindergarten.*``; the old prefix stays in ``legacy_prefixes`` so logs with format-1 events still load and fold
(the projections hand the fold the current name, :meth:`domain.registry.Kind.canonical`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domain.identity import Permission
from domain.kindergarten.aggregate import KindergartenQueue, fold_kindergarten
from domain.kindergarten.order import kindergarten_orders
from domain.registry import Kind

if TYPE_CHECKING:
    from domain.projections import Projections


def published(projections: Projections, queue: str, state: Mapping[str, Any]) -> dict[str, list[str]]:
    """A queue in ``state.json``: every non-empty group ``"<institution>/<birth year>"`` -> ordered entry ids."""
    return kindergarten_orders(state)


KIND = Kind(
    name="kindergarten",
    prefix="kindergarten",
    legacy_prefixes=("queue",),
    aggregates=(KindergartenQueue,),
    fold=fold_kindergarten,
    permissions={
        "kindergarten.created": Permission("queue:kindergarten:admin"),
        "kindergarten.entry_registered": Permission("queue:kindergarten:register", citizen=True),
        "kindergarten.benefit_granted": Permission("queue:kindergarten:benefit"),
        "kindergarten.benefit_revoked": Permission("queue:kindergarten:benefit"),
        "kindergarten.preferences_changed": Permission("queue:kindergarten:register", citizen=True),
        "kindergarten.offer_issued": Permission("queue:kindergarten:offer", system=True),  # the clock passes a place on
        "kindergarten.offer_accepted": Permission("queue:kindergarten:offer", citizen=True),
        "kindergarten.offer_declined": Permission("queue:kindergarten:offer", citizen=True),
        "kindergarten.offer_expired": Permission("queue:kindergarten:offer", system=True),
        "kindergarten.entry_withdrawn": Permission("queue:kindergarten:register", citizen=True),
        "kindergarten.entry_removed": Permission("queue:kindergarten:remove"),
    },
    state_part="kindergarten",
    published=published,
    snapshot_every={KindergartenQueue: 200},
)
