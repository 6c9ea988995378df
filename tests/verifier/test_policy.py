"""The policy seam (verifier/policy.py) and the anchor policy built on it (verifier.anchor_policy.REWRITE_POLICY):
failure cases first."""

from __future__ import annotations

import pytest

from verifier.anchor_policy import AUDITOR, BUNDLE, AnchorEvidence, RewriteCheck, rewrite_check
from verifier.policy import AllOf, AnyOf, Policy, PolicyFailure


class Above(Policy[int]):
    def __init__(self, bound: int) -> None:
        self.bound = bound

    def verify(self, subject: int) -> None:
        if subject <= self.bound:
            raise PolicyFailure(f"{subject} <= {self.bound}")


def test_all_of_fails_with_the_first_failure_in_order() -> None:
    with pytest.raises(PolicyFailure, match=r"^3 <= 5$"):
        AllOf([Above(1), Above(5), Above(9)]).verify(3)
    AllOf([Above(1), Above(2)]).verify(3)


def test_any_of_fails_only_when_none_holds_and_names_every_reason() -> None:
    with pytest.raises(PolicyFailure) as exc:
        AnyOf([Above(5), Above(9)]).verify(3)
    assert exc.value.reason == "none of the policies holds: 3 <= 5; 3 <= 9"
    AnyOf([Above(5), Above(1)]).verify(3)


def test_combinators_refuse_to_be_empty() -> None:
    with pytest.raises(ValueError, match="AllOf"):
        AllOf([])
    with pytest.raises(ValueError, match="AnyOf"):
        AnyOf([])


def test_combinators_nest() -> None:
    policy = AllOf([Above(0), AnyOf([Above(10), AllOf([Above(2), Above(3)])])])
    policy.verify(4)
    with pytest.raises(PolicyFailure):
        policy.verify(3)


def evidence(**kw: object) -> AnchorEvidence:
    values: dict[str, object] = {
        "compared": True,
        "contract": "0x" + "ab" * 20,
        "named_by": AUDITOR,
        "anchored_size": 80,
        "tree_size": 95,
    }
    values.update(kw)
    return AnchorEvidence(**values)  # type: ignore[arg-type]


def test_the_rewrite_is_not_checked_without_a_comparison_an_auditors_contract_or_an_anchor() -> None:
    assert rewrite_check(evidence(compared=False)) == RewriteCheck(
        False, "step 3 could not compare the chain's anchors with the log (see its findings)"
    )
    bundle = rewrite_check(evidence(named_by=BUNDLE))
    assert (bundle.checked, bundle.contract_named_by, bundle.anchored_size) == (False, BUNDLE, 80)
    assert bundle.reason is not None and "named by the bundle" in bundle.reason
    none = rewrite_check(evidence(anchored_size=0))
    assert (none.checked, none.contract_named_by) == (False, AUDITOR)
    assert (none.anchored_size, none.unanchored_tail) == (None, None)
    assert none.reason == "the contract you trust holds no anchor of this log up to its tree size 95"


def test_the_rewrite_is_checked_by_anchors_in_the_auditors_contract() -> None:
    ok = rewrite_check(evidence())
    assert ok == RewriteCheck(True, None, "0x" + "ab" * 20, AUDITOR, 80, 15)


def test_another_policy_plugs_in() -> None:
    """A stricter policy (here: the whole log anchored) is passed in as it is."""

    class WholeLogAnchored(Policy[AnchorEvidence]):
        def verify(self, subject: AnchorEvidence) -> None:
            if subject.anchored_size < subject.tree_size:
                raise PolicyFailure(f"{subject.tree_size - subject.anchored_size} events are not anchored yet")

    strict = rewrite_check(evidence(), AllOf([WholeLogAnchored()]))
    assert (strict.checked, strict.reason) == (False, "15 events are not anchored yet")
