"""Housing register (docs/domain.md "Housing register"): lists by registration time / time of inclusion,
inclusion only with a basis of that list, removal only with a legal reason code, re-registration and removal
proposals, allocations to the first entry of the named list. State grows with the number of entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from verifier.rules.documents import DocumentCitations
from verifier.rules.model import (
    COMMITMENT_RE,
    Event,
    Malformed,
    Report,
    Violation,
    as_int,
    as_map,
    as_str,
    code_table,
    pseudonym_problem,
    stream_id,
)
from verifier.rules.rulesets import frozen_rules
from verifier.rules.statecmp import LazyArray, LazyObject
from verifier.rules.store import OrderedIndex, Scratch, Slice, SpillMap, slots_codec

__all__ = ["HousingRules"]

LISTS = ("general", "first_priority", "out_of_turn")
EXCLUSION_REASONS = ("basis_ended", "granted_in_error", "document_invalid")
REREGISTRATION_MISSED = "reregistration_missed"


@dataclass(slots=True)
class Entry:
    applicant: str
    registered_at: str
    status: str = "active"
    lists: dict[str, str] = field(default_factory=dict)  # list -> time of inclusion
    reregistered: set[int] = field(default_factory=set)
    proposed: set[int] = field(default_factory=set)


_Row = tuple[str, int, str, str, str]  # (register, 0 general | 1 named list, list name, time, entry id)


@dataclass
class Register:
    """One register's frozen rules and counters (in memory); its entries, dwellings and active applicants are
    slices of the rule step's spill maps, its lists rows of the shared ordered index."""

    id: str
    removal_reasons: dict[str, str]
    list_bases: dict[str, dict[str, str]]
    entries: Slice[Entry]
    dwellings: Slice[str]  # dwelling -> entry
    active_by_applicant: Slice[str]
    # Rows (register, 0, "", registered_at, entry) of every active entry (the general list) and (register, 1,
    # list, time of inclusion, entry) per list it is in: a group read in order is that list's order.
    lists: OrderedIndex
    key: int = 1
    registrations: int = 0

    def rows(self, eid: str, e: Entry | None) -> frozenset[_Row]:
        if e is None or e.status != "active":
            return frozenset()
        rid = self.id
        return frozenset([(rid, 0, "", e.registered_at, eid), *((rid, 1, n, t, eid) for n, t in e.lists.items())])

    def reindex(self, eid: str, e: Entry, before: frozenset[_Row]) -> None:
        self.lists.replace(before, self.rows(eid, e))

    def _group(self, name: str) -> tuple[str, int, str]:
        return (self.id, 0, "") if name == "general" else (self.id, 1, name)

    def iter_order(self, name: str) -> Iterator[str]:
        return (eid for _t, eid in self.lists.iter_group(self._group(name)))

    def first(self, name: str) -> str | None:
        row = self.lists.first(self._group(name))
        return None if row is None else str(row[1])


class HousingRules:
    def __init__(
        self, report: Report, scratch: Scratch | None = None, documents: DocumentCitations | None = None
    ) -> None:
        self.report = report
        self.scratch = Scratch() if scratch is None else scratch
        self.documents = DocumentCitations(report, self.scratch) if documents is None else documents
        self.registers: dict[str, Register] = {}  # one header per register (a service opens them): in memory
        self.entries: SpillMap[Entry] = self.scratch.map("hs_entries", slots_codec(Entry))
        self.dwellings: SpillMap[str] = self.scratch.map("hs_dwellings")
        self.active_by_applicant: SpillMap[str] = self.scratch.map("hs_applicants")
        self.lists = self.scratch.index("hs_lists", ("r", "general", "list"), ("t", "id"))
        #: The rule set checks of a ``housing.register_opened`` (verifier/rules/rulesets.py), handed over by
        #: :meth:`read`.
        self.check_rule_set: Callable[..., Violation | None] | None = None

    def read(self, kind: str, rules: Any) -> None:
        """The rules of a kind the registers ask (verifier.kinds ``reads``): the rule sets."""
        if kind == "rulesets":
            self.check_rule_set = rules.check_reference

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        t = ev.type
        d = ev.data
        if t == "housing.register_opened":
            as_str(d, "name")
            key = as_int(d, "pseudonym_key")
            bases = as_map(d, "list_bases")
            if ev.version != 1:
                self.fail(ev, "created_not_first", "housing.register_opened opens its stream", "version 1", ev.version)
            if self.check_rule_set is not None:
                found = self.check_rule_set(ev, "housing", frozen_rules("housing", d), "$")
                if found is not None:
                    self.report(found)
            rid = ev.stream
            self.registers[rid] = Register(
                id=rid,
                entries=Slice(self.entries, rid),
                dwellings=Slice(self.dwellings, rid),
                active_by_applicant=Slice(self.active_by_applicant, rid),
                lists=self.lists,
                removal_reasons=code_table(d, "removal_reasons"),
                list_bases={name: code_table(bases, name) for name in bases},
                key=key,
            )
            return
        r = self.registers.get(ev.stream)
        if r is None:
            self.fail(ev, "unknown_register", f"{t} in a stream that holds no housing.register_opened", None, ev.stream)
            return
        if t == "housing.entry_registered":
            self._registered(ev, r)
            return
        if t not in _HANDLERS:
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a housing.* type", t)
            return
        eid = as_str(d, "entry")
        e = r.entries.get(eid)
        if e is None:
            self.fail(ev, "unknown_entry", "no such entry in this register", None, eid)
            return
        if e.status != "active":
            self.fail(ev, "entry_not_active", f"entry {eid} is not active", "active", e.status)
        before = r.rows(eid, e)
        _HANDLERS[t](self, ev, r, eid, e)
        r.reindex(eid, e, before)

    def _registered(self, ev: Event, r: Register) -> None:
        d = ev.data
        eid = as_str(d, "entry")
        applicant = as_str(d, "applicant")
        commitment = as_str(d, "household_commitment")
        registered_at = as_str(d, "registered_at")
        old = r.entries.get(eid)
        if old is not None:
            if old.registered_at != registered_at:
                self.fail(
                    ev,
                    "registered_at_changed",
                    f"entry {eid} registered again with another registered_at (registered_at never changes)",
                    old.registered_at,
                    registered_at,
                )
            else:
                self.fail(ev, "entry_registered_twice", f"entry {eid} is registered again", "a new entry id", eid)
        else:
            expected_id = stream_id(ev.stream, "entry", r.registrations + 1)
            if eid != expected_id:
                self.fail(
                    ev,
                    "entry_id_mismatch",
                    "the n-th registration's entry is S(register, 'entry', n)",
                    expected_id,
                    eid,
                )
        if registered_at != ev.time:
            self.fail(ev, "registered_at_mismatch", "registered_at = time of the registration", ev.time, registered_at)
        other_id = r.active_by_applicant.get(applicant)
        if other_id is not None and other_id != eid and r.entries[other_id].status == "active":
            self.fail(ev, "duplicate_applicant", "one active entry per applicant", None, other_id)
        if not COMMITMENT_RE.match(commitment):
            self.fail(ev, "invalid_commitment", "household_commitment", "sha256:<64 hex>", commitment)
        wrong = pseudonym_problem(applicant, "cit", r.key)
        if wrong is not None:
            self.fail(
                ev, "pseudonym_mismatch", "applicant is a citizen pseudonym of the register's key", wrong, applicant
            )
        e = Entry(applicant, registered_at)
        r.entries[eid] = e
        r.reindex(eid, e, r.rows(eid, old))
        r.active_by_applicant[applicant] = eid
        r.registrations += 1

    def _included(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        d = ev.data
        name = as_str(d, "list")
        code = as_str(d, "code")
        basis = as_str(d, "basis")
        document = as_str(d, "document_commitment")
        bases = r.list_bases.get(name)
        if bases is None:
            self.fail(ev, "unknown_list", "list_included names a list without bases", sorted(r.list_bases), name)
        elif code not in bases:
            self.fail(
                ev, "list_basis_unknown", f"inclusion in {name} with a code not among its bases", list(bases), code
            )
        elif basis != bases[code]:
            self.fail(ev, "list_basis_mismatch", "basis must be the statute of the code", bases[code], basis)
        if name in e.lists:
            self.fail(ev, "already_in_list", f"entry already in {name}", "not in the list", name)
        if not COMMITMENT_RE.match(document):
            self.fail(
                ev, "list_without_document", "inclusion without a document commitment", "sha256:<64 hex>", document
            )
        self.documents.cite(ev, document, f"household entry {eid}", eid)
        e.lists[name] = ev.time

    def _excluded(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        name = as_str(ev.data, "list")
        reason = as_str(ev.data, "reason")
        if name not in e.lists:
            self.fail(ev, "not_in_list", f"entry is not in {name}", sorted(e.lists), name)
        if reason not in EXCLUSION_REASONS:
            self.fail(ev, "exclusion_reason_unknown", "list_excluded reason", list(EXCLUSION_REASONS), reason)
        e.lists.pop(name, None)

    def _reregistered(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        year = as_int(ev.data, "year")
        low, high = int(e.registered_at[:4]), int(ev.time[:4])
        if not low <= year <= high:
            self.fail(ev, "reregistration_year", "year(registered_at) <= year <= year(time)", f"{low}..{high}", year)
        if year in e.reregistered:
            self.fail(ev, "reregistered_twice", "re-registration at most once per entry and year", "once", year)
        e.reregistered.add(year)
        e.proposed.discard(year)

    def _proposed(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        year = as_int(ev.data, "year")
        code = as_str(ev.data, "reason_code")
        if code != REREGISTRATION_MISSED:
            self.fail(ev, "proposal_reason", "removal_proposed reason_code", REREGISTRATION_MISSED, code)
        if not int(e.registered_at[:4]) < year <= int(ev.time[:4]):
            self.fail(
                ev,
                "proposal_year",
                "only for an entry registered before year, and year <= year(time)",
                f"{int(e.registered_at[:4]) + 1}..{ev.time[:4]}",
                year,
            )
        if year in e.reregistered:
            self.fail(ev, "proposal_after_reregistration", f"the entry re-registered for {year}", "no proposal", year)
        if year in e.proposed:
            self.fail(ev, "proposal_repeated", f"a removal for {year} was already proposed", "one proposal", year)
        e.proposed.add(year)

    def _removed(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        code = as_str(ev.data, "reason_code")
        statute = as_str(ev.data, "statute")
        if code not in r.removal_reasons:
            self.fail(
                ev,
                "removal_without_legal_reason",
                "removal needs a reason code of the register's table",
                list(r.removal_reasons),
                code,
            )
        elif statute != r.removal_reasons[code]:
            self.fail(
                ev,
                "removal_statute_mismatch",
                "statute must be that of the reason code",
                r.removal_reasons[code],
                statute,
            )
        if code == REREGISTRATION_MISSED and not e.proposed:
            self.fail(
                ev,
                "removal_without_proposal",
                "a removal for a missed re-registration needs an open housing.removal_proposed before it",
                "removal_proposed",
                "none",
            )
        e.status = "removed"

    def _allocated(self, ev: Event, r: Register, eid: str, e: Entry) -> None:
        name = as_str(ev.data, "list")
        dwelling = as_str(ev.data, "dwelling")
        if name not in LISTS:
            raise Malformed("list", "general | first_priority | out_of_turn", name)
        if dwelling in r.dwellings:
            self.fail(
                ev,
                "dwelling_allocated_twice",
                f"dwelling {dwelling} already allocated",
                "a free dwelling",
                r.dwellings[dwelling],
            )
        first = r.first(name)
        if first != eid:
            self.fail(
                ev, "allocation_out_of_turn", f"a dwelling goes to the first entry of the {name} list", first, eid
            )
        e.status = "allocated"
        r.dwellings[dwelling] = eid

    def state_items(self) -> Iterator[tuple[str, Any]]:
        """``state.json``'s ``housing`` part in key order, each list read from the index as it is consumed."""
        for rid, r in sorted(self.registers.items()):
            yield rid, LazyObject((name, LazyArray(r.iter_order(name))) for name in sorted(LISTS))


_HANDLERS = {
    "housing.list_included": HousingRules._included,
    "housing.list_excluded": HousingRules._excluded,
    "housing.reregistered": HousingRules._reregistered,
    "housing.removal_proposed": HousingRules._proposed,
    "housing.entry_removed": HousingRules._removed,
    "housing.dwelling_allocated": HousingRules._allocated,
}
