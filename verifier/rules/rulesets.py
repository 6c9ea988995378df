"""City-owned rule sets (docs/domain.md "City-owned rule sets"): ``ruleset.published`` streams, their shape, and the
check that every petition, kindergarten queue, housing register and ballot names a rule set the city published for
its kind before it, with the very rules of that version.

:class:`RuleSetRules` replays ``ruleset.*`` (step 4): one stream per name and version
(``stream_id("ruleset", name, version)``), opened by its one event, whose ``rules`` are as a rule set for its
``applies_to`` freezes them (``ruleset_malformed``, naming the first field that is not, :mod:`verifier.rules.ruleshape`;
the version counts as published all the same, so an opening naming it is not blamed for it).
:meth:`RuleSetRules.check_reference` is what the rules of those kinds ask of the event that froze their rules
(``petition.created``, ``kindergarten.created``, ``housing.register_opened``, an open ballot's ``ballot.opened``, an
encrypted ballot's ``ballot.ceremony_started``), given the rules it froze (a petition's ``rules``; the rule fields
of the others, :data:`FROZEN`, of a ceremony's ``spec``):

- ``ruleset_unpublished``: it names a rule set (or version) not published earlier in the log, or one that does not
  apply to its kind;
- ``ruleset_mismatch``: its frozen rules differ from the published version's (the first difference is named);
- ``ruleset_missing``: it writes its rules inline although the city had already published a rule set for its kind
  (from a city's first ``ruleset.published`` for a kind on, every opening of that kind names one; a log without
  rule sets for a kind is a city that never adopted them for it, and the log is append-only, so an operator cannot
  make a city's rule sets disappear).

The answer is a :class:`~verifier.rules.model.Violation` (or None) that the asking rules report: the rule worker
replays the rule sets too, quietly (:mod:`verifier.ruleworker`), and its queues and ballots report their own.

A city has few rule sets: they are kept in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verifier.rules.model import (
    Event,
    Malformed,
    Report,
    Violation,
    as_int,
    as_map,
    as_str,
    first_difference,
    stream_id,
)
from verifier.rules.ruleshape import shape_problem
from verifier.rules.store import Scratch

__all__ = ["FROZEN", "Published", "RuleSetRules", "frozen_rules"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
APPLIES_TO = frozenset({"petition", "kindergarten", "housing", "ballot"})
#: The rule fields of each kind's opening event other than a petition's (whose frozen copy is its ``rules``): a
#: rule set for that kind holds exactly these, and the event's own fields are the frozen copy (``ballot``: its
#: ``kind`` and, of its ``eligibility``, who may vote).
FROZEN: dict[str, tuple[str, ...]] = {
    "kindergarten": ("benefits", "removal_reasons", "acceptance_days", "max_preferences"),
    "housing": ("removal_reasons", "list_bases"),
    "ballot": ("kind", "eligibility"),
}
BALLOT_ELIGIBILITY = ("identity_methods", "min_age")


def frozen_rules(applies_to: str, data: Any) -> dict[str, Any]:
    """The rules an opening event of ``applies_to`` (not a petition) froze: its rule fields as it carries them (a
    missing one left out, so the comparison names it)."""
    out = {k: data[k] for k in FROZEN[applies_to] if k in data}
    if applies_to == "ballot" and isinstance(out.get("eligibility"), dict):
        out["eligibility"] = {k: out["eligibility"][k] for k in BALLOT_ELIGIBILITY if k in out["eligibility"]}
    return out


@dataclass(frozen=True, slots=True)
class Published:
    applies_to: str
    rules: dict[str, Any]
    time: str


class RuleSetRules:
    """Step 4 for ``ruleset.*`` streams, and the published rule sets the rules of the kinds that name them check
    references against."""

    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report  # ``scratch``: as every kind's rules get it; a city has few rule sets, kept in memory
        self.published: dict[tuple[str, int], Published] = {}
        #: What the published rule sets apply to (from the first one for a kind on, its openings name one).
        self.kinds: set[str] = set()

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        if ev.type != "ruleset.published":
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a ruleset.* type", ev.type)
            return
        d = ev.data
        name = as_str(d, "ruleset")
        version = as_int(d, "version")
        applies_to = as_str(d, "applies_to")
        rules = dict(as_map(d, "rules"))
        as_str(d, "source")
        if not _NAME.match(name):
            raise Malformed("ruleset", "a lower-case code [a-z0-9][a-z0-9_-]*", name)
        if applies_to not in APPLIES_TO:
            raise Malformed("applies_to", " or ".join(sorted(APPLIES_TO)), applies_to)
        expected = stream_id("ruleset", name, str(version))
        if ev.stream != expected:
            self.fail(ev, "ruleset_stream_mismatch", "a rule set's stream is stream_id(ruleset, name, version)",
                      expected, ev.stream)  # fmt: skip
        if ev.version != 1 or (name, version) in self.published:
            self.fail(ev, "ruleset_republished", "a version of a rule set is published once and never changes",
                      "version 1 of a new stream", ev.version)  # fmt: skip
            return
        bad = shape_problem(applies_to, rules)
        if bad is not None:
            where, expected_shape, found = bad
            self.fail(ev, "ruleset_malformed", f"{where}: a published {applies_to} rule set's rules are as a "
                      f"{applies_to} freezes them (docs/domain.md)", expected_shape, found)  # fmt: skip
        self.published[(name, version)] = Published(applies_to, rules, ev.time)
        self.kinds.add(applies_to)

    def check_reference(self, ev: Event, applies_to: str, rules: Any, path: str = "$.rules") -> Violation | None:
        """The checks of an opening event of ``applies_to`` and the ``rules`` it froze (at ``path`` in its data: a
        petition's ``$.rules``; ``$`` for the others, whose rule fields are its own, :func:`frozen_rules`)."""
        if "rule_set" not in ev.data:
            if applies_to in self.kinds:
                return Violation(ev, "ruleset_missing",
                                 f"the city publishes its {applies_to} rule sets: a {applies_to} names one",
                                 "data.rule_set naming a published rule set", None)  # fmt: skip
            return None
        ref = as_map(ev.data, "rule_set")
        name, version = as_str(ref, "name"), as_int(ref, "version")
        if set(ref) != {"name", "version"}:
            raise Malformed("rule_set", "{name, version}", sorted(ref))
        found = self.published.get((name, version))
        if found is None or found.applies_to != applies_to:
            return Violation(
                ev,
                "ruleset_unpublished",
                f"the rule set must be published (for {applies_to}s) before use",
                f"ruleset.published of {name} v{version} for {applies_to} earlier in the log",
                {"name": name, "version": version},
            )
        diff = first_difference(found.rules, rules, path)
        if diff is not None:
            where, expected, got = diff
            return Violation(ev, "ruleset_mismatch",
                             f"{where}: the {applies_to}'s frozen rules must be those of {name} v{version}",
                             expected, got)  # fmt: skip
        return None
