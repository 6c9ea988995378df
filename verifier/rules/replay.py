"""The rule replay: every event, in log order, through the rules of its aggregate kind (docs/domain.md).

:class:`Replay` dispatches on the type prefix, checks each event's ``data`` has exactly the documented fields,
turns a missing or mistyped field into a ``malformed_data`` violation, and computes the public state
(``state.json``'s shape: the ledger's ``public_state``) from the replayed streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from verifier.rules.ballots import BallotRules
from verifier.rules.documents import DocumentCitations
from verifier.rules.housing import HousingRules
from verifier.rules.kindergarten import KindergartenRules
from verifier.rules.model import DATA_FIELDS, Event, Malformed, Report, Violation
from verifier.rules.petitions import PetitionRules
from verifier.rules.services import ServiceRules
from verifier.rules.statecmp import materialize
from verifier.rules.store import Scratch

__all__ = ["Replay"]


class Replay:
    """The rule replay. State per citizen-made item lives in ``scratch`` (bounded caches in front of a temporary
    SQLite file, :mod:`verifier.rules.store`); :meth:`close` removes it."""

    def __init__(self, report: Report, cache_items: int | None = None) -> None:
        self.report = report
        self.scratch = scratch = Scratch(cache_items)
        self.services = ServiceRules(report)
        self.petitions = PetitionRules(report, scratch)
        self.ballots = BallotRules(report, scratch)
        # one document serves one child or one household entry: the two kinds share their citations
        self.documents = DocumentCitations(report, scratch)
        self.kindergarten = KindergartenRules(report, scratch, self.documents)
        self.housing = HousingRules(report, scratch, self.documents)
        self.by_prefix = {
            "service": self.services.handle,
            "petition": self.petitions.handle,
            "ballot": self.ballots.handle,
            "queue": self.kindergarten.handle,
            "housing": self.housing.handle,
        }
        self.events = 0
        # event type -> (its data fields, its handler), for the documented types
        self.dispatch = {t: (fields, self.by_prefix[t.partition(".")[0]]) for t, fields in DATA_FIELDS.items()}

    def apply(self, ev: Event) -> None:
        self.events += 1
        known = self.dispatch.get(ev.type)
        if known is None:
            self.report(
                Violation(ev, "unknown_type", "not an event type of docs/domain.md", "a documented type", ev.type)
            )
            return
        fields, handler = known
        if type(ev.data) is not dict and not isinstance(ev.data, dict):
            self.report(Violation(ev, "malformed_data", "data must be an object", "an object", ev.data))
            return
        if ev.data.keys() != fields:  # set equality, as set(ev.data) != fields, without building the set
            keys = set(ev.data)
            self.report(
                Violation(
                    ev,
                    "data_fields",
                    f"{ev.type} data must have exactly the documented fields",
                    sorted(fields),
                    {"missing": sorted(fields - keys), "extra": sorted(keys - fields)},
                )
            )
        try:
            handler(ev)
        except Malformed as exc:
            self.report(
                Violation(
                    ev, "malformed_data", f"data.{exc.path} is missing or has the wrong type", exc.expected, exc.found
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            self.report(Violation(ev, "malformed_data", f"data does not fit {ev.type}: {exc!r}", None, None))
        if self.scratch.overfull:
            self.scratch.maintain()

    def finish(self) -> None:
        self.petitions.finish()

    def close(self) -> None:
        self.scratch.close()

    def state_items(self, part: str) -> Iterator[tuple[str, Any]]:
        """One part of the published state the replay implies (``state.json``'s shape), one aggregate at a time,
        in key order: ``petitions``, ``ballots``, ``kindergarten`` or ``housing``."""
        parts: dict[str, Callable[[], Iterator[tuple[str, Any]]]] = {
            "petitions": self.petitions.state_items,
            "ballots": self.ballots.state_items,
            "kindergarten": self.kindergarten.state_items,
            "housing": self.housing.state_items,
        }
        return parts[part]()

    def public_state(self) -> dict[str, Any]:
        """The published state the replay implies, whole (tests; the audit streams :meth:`state_items`)."""
        parts = ("petitions", "ballots", "kindergarten", "housing")
        return {part: {k: materialize(v) for k, v in self.state_items(part)} for part in parts}
