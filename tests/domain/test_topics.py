"""Stored rows name their classes by topic (module:qualname): topics of the modules before they moved still load."""

from __future__ import annotations

from eventsourcing.utils import get_topic, resolve_topic

import domain.app  # noqa: F401  (imports every aggregate module and registers the moved modules)
from domain.ballots.ceremony import CEREMONY_TYPES
from domain.base import EVENT_TYPES
from domain.topics import MOVED_MODULES

#: Every event type's aggregate module before domain by context (issue #18): what existing stores name.
BEFORE = {
    "service": "domain.service",
    "petition": "domain.petition",
    "ballot": "domain.ballot",
    "kindergarten": "domain.queue_kindergarten",  # queue.* then
    "housing": "domain.queue_housing",
}


#: Event types born after the move (no stored row names an old module for them): the key ceremony's, in
#: ``domain/ballots/ceremony.py`` (issue #13), the rule sets and the erasures (issue #15).
NEWER = frozenset({*CEREMONY_TYPES, "ruleset.published", "personal_data.erased"})


def test_every_event_class_resolves_from_its_old_topic() -> None:
    for type_, cls in EVENT_TYPES.items():
        if type_ in NEWER:
            continue
        old = f"{BEFORE[type_.split('.')[0]]}:{cls.__qualname__}"
        assert resolve_topic(old) is cls, type_
        assert get_topic(cls) != old, type_  # new rows name the new module
        owner = resolve_topic(old.rsplit(".", 1)[0])  # the aggregate class (snapshots name it)
        assert cls.__qualname__ == f"{owner.__qualname__}.{cls.__name__}", type_


def test_every_old_module_is_aliased() -> None:
    assert set(MOVED_MODULES) == set(BEFORE.values())
