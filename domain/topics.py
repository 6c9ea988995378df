"""Where the event store finds the aggregate classes that its rows were written under.

Every stored event and snapshot names its class by *topic* (``module:qualname``, e.g.
``domain.petition:Petition.Created``); eventsourcing imports that module to decode the row. The topic is not part
of any public format (the envelope, the leaf hash and the audit bundle carry the event ``type``), but rows written
before a module moved still name the old module. Each move is recorded here as an alias, so a store written by an
older release keeps loading; new rows name the new modules. Never remove an entry while such stores may exist.
"""

from __future__ import annotations

from types import ModuleType

from eventsourcing.utils import register_topic

from domain.ballots import aggregate as ballots
from domain.housing import aggregate as housing
from domain.kindergarten import aggregate as kindergarten
from domain.petitions import aggregate as petitions
from domain.services import aggregate as services

#: Old module path -> the module that holds its aggregate classes now (domain by context, issue #18).
MOVED_MODULES: dict[str, ModuleType] = {
    "domain.service": services,
    "domain.petition": petitions,
    "domain.ballot": ballots,
    "domain.queue_kindergarten": kindergarten,
    "domain.queue_housing": housing,
}


def register_moved_modules() -> None:
    """Make every old topic resolve to the class's new home (idempotent; ``domain.core`` calls it on import)."""
    for old, module in MOVED_MODULES.items():
        register_topic(old, module)
