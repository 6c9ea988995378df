"""The default list of audit steps, 1-5 (docs/audit.md, "Audit steps"). A new step: its module in
:mod:`verifier.steps` (or beside its rules), a subclass of :class:`verifier.steps.base.Step`, and its place here."""

from __future__ import annotations

from verifier.anchor_step import AnchorStep
from verifier.envelope import MAX_STREAMS_IN_MEMORY
from verifier.rules.steps import AuthorisationStep, RuleReplayStep, skipped_rule_steps
from verifier.steps.base import Step
from verifier.steps.checkpoints import CheckpointStep
from verifier.steps.envelopes import EnvelopeStep

__all__ = ["default_steps", "rule_steps"]


def default_steps(
    max_streams_in_memory: int = MAX_STREAMS_IN_MEMORY, *, rules: bool = True, rule_cache_items: int | None = None
) -> list[Step]:
    """Steps 1-5. ``rules=False`` (``--no-rules``) reports steps 4 and 5 as NOT RUN instead of running them.
    ``rule_cache_items``: rule-state values kept in memory per map (default
    :data:`verifier.rules.store.DEFAULT_CACHE_ITEMS`; the rest spills to a temporary file)."""
    return [
        EnvelopeStep(max_streams_in_memory),
        CheckpointStep(),
        AnchorStep(),
        *rule_steps(rules, rule_cache_items),
    ]


def rule_steps(rules: bool = True, cache_items: int | None = None) -> list[Step]:
    """Steps 4 (rule replay) and 5 (actor authorisation): :mod:`verifier.rules.steps`."""
    return [RuleReplayStep(cache_items), AuthorisationStep(cache_items)] if rules else skipped_rule_steps()
