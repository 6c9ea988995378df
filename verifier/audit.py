"""The audit of a bundle, as numbered check steps: the public face of the package (the CLI and scripts import
from here). The work is done in:

- :mod:`verifier.report` - the report model (:class:`Finding`, :class:`StepResult`, :class:`AuditReport`);
- :mod:`verifier.steps` - the step base (:mod:`verifier.steps.base`), steps 1 and 2
  (:mod:`verifier.steps.envelopes`, :mod:`verifier.steps.checkpoints`), the default list of steps
  (:mod:`verifier.steps.defaults`); step 3 is :mod:`verifier.anchor_step`, steps 4 and 5 :mod:`verifier.rules.steps`;
- :mod:`verifier.runner` - :func:`run_audit`, the one streaming pass;
- :mod:`verifier.parallel` and :mod:`verifier.ruleworker` - the same audit spread over processes;
- :mod:`verifier.source`, :mod:`verifier.bundle`, :mod:`verifier.remote` - what is audited;
- :mod:`verifier.kinds` - the registry of aggregate kinds the rule steps read.

Later work plugs a step in by subclassing :class:`Step` and adding it to :func:`default_steps`.
"""

from __future__ import annotations

from verifier.kinds import RULE_WORKER_PREFIXES
from verifier.report import MAX_FINDINGS_PER_STEP, AuditReport, Finding, Status, StepResult
from verifier.runner import PARALLEL_MIN_EVENTS, PROGRESS_EVERY, run_audit
from verifier.steps.base import NOT_IMPLEMENTED, AuditContext, NotImplementedStep, ProgressCallback, SkippedStep, Step
from verifier.steps.checkpoints import CheckpointStep
from verifier.steps.defaults import default_steps
from verifier.steps.envelopes import EnvelopeStep

__all__ = [
    "MAX_FINDINGS_PER_STEP",
    "NOT_IMPLEMENTED",
    "PARALLEL_MIN_EVENTS",
    "PROGRESS_EVERY",
    "RULE_WORKER_PREFIXES",
    "AuditContext",
    "AuditReport",
    "CheckpointStep",
    "EnvelopeStep",
    "Finding",
    "NotImplementedStep",
    "ProgressCallback",
    "SkippedStep",
    "Status",
    "Step",
    "StepResult",
    "default_steps",
    "run_audit",
]
