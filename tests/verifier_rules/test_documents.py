"""One document serves one child or one household entry (docs/domain.md "Documents"; verifier/rules/documents.py):
a document commitment cited again for another child or household entry is named at the later event, with the
earlier one. Every test here runs with 2 cached values per rule map (conftest.py), so the first citation has
usually been written to the scratch file and read back when it is reused."""

from __future__ import annotations

from pathlib import Path

from tests.verifier_rules.builder import History, audit, commitment, findings
from verifier.audit import RULE_WORKER_PREFIXES
from verifier.rules import documents


def test_a_benefit_document_copied_onto_another_childs_benefit(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    first = h.register_child(q, 1)
    second = h.register_child(q, 2)
    for n in range(3, 8):  # more entries and benefits in between: the first citation is evicted
        h.grant(q, h.register_child(q, n))
    original = h.grant(q, first, document=commitment("doc-1"))
    for n in range(8, 12):
        h.grant(q, h.register_child(q, n))
    copied = h.grant(q, second, code="large_family", document=commitment("doc-1"))
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.index, f.event_type) == (
        "document_commitment_reused",
        copied["id"],
        h.events.index(copied),
        "queue.benefit_granted",
    )
    earlier, later = f.details["earlier event"], f.details["later event"]
    assert (earlier["id"], earlier["index"], earlier["entry"]) == (original["id"], h.events.index(original), first)
    assert (later["id"], later["index"], later["entry"]) == (copied["id"], f.index, second)
    assert earlier["holder"] != later["holder"] and earlier["holder"].startswith("child chd:v1:")
    assert f.found == {"commitment": commitment("doc-1"), "first cited by": earlier}
    assert f"#{earlier['index']}" in f.message and original["id"] in f.message


def test_the_same_child_may_cite_its_document_again(tmp_path: Path) -> None:
    """Revoked in error and granted again on the same document; and the child's new entry after a withdrawal."""
    h = History()
    q = h.queue()
    e = h.register_child(q, 1)
    h.grant(q, e, document=commitment("doc-1"))
    h.revoke(q, e)
    h.grant(q, e, document=commitment("doc-1"))
    h.emit(q, "queue.entry_withdrawn", h.events[1]["actor"], {"entry": e})
    again = h.register_child(q, 1)  # the same child pseudonym, a new entry
    h.grant(q, again, code="large_family", document=commitment("doc-1"))
    assert findings(audit(h.write(tmp_path / "b")), 4) == []


def test_a_housing_document_copied_onto_another_household_entry(tmp_path: Path) -> None:
    h = History()
    r = h.register()
    a = h.register_household(r, 1)
    b = h.register_household(r, 2)
    original = h.include(r, a, document=commitment("deed"))
    h.exclude(r, a)
    h.include(r, a, document=commitment("deed"))  # the same entry again: its own document
    for n in range(3, 7):
        h.include(r, h.register_household(r, n), "out_of_turn")
    copied = h.include(r, b, "out_of_turn", document=commitment("deed"))
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id, f.event_type) == ("document_commitment_reused", copied["id"], "housing.list_included")
    assert f.details["earlier event"]["id"] == original["id"] and f.details["earlier event"]["entry"] == a
    assert f.details["later event"]["holder"] == f"household entry {b}"


def test_a_document_of_a_child_cited_for_a_household_entry(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    child = h.register_child(q, 1)
    granted = h.grant(q, child, document=commitment("certificate"))
    r = h.register()
    household = h.register_household(r, 1)
    included = h.include(r, household, document=commitment("certificate"))
    [f] = findings(audit(h.write(tmp_path / "b")), 4)
    assert (f.code, f.event_id) == ("document_commitment_reused", included["id"])
    assert f.details["earlier event"]["id"] == granted["id"]


def test_a_malformed_commitment_is_a_missing_document_not_a_citation(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    a, b = h.register_child(q, 1), h.register_child(q, 2)
    h.grant(q, a, document="none")
    h.grant(q, b, document="none")
    assert [f.code for f in findings(audit(h.write(tmp_path / "b")), 4)] == ["benefit_without_document"] * 2


def test_the_kinds_sharing_document_state_are_replayed_in_one_process() -> None:
    """--workers 0 replays some aggregate kinds in a rule worker process: the kinds that share the citations must
    all be on one side, or a copy from a queue into a register would go unseen."""
    assert documents.PREFIXES <= RULE_WORKER_PREFIXES or documents.PREFIXES.isdisjoint(RULE_WORKER_PREFIXES)
