"""``CityApp``: the application layer the HTTP API calls, composed of one command mixin per context.

There is ONE eventsourcing ``Application`` (one event store, one atomic save per command, one notification log):
:class:`domain.core.AppCore` holds the plumbing (load, decide, save, guards, the writer's sequencer, authorisation,
the vault), and each context adds its commands over it (``domain/<context>/commands.py``). A command of one context
never calls another context's commands; what they share is the core.

Constructed by the composition root with its infrastructure (``env``), pseudonymizer and vault (ledger/runtime.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.domain import MutableOrImmutableAggregate

from domain.ballots.commands import BallotCommands
from domain.core import project
from domain.housing.commands import HousingCommands
from domain.kindergarten.commands import KindergartenCommands
from domain.kinds import KINDS
from domain.personal_data.commands import PersonalDataCommands
from domain.petitions.commands import PetitionCommands
from domain.rulesets.commands import RuleSetCommands
from domain.services.commands import ServiceCommands


class CityApp(
    ServiceCommands,
    RuleSetCommands,
    PetitionCommands,
    BallotCommands,
    KindergartenCommands,
    HousingCommands,
    PersonalDataCommands,
):
    """Every command of every context on one application (the name fixes the event tables: ``cityapp_*``)."""

    name = "CityApp"
    #: Snapshot the long streams (one per queue or register) as their kinds say.
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {
        cls: every for kind in KINDS for cls, every in kind.snapshot_every.items()
    }
    snapshotting_projectors: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], Any]] = dict.fromkeys(
        snapshotting_intervals, project
    )
