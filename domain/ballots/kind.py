"""The ballots' row of the registry of kinds (``ballot.*``, state part ``ballots``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from domain.ballots.aggregate import Ballot, CastRecord, VoteRecord, fold_ballot
from domain.ballots.ceremony import Ceremony
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
    aggregates=(Ballot, VoteRecord, Ceremony, CastRecord),
    fold=fold_ballot,
    permissions={
        "ballot.opened": Permission("ballot:open"),
        "ballot.vote_cast": Permission(citizen=True),
        "ballot.vote_changed": Permission(citizen=True),
        "ballot.closed": Permission("ballot:close", system=True),
        "ballot.ceremony_started": Permission("ballot:open"),
        # a trustee's steps: the service must also be the ballot's named trustee (the commands check it)
        "ballot.trustee_joined": Permission("ballot:trustee"),
        "ballot.trustee_committed": Permission("ballot:trustee"),
        "ballot.trustee_verified": Permission("ballot:trustee"),
        "ballot.trustee_complained": Permission("ballot:trustee"),
        "ballot.ballot_cast": Permission(citizen=True),
        "ballot.ballot_recast": Permission(citizen=True),
        "ballot.voting_ended": Permission("ballot:close", system=True),
        "ballot.decryption_shared": Permission("ballot:trustee"),
    },
    state_part="ballots",
    published=published,
    guarded=(Ballot,),
)
