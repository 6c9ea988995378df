"""The row type of the registry of kinds (``domain/kinds.py``): what the rest of the domain needs to know about one
kind of aggregate, so that nothing outside the kind's own package lists the kinds by hand.

A kind is a family of streams whose events share one type prefix (``petition.*``): its aggregate classes (their
nested event classes are the kind's event types), the fold the projections keep per stream, who may cause each
event type, the part of ``state.json`` it publishes, and which of its aggregates need snapshots or guards. Each
context builds its row in ``domain/<context>/kind.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.base import EVENT_TYPES, Fold, LedgerAggregate, data_fields
from domain.identity import Permission

if TYPE_CHECKING:
    from domain.projections import Projections

#: A kind's published state of one stream: ``(projections, stream id, folded state) -> JSON value``.
Publish = Callable[["Projections", str, Mapping[str, Any]], Any]


def event_classes(aggregate: type[LedgerAggregate]) -> list[type[LedgerAggregate.Event]]:
    """The public event classes declared in ``aggregate`` (nested classes with their own ``TYPE``)."""
    return [
        v
        for v in vars(aggregate).values()
        if isinstance(v, type) and issubclass(v, LedgerAggregate.Event) and v.__dict__.get("TYPE")
    ]


@dataclass(frozen=True)
class Kind:
    """One row of the registry. Checked when built: every event type of its aggregates has the prefix and exactly
    one permission, and every permission names one of its event types."""

    #: The kind's name, as the API, the docs and the verifier say it (``kindergarten``).
    name: str
    #: The prefix of the event types written now (``kindergarten`` for ``kindergarten.offer_issued``).
    prefix: str
    #: Every aggregate class of the kind; the event classes nested in them are the kind's event types.
    aggregates: tuple[type[LedgerAggregate], ...]
    #: The fold the projections keep per stream of the kind (streams its first aggregate opens; the one-event
    #: signature streams and the voters' streams are counted by the projections instead).
    fold: Fold
    #: Event type -> who may cause it (the kind's rows of ``domain.kinds.AUTHORISATION``).
    permissions: Mapping[str, Permission]
    #: The key of the kind's part of ``state.json`` (None: it publishes none) and the value per stream.
    state_part: str | None = None
    published: Publish | None = None
    #: Prefixes the kind's events had in older logs: read (the projections give their streams the kind's fold, which
    #: must then accept those types too), never written.
    legacy_prefixes: tuple[str, ...] = ()
    #: Aggregate class -> snapshot every N events (long streams: one stream per queue or register).
    snapshot_every: Mapping[type[LedgerAggregate], int] = field(default_factory=dict)
    #: Aggregates that other streams' commands read (a signature reads its petition): changed only under their
    #: exclusive guard (domain/guards.py, ``AppCore._run``).
    guarded: tuple[type[LedgerAggregate], ...] = ()

    def __post_init__(self) -> None:
        types = self.event_types
        wrong = [t for t in types if not t.startswith(self.prefix + ".")]
        if wrong:
            raise TypeError(f"kind {self.name}: event types without the prefix {self.prefix!r}: {wrong}")
        if len(set(types)) != len(types) or set(types) != set(self.permissions):
            raise TypeError(
                f"kind {self.name}: permissions must name each event type once: "
                f"{sorted(set(types) ^ set(self.permissions))}"
            )
        if (self.state_part is None) != (self.published is None):
            raise TypeError(f"kind {self.name}: a state part needs its published function and vice versa")
        for cls in (*self.snapshot_every, *self.guarded):
            if cls not in self.aggregates:
                raise TypeError(f"kind {self.name}: {cls.__qualname__} is not one of its aggregates")

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The current prefix, then the legacy ones."""
        return (self.prefix, *self.legacy_prefixes)

    def canonical(self, event_type: str) -> str:
        """The current name of one of the kind's event types: a legacy prefix replaced by :attr:`prefix`."""
        head, _, suffix = event_type.partition(".")
        return event_type if head == self.prefix else f"{self.prefix}.{suffix}"

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(cls.TYPE for agg in self.aggregates for cls in event_classes(agg))


@dataclass(frozen=True)
class EventSpec:
    """What the log says about one event type: its kind, its ``data`` field names (``domain.base.data_fields`` of its
    class, in declaration order) and who may cause it. The verifier's own tables must equal these."""

    event_type: str
    kind: str
    event_class: type[LedgerAggregate.Event]
    data_fields: tuple[str, ...]
    permission: Permission


def check_registry(kinds: Iterable[Kind]) -> None:
    """Refuse a registry whose names, prefixes or state parts repeat, or that misses an event type of the domain."""
    kinds = list(kinds)
    for what, values in (
        ("name", [k.name for k in kinds]),
        ("prefix", [p for k in kinds for p in k.prefixes]),
        ("state part", [k.state_part for k in kinds if k.state_part is not None]),
        ("event type", [t for k in kinds for t in k.event_types]),
    ):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise TypeError(f"registry of kinds: {what} used twice: {repeated}")
    missing = sorted(set(EVENT_TYPES) - {t for k in kinds for t in k.event_types})
    if missing:
        raise TypeError(f"registry of kinds: event types of no kind: {missing}")


def event_specs(kinds: Iterable[Kind]) -> dict[str, EventSpec]:
    return {
        cls.TYPE: EventSpec(cls.TYPE, k.name, cls, data_fields(cls), k.permissions[cls.TYPE])
        for k in kinds
        for agg in k.aggregates
        for cls in event_classes(agg)
    }
