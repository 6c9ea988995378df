"""The ballots' row of the registry of kinds (``ballot.*``, state part ``ballots``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domain.ballots.aggregate import Ballot, VoteRecord, fold_ballot
from domain.identity import Permission
from domain.registry import Kind

if TYPE_CHECKING:
    from domain.projections import Projections


def published(projections: Projections, ballot: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """A ballot in ``state.json``: status and, once closed, the tally its ``ballot.closed`` carries."""
    return {"status": state["status"], "tally": state.get("tally")}


KIND = Kind(
    name="ballots",
    prefix="ballot",
    aggregates=(Ballot, VoteRecord),
    fold=fold_ballot,
    permissions={
        "ballot.opened": Permission("ballot:open"),
        "ballot.vote_cast": Permission(citizen=True),
        "ballot.vote_changed": Permission(citizen=True),
        "ballot.closed": Permission("ballot:close", system=True),
    },
    state_part="ballots",
    published=published,
    guarded=(Ballot,),
)
