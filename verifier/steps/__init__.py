"""The audit's steps, one module each: :mod:`verifier.steps.base` (what a step is), :mod:`verifier.steps.envelopes`
(1), :mod:`verifier.steps.checkpoints` (2), :mod:`verifier.anchor_step` (3), :mod:`verifier.rules.steps` (4, 5),
and :mod:`verifier.steps.defaults` (the list the runner runs)."""
