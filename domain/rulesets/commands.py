"""Rule set commands (``ruleset.*``): a ``rules:admin`` service publishes a version; anyone reads it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from domain.core import AppCore
from domain.errors import RuleSetAlreadyPublished
from domain.identity import Principal
from domain.rulesets.aggregate import RuleSet


class RuleSetCommands(AppCore):
    """Publish versioned rule sets. A version, once published, is final: a change is the next version."""

    def publish_rule_set(
        self,
        *,
        by: Principal,
        ruleset: str,
        version: int,
        applies_to: str,
        rules: Mapping[str, Any],
        source: str,
        at: datetime,
    ) -> dict[str, Any]:
        actor = self._authorise(by, "ruleset.published")
        try:
            agg = self._create(
                at,
                lambda at: RuleSet.publish(
                    ruleset=ruleset,
                    version=version,
                    applies_to=applies_to,
                    rules=rules,
                    source=source,
                    at=at,
                    actor=actor,
                ),
            )
        except IntegrityError:
            raise RuleSetAlreadyPublished(
                "this version of the rule set is already published; publish the next version",
                ruleset=ruleset,
                version=version,
            ) from None
        return agg.reference

    def get_rule_set(self, ruleset: str, version: int | None = None) -> RuleSet:
        """The published ``version`` of ``ruleset``, or its latest version when None (RuleSetNotPublished if none)."""
        return self._rule_set(ruleset, version)
