"""Pluggable checks: a :class:`Policy` verifies one subject or raises :class:`PolicyFailure` saying why not, and
:class:`AllOf` / :class:`AnyOf` combine policies. Modelled on sigstore-python's ``sigstore/verify/policy.py``
(``VerificationPolicy.verify``, ``AllOf``, ``AnyOf``).

Used now for what anchors can say about the log operator (:data:`verifier.anchor_policy.REWRITE_POLICY`); ballot
methods and witness policies (k-of-n cosigners, an :class:`AnyOf` of witnesses) are meant to plug in the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

__all__ = ["AllOf", "AnyOf", "Policy", "PolicyFailure"]

T = TypeVar("T")


class PolicyFailure(Exception):
    """A policy did not hold; ``reason`` says why, in words for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Policy(ABC, Generic[T]):
    """One check of a subject (what it is depends on the policy: the anchors step 3 read, a ballot, a note)."""

    @abstractmethod
    def verify(self, subject: T) -> None:
        """Return if the policy holds for ``subject``; else raise :class:`PolicyFailure`."""


class AllOf(Policy[T]):
    """Every policy holds; the first that does not (in order) is the failure."""

    def __init__(self, policies: Sequence[Policy[T]]) -> None:
        if not policies:
            raise ValueError("AllOf needs at least one policy (an empty one would hold for anything)")
        self.policies = list(policies)

    def verify(self, subject: T) -> None:
        for policy in self.policies:
            policy.verify(subject)


class AnyOf(Policy[T]):
    """At least one policy holds; if none does, the failure names every reason."""

    def __init__(self, policies: Sequence[Policy[T]]) -> None:
        if not policies:
            raise ValueError("AnyOf needs at least one policy (an empty one would hold for nothing)")
        self.policies = list(policies)

    def verify(self, subject: T) -> None:
        reasons = []
        for policy in self.policies:
            try:
                policy.verify(subject)
            except PolicyFailure as exc:
                reasons.append(exc.reason)
            else:
                return
        raise PolicyFailure("none of the policies holds: " + "; ".join(reasons))
