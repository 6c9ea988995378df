"""The kindergarten queue's row of the registry of kinds (``queue.*``, state part ``kindergarten``).

The prefix ``queue`` predates the other queues and means kindergarten; renaming it to ``kindergarten.*`` is a
format change (a version bump, the old prefix kept in ``legacy_prefixes`` for old logs), not done here.
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
    prefix="queue",
    aggregates=(KindergartenQueue,),
    fold=fold_kindergarten,
    permissions={
        "queue.created": Permission("queue:kindergarten:admin"),
        "queue.entry_registered": Permission("queue:kindergarten:register", citizen=True),
        "queue.benefit_granted": Permission("queue:kindergarten:benefit"),
        "queue.benefit_revoked": Permission("queue:kindergarten:benefit"),
        "queue.preferences_changed": Permission("queue:kindergarten:register", citizen=True),
        "queue.offer_issued": Permission("queue:kindergarten:offer"),
        "queue.offer_accepted": Permission("queue:kindergarten:offer", citizen=True),
        "queue.offer_declined": Permission("queue:kindergarten:offer", citizen=True),
        "queue.offer_expired": Permission("queue:kindergarten:offer", system=True),
        "queue.entry_withdrawn": Permission("queue:kindergarten:register", citizen=True),
        "queue.entry_removed": Permission("queue:kindergarten:remove"),
    },
    state_part="kindergarten",
    published=published,
    snapshot_every={KindergartenQueue: 200},
)
