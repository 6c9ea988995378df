"""Kindergarten queue (docs/domain.md "Kindergarten queue"): registration, benefits with a basis, offers in
turn, accept/decline/expire on pending offers, removal only with a reason code.

One stream per queue holds every event that changes an entry; the replay keeps each queue's entries and
offers (state grows with the number of entries, not of events). Every event is applied as recorded after its
checks (as the ledger's fold does), so a violation is reported once, at its event, and the published order
can be compared with a fold of the same log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from verifier.rules.documents import DocumentCitations
from verifier.rules.model import (
    COMMITMENT_RE,
    Event,
    Report,
    Violation,
    add_days,
    as_int,
    as_str,
    as_str_list,
    code_table,
    pseudonym_problem,
    stream_id,
)
from verifier.rules.rulesets import frozen_rules
from verifier.rules.statecmp import LazyArray, LazyObject, materialize
from verifier.rules.store import OrderedIndex, Scratch, Slice, SpillMap, slots_codec

__all__ = ["KindergartenRules"]

CLOCK = {"kind": "system", "id": "clock"}

REVOKE_REASONS = ("document_expired", "document_invalid", "status_ended", "granted_in_error")


@dataclass(slots=True)
class Entry:
    applicant: str
    child: str
    birth_year: int
    institutions: list[str]
    registered_at: str
    benefits: set[str] = field(default_factory=set)
    status: str = "waiting"
    offer: str | None = None
    rank: int = 0  # benefit rank, kept current by the queue


@dataclass(slots=True)
class Offer:
    entry: str
    institution: str
    place: str
    expires_at: str
    status: str = "pending"


@dataclass
class Queue:
    """One queue's frozen rules and counters (in memory); its entries, offers, held places and children are
    slices of the rule step's spill maps, its waiting entries rows of the shared ordered index."""

    id: str
    institutions: list[str]
    benefit_rank: dict[str, int]  # code -> 1-based position in the table
    benefit_statute: dict[str, str]
    removal_reasons: dict[str, str]
    acceptance_days: int
    max_preferences: int
    entries: Slice[Entry]
    offers: Slice[Offer]
    held: Slice[int]  # _held_key(institution, place) -> 1
    children: Slice[str]  # child pseudonym -> its waiting entry
    # Rows (queue, institution, birth year, benefit rank, registered_at, entry id) of every waiting entry, one
    # per institution it names: read in order, a group's rows are its queue order (docs/domain.md).
    waiting: OrderedIndex
    pseudonym_key: int = 1
    registrations: int = 0
    offers_issued: int = 0
    #: After the clock expired an offer: (institution, birth year, place, the expiry event); the clock must offer
    #: that place to the group's next eligible entry in the queue's next event (docs/domain.md "The clock").
    reoffer: tuple[str, int, str, Event] | None = None

    def rank(self, e: Entry) -> int:
        if not e.benefits:
            return len(self.benefit_rank) + 1
        return min(
            (self.benefit_rank.get(c, len(self.benefit_rank) + 1) for c in e.benefits),
            default=len(self.benefit_rank) + 1,
        )

    def key(self, eid: str) -> tuple[int, str, str]:
        e = self.entries[eid]
        return (e.rank, e.registered_at, eid)

    def rows(self, eid: str, e: Entry | None) -> frozenset[tuple[str, str, int, int, str, str]]:
        """The index rows of an entry as it is now (none unless it is waiting)."""
        if e is None or e.status != "waiting":
            return frozenset()
        return frozenset((self.id, inst, e.birth_year, e.rank, e.registered_at, eid) for inst in e.institutions)

    def reindex(self, eid: str, e: Entry, before: frozenset[tuple[str, str, int, int, str, str]]) -> None:
        """After an event changed entry ``eid``: its current rank, and its index rows replace ``before``."""
        e.rank = self.rank(e)
        self.waiting.replace(before, self.rows(eid, e))

    def first_eligible(self, institution: str, birth_year: int) -> str | None:
        """The first entry of the group without a pending offer (docs/domain.md, kindergarten rule 4)."""
        for _rank, _registered_at, eid in self.waiting.iter_group((self.id, institution, birth_year)):
            e = self.entries.get(eid)
            if e is not None and e.offer is None:
                return str(eid)
        return None

    def lazy_orders(self) -> LazyObject:
        """The queue's published orders (``"<institution>/<year>"`` -> entry ids in queue order), read as they are
        consumed: groups in key order (as text), each group's entry ids straight from the index."""
        w = self.waiting
        groups = sorted((f"{inst}/{year}", (qid, inst, year)) for qid, inst, year in w.groups((self.id,)))
        return LazyObject((key, LazyArray(row[2] for row in w.iter_group(group))) for key, group in groups)

    def orders(self) -> dict[str, list[str]]:
        """:meth:`lazy_orders`, whole (tests)."""
        orders: dict[str, list[str]] = materialize(self.lazy_orders())
        return orders


def _held_key(institution: str, place: str) -> str:
    return f"{len(institution)}:{institution}{place}"


class KindergartenRules:
    def __init__(
        self, report: Report, scratch: Scratch | None = None, documents: DocumentCitations | None = None
    ) -> None:
        self.report = report
        self.scratch = Scratch() if scratch is None else scratch
        self.documents = DocumentCitations(report, self.scratch) if documents is None else documents
        self.queues: dict[str, Queue] = {}  # one header per queue (a service opens them): in memory
        self.entries: SpillMap[Entry] = self.scratch.map("kg_entries", slots_codec(Entry))
        self.offers: SpillMap[Offer] = self.scratch.map("kg_offers", slots_codec(Offer))
        self.held: SpillMap[int] = self.scratch.map("kg_held")
        self.children: SpillMap[str] = self.scratch.map("kg_children")
        self.waiting = self.scratch.index("kg_waiting", ("q", "inst", "year"), ("rank", "t", "id"))
        #: The rule set checks of a ``kindergarten.created`` (verifier/rules/rulesets.py), handed over by :meth:`read`.
        self.check_rule_set: Callable[..., Violation | None] | None = None

    def read(self, kind: str, rules: Any) -> None:
        """The rules of a kind the queues ask (verifier.kinds ``reads``): the rule sets."""
        if kind == "rulesets":
            self.check_rule_set = rules.check_reference

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        t = ev.type
        if t == "kindergarten.created":
            self._created(ev)
            return
        q = self.queues.get(ev.stream)
        if q is None:
            self.fail(
                ev, "unknown_queue", f"{ev.logged_type} in a stream that holds no kindergarten.created", None, ev.stream
            )
            return
        if q.reoffer is not None or (t == "kindergarten.offer_issued" and ev.actor == CLOCK):
            self._passed_on(ev, q)
        if t == "kindergarten.entry_registered":
            self._registered(ev, q)
            return
        if t not in _HANDLERS:
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a kindergarten.* type", t)
            return
        eid = as_str(ev.data, "entry")
        e = q.entries.get(eid)
        if e is None:
            self.fail(ev, "unknown_entry", "no such entry in this queue", None, eid)
            return
        before = q.rows(eid, e)
        _HANDLERS[t](self, ev, q, eid, e)
        q.reindex(eid, e, before)

    # -- opening and registration ---------------------------------------------------------------------------
    def _created(self, ev: Event) -> None:
        d = ev.data
        benefits = code_table(d, "benefits")
        as_str(d, "name")
        key = as_int(d, "pseudonym_key")
        kind = as_str(d, "kind")
        if kind != "kindergarten":
            self.fail(ev, "invalid_queue", "kindergarten.created kind", "kindergarten", kind)
        if self.check_rule_set is not None:
            found = self.check_rule_set(ev, "kindergarten", frozen_rules("kindergarten", d), "$")
            if found is not None:
                self.report(found)
        if ev.version != 1:
            self.fail(ev, "created_not_first", "kindergarten.created opens its stream", "version 1", ev.version)
        qid = ev.stream
        self.queues[qid] = Queue(
            id=qid,
            institutions=as_str_list(d, "institutions"),
            benefit_rank={c: i + 1 for i, c in enumerate(benefits)},
            benefit_statute=benefits,
            removal_reasons=code_table(d, "removal_reasons"),
            acceptance_days=as_int(d, "acceptance_days"),
            max_preferences=as_int(d, "max_preferences"),
            entries=Slice(self.entries, qid),
            offers=Slice(self.offers, qid),
            held=Slice(self.held, qid),
            children=Slice(self.children, qid),
            waiting=self.waiting,
            pseudonym_key=key,
        )

    def _institutions_problem(self, q: Queue, institutions: list[str]) -> str | None:
        if not institutions:
            return "no institution"
        if len(set(institutions)) != len(institutions):
            return "an institution is listed twice"
        unknown = [i for i in institutions if i not in q.institutions]
        if unknown:
            return f"institutions {unknown} are not in the queue"
        if len(institutions) > q.max_preferences:
            return f"more than max_preferences ({q.max_preferences}) institutions"
        return None

    def _registered(self, ev: Event, q: Queue) -> None:
        d = ev.data
        eid = as_str(d, "entry")
        applicant = as_str(d, "applicant")
        child = as_str(d, "child")
        commitment = as_str(d, "child_commitment")
        birth_year = as_int(d, "birth_year")
        institutions = as_str_list(d, "institutions")
        registered_at = as_str(d, "registered_at")
        old = q.entries.get(eid)
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
            expected_id = stream_id(ev.stream, "entry", q.registrations + 1)
            if eid != expected_id:
                self.fail(
                    ev,
                    "entry_id_mismatch",
                    f"the {q.registrations + 1}th registration's entry is S(queue, 'entry', {q.registrations + 1})",
                    expected_id,
                    eid,
                )
        if registered_at != ev.time:
            self.fail(ev, "registered_at_mismatch", "registered_at = time of the registration", ev.time, registered_at)
        for value, kind in ((applicant, "cit"), (child, "chd")):
            wrong = pseudonym_problem(value, kind, q.pseudonym_key)
            if wrong is not None:
                self.fail(ev, "pseudonym_mismatch", "applicant/child pseudonyms use the queue's key", wrong, value)
        problem = self._institutions_problem(q, institutions)
        if problem is not None:
            self.fail(ev, "invalid_institutions", problem, q.institutions, institutions)
        if not 2000 <= birth_year <= int(ev.time[:4]):
            self.fail(ev, "invalid_birth_year", "2000 <= birth_year <= year(time)", f"2000..{ev.time[:4]}", birth_year)
        other = q.children.get(child)
        if other is not None and other != eid and q.entries[other].status == "waiting":
            self.fail(ev, "duplicate_child", "the child already has a waiting entry", None, other)
        if not COMMITMENT_RE.match(commitment):
            self.fail(ev, "invalid_commitment", "child_commitment", "sha256:<64 hex>", commitment)
        before = q.rows(eid, old)
        e = Entry(applicant, child, birth_year, list(institutions), registered_at)
        q.entries[eid] = e
        q.reindex(eid, e, before)
        q.children[child] = eid
        q.registrations += 1

    # -- entry events (checks, then the effect as recorded) -------------------------------------------------
    def _waiting(self, ev: Event, e: Entry, eid: str) -> None:
        if e.status != "waiting":
            self.fail(ev, "entry_not_waiting", f"entry {eid} is not waiting", "waiting", e.status)

    def _benefit_granted(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        d = ev.data
        code = as_str(d, "code")
        basis = as_str(d, "basis")
        document = as_str(d, "document_commitment")
        self._waiting(ev, e, eid)
        statute = q.benefit_statute.get(code)
        if statute is None:
            self.fail(
                ev,
                "benefit_unknown_code",
                "priority raised with a code not in the queue's benefit table",
                list(q.benefit_statute),
                code,
            )
        elif basis != statute:
            self.fail(
                ev,
                "benefit_basis_mismatch",
                "priority raised without its legal basis (the table's statute)",
                statute,
                basis,
            )
        if code in e.benefits:
            self.fail(ev, "benefit_already_granted", "benefit already granted", "not granted", code)
        if not COMMITMENT_RE.match(document):
            self.fail(
                ev,
                "benefit_without_document",
                "priority raised without a document commitment",
                "sha256:<64 hex>",
                document,
            )
        self.documents.cite(ev, document, f"child {e.child}", eid)
        e.benefits.add(code)

    def _benefit_revoked(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        code = as_str(ev.data, "code")
        reason = as_str(ev.data, "reason")
        self._waiting(ev, e, eid)
        if code not in e.benefits:
            self.fail(ev, "benefit_not_granted", "revoking a benefit the entry does not hold", sorted(e.benefits), code)
        if reason not in REVOKE_REASONS:
            self.fail(ev, "revoke_reason_unknown", "benefit_revoked reason", list(REVOKE_REASONS), reason)
        e.benefits.discard(code)

    def _preferences(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        institutions = as_str_list(ev.data, "institutions")
        self._waiting(ev, e, eid)
        problem = self._institutions_problem(q, institutions)
        if problem is not None:
            self.fail(ev, "invalid_institutions", problem, q.institutions, institutions)
        if institutions == e.institutions:
            self.fail(
                ev,
                "preferences_unchanged",
                "preferences_changed must change the list",
                "a different list",
                institutions,
            )
        e.institutions = list(institutions)

    def _offer_issued(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        d = ev.data
        oid = as_str(d, "offer")
        institution = as_str(d, "institution")
        birth_year = as_int(d, "birth_year")
        place = as_str(d, "place")
        expires_at = as_str(d, "expires_at")
        expected_id = stream_id(ev.stream, "offer", q.offers_issued + 1)
        if oid != expected_id:
            self.fail(
                ev, "offer_id_mismatch", f"the {q.offers_issued + 1}th offer is S(queue, 'offer', n)", expected_id, oid
            )
        if institution not in q.institutions:
            self.fail(
                ev, "unknown_institution", "offer for an institution not in the queue", q.institutions, institution
            )
        if _held_key(institution, place) in q.held:
            self.fail(
                ev,
                "place_held",
                f"place {place} of {institution} is already held by another offer",
                "a free place",
                place,
            )
        first = q.first_eligible(institution, birth_year)
        if first != eid:
            self.fail(
                ev,
                "offer_out_of_turn",
                f"offer out of turn: the first eligible entry of ({institution}, {birth_year}) by (benefit rank, "
                "registered_at, entry id) is another",
                {"entry": first, "key": list(q.key(first))} if first else "no eligible entry",
                {
                    "entry": eid,
                    "key": list(q.key(eid)),
                    "status": e.status,
                    "pending_offer": e.offer,
                    "birth_year": e.birth_year,
                    "institutions": e.institutions,
                },
            )
        expected_expiry = add_days(ev.time, q.acceptance_days)
        if expires_at != expected_expiry:
            self.fail(
                ev,
                "expires_at_mismatch",
                f"expires_at = time + {q.acceptance_days} x 24 h",
                expected_expiry,
                expires_at,
            )
        q.offers[oid] = Offer(eid, institution, place, expires_at)
        e.offer = oid
        q.held[_held_key(institution, place)] = 1
        q.offers_issued += 1

    def _pending_offer(self, ev: Event, q: Queue, eid: str) -> Offer | None:
        oid = as_str(ev.data, "offer")
        o: Offer | None = q.offers.get(oid)
        if o is None:
            self.fail(ev, "unknown_offer", "no such offer in this queue", None, oid)
            return None
        if o.status != "pending":
            self.fail(ev, "offer_not_pending", f"offer {oid} is not pending", "pending", o.status)
        if o.entry != eid:
            self.fail(ev, "offer_entry_mismatch", f"offer {oid} was issued to another entry", o.entry, eid)
        return o

    def _offer_answered(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        o = self._pending_offer(ev, q, eid)
        if o is None:
            return
        if not ev.time < o.expires_at:
            self.fail(
                ev,
                "offer_answered_after_expiry",
                "accept/decline only at time < expires_at",
                f"< {o.expires_at}",
                ev.time,
            )
        if ev.type == "kindergarten.offer_accepted":
            o.status = "accepted"
            e.status = "placed"
            e.offer = None
            q.children.pop(e.child, None)
        else:
            self._release(q, e, o, "declined")

    def _offer_expired(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        o = self._pending_offer(ev, q, eid)
        if o is None:
            return
        if ev.time < o.expires_at:
            self.fail(
                ev, "offer_expired_early", "offer_expired only at time >= expires_at", f">= {o.expires_at}", ev.time
            )
        self._release(q, e, o, "expired")
        if ev.actor == CLOCK:
            q.reoffer = (o.institution, e.birth_year, o.place, ev)

    def _passed_on(self, ev: Event, q: Queue) -> None:
        """The event after a clock expiry is the clock's offer of the same place to the same group (when the group
        has an eligible entry: that it is the first one is ``offer_out_of_turn``'s check); a clock offer follows
        such an expiry."""
        expected, q.reoffer = q.reoffer, None
        d = ev.data
        if ev.type == "kindergarten.offer_issued" and ev.actor == CLOCK:
            found = (d.get("institution"), d.get("birth_year"), d.get("place"))
            if expected is None or found != expected[:3]:
                self.fail(
                    ev,
                    "clock_offer_unprompted",
                    "the clock offers a place only right after it expired that place's offer, to the same group",
                    None
                    if expected is None
                    else {"institution": expected[0], "birth_year": expected[1], "place": expected[2]},
                    {"institution": found[0], "birth_year": found[1], "place": found[2]},
                )
            return
        if expected is not None:
            self._reoffer_missing(ev, q, expected)

    def _reoffer_missing(self, at: Event, q: Queue, expected: tuple[str, int, str, Event]) -> None:
        institution, year, place, expiry = expected
        first = q.first_eligible(institution, year)
        if first is not None and _held_key(institution, place) not in q.held:
            self.fail(
                at,
                "clock_reoffer_missing",
                f"the clock expired an offer (event #{expiry.index}) but did not offer place {place} of "
                f"{institution} to the next eligible entry of ({institution}, {year}) in the same step",
                {"type": "kindergarten.offer_issued", "entry": first, "place": place, "actor": CLOCK},
                ev_summary(at) if at is not expiry else "no later event of the queue",
            )

    def finish(self) -> None:
        for q in self.queues.values():
            if q.reoffer is not None:
                expected, q.reoffer = q.reoffer, None
                self._reoffer_missing(expected[3], q, expected)

    @staticmethod
    def _release(q: Queue, e: Entry, o: Offer, status: str) -> None:
        o.status = status
        e.offer = None
        e.institutions = [i for i in e.institutions if i != o.institution]
        q.held.pop(_held_key(o.institution, o.place))

    def _left(self, ev: Event, q: Queue, eid: str, e: Entry) -> None:
        self._waiting(ev, e, eid)
        if ev.type == "kindergarten.entry_removed":
            code = as_str(ev.data, "reason_code")
            if code not in q.removal_reasons:
                self.fail(
                    ev,
                    "removal_without_reason",
                    "entry dropped without a reason code of the queue's table",
                    list(q.removal_reasons),
                    code,
                )
        if e.offer is not None:
            o = q.offers[e.offer]
            o.status = "cancelled"
            q.held.pop(_held_key(o.institution, o.place))
        e.status = "withdrawn" if ev.type == "kindergarten.entry_withdrawn" else "removed"
        e.offer = None
        q.children.pop(e.child, None)

    def state_items(self) -> Iterator[tuple[str, Any]]:
        """``state.json``'s ``kindergarten`` part in key order, each queue's orders read from the index as they
        are consumed (:class:`LazyObject`: never a whole order in memory)."""
        for qid, q in sorted(self.queues.items()):
            yield qid, q.lazy_orders()


def ev_summary(ev: Event) -> dict[str, Any]:
    return {"index": ev.index, "type": ev.logged_type, "actor": dict(ev.actor)}


_HANDLERS = {
    "kindergarten.benefit_granted": KindergartenRules._benefit_granted,
    "kindergarten.benefit_revoked": KindergartenRules._benefit_revoked,
    "kindergarten.preferences_changed": KindergartenRules._preferences,
    "kindergarten.offer_issued": KindergartenRules._offer_issued,
    "kindergarten.offer_accepted": KindergartenRules._offer_answered,
    "kindergarten.offer_declined": KindergartenRules._offer_answered,
    "kindergarten.offer_expired": KindergartenRules._offer_expired,
    "kindergarten.entry_withdrawn": KindergartenRules._left,
    "kindergarten.entry_removed": KindergartenRules._left,
}
