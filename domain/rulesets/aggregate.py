"""A published rule set: one stream per (name, version), so each version is published once and never changes.

``ruleset.published`` carries the rule set as frozen (validated by the rules of what it ``applies_to``) and the
statute it implements (``source``). Petitions, kindergarten queues, housing registers and ballots reference a rule
set by name and version; their opening event (``petition.created``, ``kindergarten.created``,
``housing.register_opened``, ``ballot.opened``) then holds a copy of these rules (frozen at opening) and the
reference, and the verifier checks the copy against the published version (docs/domain.md "City-owned rule sets").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain import checks
from domain.ballots.rules import validate_ballot_rules
from domain.base import LedgerAggregate, stream_id
from domain.housing.rules import validate_housing_rules
from domain.kindergarten.rules import validate_kindergarten_rules
from domain.petitions.rules import validate_petition_rules

#: What a rule set may apply to -> the validation of its rules (each kind's own, domain/<kind>/rules.py).
APPLIES_TO = {
    "petition": validate_petition_rules,
    "kindergarten": validate_kindergarten_rules,
    "housing": validate_housing_rules,
    "ballot": validate_ballot_rules,
}
MAX_VERSION = 1_000_000
#: The fields of ``ruleset.published`` (what the fold keeps and :meth:`RuleSet.as_dict` shows).
FIELDS = ("ruleset", "version", "applies_to", "rules", "source")


def rule_set_stream(name: str, version: int) -> UUID:
    return stream_id("ruleset", name, str(version))


def fold_rule_set(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "ruleset.published":
        state.update({k: data[k] for k in FIELDS})
        state["published_at"] = time


class RuleSet(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Published(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "ruleset.published"
        ruleset: str
        version: int
        applies_to: str
        rules: dict[str, Any]
        source: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_rule_set(state, type_, time, actor, data)

    @classmethod
    def publish(
        cls,
        *,
        ruleset: str,
        version: int,
        applies_to: str,
        rules: Mapping[str, Any],
        source: str,
        at: datetime,
        actor: Mapping[str, str],
    ) -> RuleSet:
        name = checks.code(ruleset, "ruleset")
        number = checks.integer(version, "version", 1, MAX_VERSION)
        if applies_to not in APPLIES_TO:
            raise checks.refuse("applies_to", f"must be one of {sorted(APPLIES_TO)}", found=str(applies_to))
        frozen = APPLIES_TO[applies_to](rules)
        result: RuleSet = cls._start(
            cls.Published,
            id=rule_set_stream(name, number),
            at=at,
            actor=actor,
            ruleset=name,
            version=number,
            applies_to=applies_to,
            rules=frozen,
            source=checks.text(source, "source", 500),
        )
        return result

    @property
    def reference(self) -> dict[str, Any]:
        return {"name": self.state["ruleset"], "version": self.state["version"]}

    def as_dict(self) -> dict[str, Any]:
        return {k: self.state[k] for k in (*FIELDS, "published_at")}
