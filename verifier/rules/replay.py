"""The rule replay: every event, in log order, through the rules of its aggregate kind (docs/domain.md, the
registry :mod:`verifier.kinds`).

:class:`Replay` dispatches on the type prefix, checks each event's ``data`` has exactly the documented fields,
turns a missing or mistyped field into a ``malformed_data`` violation, and computes the public state
(``state.json``'s shape: the ledger's ``public_state``) from the replayed streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from verifier.kinds import KINDS, rules_class
from verifier.rules.documents import DocumentCitations
from verifier.rules.model import Event, Malformed, Report, Violation
from verifier.rules.statecmp import materialize
from verifier.rules.store import Scratch
from verifier.spill import ScratchFile

__all__ = ["Replay"]


def _ignore(violation: Violation) -> None:
    """The report of a quiet kind's rules (:class:`Replay` ``quiet``)."""


class Replay:
    """The rule replay. State per citizen-made item lives in ``scratch`` (bounded caches in front of a temporary
    SQLite file, :mod:`verifier.rules.store`); :meth:`close` removes it. The kinds, their rules, event types and
    data fields are the registry's (:mod:`verifier.kinds`)."""

    def __init__(
        self,
        report: Report,
        cache_items: int | None = None,
        file: ScratchFile | None = None,
        quiet: frozenset[str] = frozenset(),
    ) -> None:
        """``quiet``: the kinds (names) replayed only for the answers their rules give other kinds' rules (the rule
        worker's copy of the rule sets, :data:`verifier.kinds.RULE_WORKER_SHARED`): their findings are dropped and
        they count no event and no aggregate (the main process reports and counts them)."""
        self.report = report
        self.scratch = scratch = Scratch(cache_items, file)
        # one document serves one child or one household entry: the kinds that cite documents share their citations
        self.documents = DocumentCitations(report, scratch)
        self.quiet = quiet
        self.quiet_prefixes = frozenset(p for k in KINDS if k.name in quiet for p in k.prefixes)
        #: kind name -> its rules
        self.rules: dict[str, Any] = {}
        for k in KINDS:
            cls = rules_class(k.rules)
            told = _ignore if k.name in quiet else report
            self.rules[k.name] = cls(told, scratch, self.documents) if k.cites_documents else cls(told, scratch)
        for k in KINDS:
            for other in k.reads:
                self.rules[k.name].read(other, self.rules[other])
        self.events = 0
        # (canonical) event type -> (its data fields, its handler), for the documented types
        self.dispatch = {
            f"{k.prefix}.{suffix}": (row.fields, row.alternatives, self.rules[k.name].handle, k.name in quiet)
            for k in KINDS
            for suffix, row in k.events.items()
        }
        self._parts = {k.state_part: self.rules[k.name] for k in KINDS if k.state_part is not None}

    @property
    def petitions(self) -> Any:
        """The petition rules (their late responses are reported in step 4's stats)."""
        return self.rules["petitions"]

    def counts(self) -> dict[str, int]:
        """Each kind's counter (step 4's stats), in registry order."""
        return {k.count[0]: 0 if k.name in self.quiet else k.count[1](self.rules[k.name]) for k in KINDS}

    def apply(self, ev: Event) -> None:
        known = self.dispatch.get(ev.type)
        if known is None:
            if self.quiet_prefixes and ev.type.partition(".")[0] in self.quiet_prefixes:
                return
            self.events += 1
            self.report(
                Violation(ev, "unknown_type", "not an event type of docs/domain.md", "a documented type", ev.type)
            )
            return
        fields, alternatives, handler, quiet = known
        report = _ignore if quiet else self.report
        if not quiet:
            self.events += 1
        if type(ev.data) is not dict and not isinstance(ev.data, dict):
            report(Violation(ev, "malformed_data", "data must be an object", "an object", ev.data))
            return
        if ev.data.keys() != fields and not any(ev.data.keys() == alt for alt in alternatives):
            # set equality, as set(ev.data) != fields, without building the set
            keys = set(ev.data)
            report(
                Violation(
                    ev,
                    "data_fields",
                    f"{ev.logged_type} data must have exactly the documented fields",
                    sorted(fields) if not alternatives else [sorted(f) for f in (fields, *alternatives)],
                    {"missing": sorted(fields - keys), "extra": sorted(keys - fields)},
                )
            )
        try:
            handler(ev)
        except Malformed as exc:
            report(
                Violation(
                    ev, "malformed_data", f"data.{exc.path} is missing or has the wrong type", exc.expected, exc.found
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            report(Violation(ev, "malformed_data", f"data does not fit {ev.logged_type}: {exc!r}", None, None))
        if self.scratch.overfull:
            self.scratch.maintain()

    def finish(self) -> None:
        for rules in self.rules.values():
            finish = getattr(rules, "finish", None)
            if finish is not None:
                finish()

    def close(self) -> None:
        self.scratch.close()

    def state_items(self, part: str) -> Iterator[tuple[str, Any]]:
        """One part of the published state the replay implies (``state.json``'s shape), one aggregate at a time,
        in key order: a kind's ``state_part`` (``petitions``, ``ballots``, ``kindergarten``, ``housing``)."""
        items: Iterator[tuple[str, Any]] = self._parts[part].state_items()
        return items

    def public_state(self) -> dict[str, Any]:
        """The published state the replay implies, whole (tests; the audit streams :meth:`state_items`)."""
        return {part: {k: materialize(v) for k, v in self.state_items(part)} for part in self._parts}
