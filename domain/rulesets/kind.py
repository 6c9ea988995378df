"""The rule sets' row of the registry of kinds (``ruleset.*``; publishes no state part: the list is served by the API
and every version is in the log)."""

from __future__ import annotations

from domain.identity import Permission
from domain.registry import Kind
from domain.rulesets.aggregate import RuleSet, fold_rule_set

KIND = Kind(
    name="rulesets",
    prefix="ruleset",
    aggregates=(RuleSet,),
    fold=fold_rule_set,
    permissions={"ruleset.published": Permission("rules:admin")},
)
