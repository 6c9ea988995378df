"""City-owned rule sets (docs/domain.md "City-owned rule sets"): ``ruleset.published`` streams, and the check that
every petition names a rule set the city published before it, with the very rules of that version.

:class:`RuleSetRules` replays ``ruleset.*`` (step 4): one stream per name and version
(``stream_id("ruleset", name, version)``), opened by its one event. :meth:`RuleSetRules.check_reference` is what the
petition rules ask of a ``petition.created``:

- ``ruleset_unpublished``: it names a rule set (or version) not published earlier in the log, or one that does not
  apply to petitions;
- ``ruleset_mismatch``: its frozen ``rules`` differ from the published version's (the first difference is named);
- ``ruleset_missing``: it writes its rules inline although the city had already published a rule set (from a city's
  first ``ruleset.published`` on, every petition names one; a log without rule sets is a city that never adopted
  them, and the log is append-only, so an operator cannot make a city's rule sets disappear).

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
from verifier.rules.store import Scratch

__all__ = ["Published", "RuleSetRules"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
APPLIES_TO = frozenset({"petition"})


@dataclass(frozen=True, slots=True)
class Published:
    applies_to: str
    rules: dict[str, Any]
    time: str


class RuleSetRules:
    """Step 4 for ``ruleset.*`` streams, and the published rule sets the petition rules check references against."""

    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report  # ``scratch``: as every kind's rules get it; a city has few rule sets, kept in memory
        self.published: dict[tuple[str, int], Published] = {}

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
        self.published[(name, version)] = Published(applies_to, rules, ev.time)

    def check_reference(self, ev: Event, applies_to: str, rules: Any) -> None:
        """The checks of a ``petition.created`` (``applies_to`` ``petition``) and its frozen ``rules``."""
        if "rule_set" not in ev.data:
            if self.published:
                self.fail(ev, "ruleset_missing", "the city publishes its rule sets: a petition names one",
                          "data.rule_set naming a published rule set", None)  # fmt: skip
            return
        ref = as_map(ev.data, "rule_set")
        name, version = as_str(ref, "name"), as_int(ref, "version")
        if set(ref) != {"name", "version"}:
            raise Malformed("rule_set", "{name, version}", sorted(ref))
        found = self.published.get((name, version))
        if found is None or found.applies_to != applies_to:
            self.fail(
                ev,
                "ruleset_unpublished",
                f"the rule set must be published (for {applies_to}s) before use",
                f"ruleset.published of {name} v{version} earlier in the log",
                {"name": name, "version": version},
            )
            return
        diff = first_difference(found.rules, rules, "$.rules")
        if diff is not None:
            path, expected, got = diff
            self.fail(ev, "ruleset_mismatch", f"{path}: the frozen rules must be those of {name} v{version}",
                      expected, got)  # fmt: skip
