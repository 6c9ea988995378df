"""One document serves one child or one household entry (docs/domain.md "Documents"): a ``document_commitment``
cited by a ``kindergarten.benefit_granted`` (``queue.benefit_granted`` in envelope format 1) serves that entry's
child, one cited by a housing ``housing.list_included`` serves that household entry, and no other child or
household entry may cite it again.

The ledger never does: the vault seals every document afresh, with a new 32-byte salt, under the entry's own
subject (``kindergarten.<entry id>``, ``housing.<entry id>``), so two citations of one commitment mean someone
copied it - e.g. the operator putting one child's benefit document on another child's benefit. The same child may
cite a document again (a benefit revoked and granted again), so the holder of a kindergarten document is the child
pseudonym, not the entry.

State: commitment -> its first citation, in a spill map of the rule step's scratch file
(:mod:`verifier.rules.store`), so memory stays flat however many documents a log cites. The kindergarten queue and
the housing register share it, so both kinds must be replayed in one process (``PREFIXES``; with ``--workers 0``
both are the rule worker's, ``verifier.kinds.RULE_WORKER_PREFIXES``; the registry refuses to split them).
"""

from __future__ import annotations

import marshal
from typing import Any

from verifier.rules.model import COMMITMENT_RE, Event, Report, Violation
from verifier.rules.store import Scratch, SpillMap

__all__ = ["PREFIXES", "DocumentCitations"]

#: The event type prefixes whose handlers cite documents here: they share this state.
PREFIXES = frozenset({"kindergarten", "queue", "housing"})

# A citation: (holder, event index, event id, event type, entry).
_Citation = tuple[str, int, str, str, str]


class DocumentCitations:
    """The first citation of every document commitment, and the violation when another holder cites it."""

    def __init__(self, report: Report, scratch: Scratch) -> None:
        self.report = report
        self.first: SpillMap[_Citation] = scratch.map("documents", (marshal.dumps, marshal.loads))

    def cite(self, ev: Event, commitment: str, holder: str, entry: str) -> None:
        """``ev`` cites ``commitment`` for ``holder`` (``"child <pseudonym>"``, ``"household entry <id>"``) of
        ``entry``. A malformed commitment is the caller's finding (no document), not a citation."""
        if COMMITMENT_RE.match(commitment) is None:
            return
        earlier: _Citation | None = self.first.get(commitment)
        if earlier is None:
            self.first[commitment] = (holder, ev.index, ev.id, ev.logged_type, entry)
            return
        if earlier[0] == holder:
            return
        first_holder, index, event_id, event_type, first_entry = earlier
        first: dict[str, Any] = {
            "index": index,
            "id": event_id,
            "type": event_type,
            "entry": first_entry,
            "holder": first_holder,
        }
        later = {"index": ev.index, "id": ev.id, "type": ev.logged_type, "entry": entry, "holder": holder}
        self.report(
            Violation(
                ev,
                "document_commitment_reused",
                f"this {ev.logged_type} cites a document commitment that event #{index} ({event_type}, id {event_id}) "
                f"already cited for {first_holder}: one document serves one child or one household entry",
                f"a document of {holder} only",
                {"commitment": commitment, "first cited by": first},
                {"commitment": commitment, "earlier event": first, "later event": later},
            )
        )
