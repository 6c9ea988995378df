"""An encrypted ballot's rules are frozen when its key ceremony starts (``ballot.ceremony_started`` holds the spec
and the ``rule_set``; ``ballot.opened`` only repeats them, ``voting.spec_changed`` otherwise): the domain checks the
rule set reference there, and so does the verifier - not at ``ballot.opened``, where the city may meanwhile have
published (its first) ballot rule set. Failure cases first; then lawful ballots audit clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.verifier_rules.builder import History, audit, findings
from tests.verifier_voting.builder import Encrypted

VOTES = {1: [["o0", "o1"]], 2: [["o2"]]}
#: A ballot rule set the builder's encrypted ballot (an approval local vote, diia, 16+) freezes as it is.
RULES = {"kind": "local_vote", "eligibility": {"identity_methods": ["diia"], "min_age": 16}}
V1 = {"name": "votes", "version": 1}


def _run(
    tmp_path: Path, before: Any = None, during: Any = None, rule_set: Any = None
) -> tuple[Encrypted, list[tuple[str, str | None]], list[str]]:
    """The builder's encrypted ballot naming ``rule_set``; ``before`` (ceremony) and ``during`` it: ``h -> None``."""
    h = History()
    h.city()
    h.legal()
    if before is not None:
        before(h)
    e = Encrypted(h, rule_set=rule_set, during_ceremony=None if during is None else lambda: during(h))
    e.run(VOTES)
    report = audit(h.write(tmp_path / "b"))
    found = [f for step in (4, 5) for f in findings(report, step)]
    return e, [(f.code, f.event_id) for f in found], [f.message for f in found]


def _publish(rules: dict[str, Any] = RULES) -> Any:
    return lambda h: h.rule_set("votes", "ballot", rules)


def test_a_rule_set_published_only_while_the_ceremony_runs(tmp_path: Path) -> None:
    """The ceremony froze rules from a version not yet published: named at ceremony_started, though published
    before ballot.opened."""
    e, got, _ = _run(tmp_path, rule_set=V1, during=_publish())
    assert got == [("ruleset_unpublished", e.events["started"]["id"])]


def test_rules_frozen_at_the_ceremony_that_differ_from_the_rule_set(tmp_path: Path) -> None:
    stricter = {**RULES, "eligibility": {"identity_methods": ["diia"], "min_age": 18}}
    e, got, messages = _run(tmp_path, before=_publish(stricter), rule_set=V1)
    assert got == [("ruleset_mismatch", e.events["started"]["id"])]
    assert messages[0].startswith("$.spec.eligibility.min_age:")


def test_a_ceremony_with_inline_rules_after_the_city_published_its_ballot_rule_sets(tmp_path: Path) -> None:
    e, got, _ = _run(tmp_path, before=_publish())
    assert got == [("ruleset_missing", e.events["started"]["id"])]


def test_a_ceremony_started_before_the_citys_first_ballot_rule_set_opens_lawfully(tmp_path: Path) -> None:
    """Inline rules were lawful when the ceremony froze them; the city's first ballot rule set, published while the
    ceremony runs, does not make its ballot.opened (which must repeat the ceremony) a violation."""
    _, got, _ = _run(tmp_path, during=_publish())
    assert got == []


def test_a_ceremony_naming_a_published_rule_set_audits_clean(tmp_path: Path) -> None:
    _, got, _ = _run(tmp_path, before=_publish(), rule_set=V1)
    assert got == []
