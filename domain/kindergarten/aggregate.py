"""Kindergarten queue (``kindergarten.*``; ``queue.*`` in envelope format 1): one stream per queue holding every
event that can change the order.

Keeping all entries of a queue in one stream is deliberate: an offer is decided on exactly the state that
precedes it in the stream, and optimistic concurrency on the stream version makes two concurrent offers (or
an offer racing a benefit grant) impossible: one of them fails and is re-decided. Snapshots keep loading fast.

Order within a group (institution, birth year): ``(benefit rank, registered_at, entry id)``; see
:mod:`domain.kindergarten.order`. There is no event that sets a position: positions are computed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate, add_days, rfc3339, stream_id
from domain.commitments import validate_commitment
from domain.errors import (
    BenefitAlreadyGranted,
    BenefitNotGranted,
    DuplicateEntry,
    EntryNotActive,
    InvalidInput,
    NoEligibleEntry,
    OfferExpired,
    OfferNotExpired,
    OfferNotPending,
    OfferOutOfTurn,
    PlaceUnavailable,
    UnknownBenefitCode,
    UnknownEntry,
    UnknownInstitution,
    UnknownOffer,
    UnknownReasonCode,
)
from domain.kindergarten.order import QueueIndex
from domain.kindergarten.rules import BENEFIT_REVOKE_REASONS, kindergarten_rules

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
MAX_INSTITUTIONS = 500


def place_key(institution: str, place: str) -> str:
    return f"{institution}#{place}"


def fold_kindergarten(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "kindergarten.created":
        state.update(
            name=data["name"],
            institutions=list(data["institutions"]),
            benefits=data["benefits"],
            benefit_ranks={b["code"]: i + 1 for i, b in enumerate(data["benefits"])},
            removal_reasons=data["removal_reasons"],
            acceptance_days=data["acceptance_days"],
            max_preferences=data["max_preferences"],
            rule_set=data.get("rule_set"),  # the published rule set the four were frozen from (None: inline)
            pseudonym_key=data["pseudonym_key"],
            entries={},
            offers={},
            held={},
            children={},
            registrations=0,
            offers_issued=0,
        )
        return
    entries: dict[str, dict[str, Any]] = state["entries"]
    if type_ == "kindergarten.entry_registered":
        entries[data["entry"]] = {
            "applicant": data["applicant"],
            "child": data["child"],
            "child_commitment": data["child_commitment"],
            "birth_year": data["birth_year"],
            "institutions": list(data["institutions"]),
            "registered_at": data["registered_at"],
            "benefits": {},
            "status": "waiting",
            "offer": None,
        }
        state["children"][data["child"]] = data["entry"]
        state["registrations"] += 1
        return
    entry = entries[data["entry"]]
    if type_ == "kindergarten.benefit_granted":
        entry["benefits"][data["code"]] = {
            "basis": data["basis"],
            "document_commitment": data["document_commitment"],
            "granted_at": time,
        }
    elif type_ == "kindergarten.benefit_revoked":
        del entry["benefits"][data["code"]]
    elif type_ == "kindergarten.preferences_changed":
        entry["institutions"] = list(data["institutions"])
    elif type_ == "kindergarten.offer_issued":
        state["offers"][data["offer"]] = {
            "entry": data["entry"],
            "institution": data["institution"],
            "birth_year": data["birth_year"],
            "place": data["place"],
            "issued_at": time,
            "expires_at": data["expires_at"],
            "status": "pending",
        }
        entry["offer"] = data["offer"]
        state["held"][place_key(data["institution"], data["place"])] = data["offer"]
        state["offers_issued"] += 1
    elif type_ == "kindergarten.offer_accepted":
        state["offers"][data["offer"]]["status"] = "accepted"
        entry.update(status="placed", offer=None, placed_at=time)
        state["children"].pop(entry["child"], None)
    elif type_ in ("kindergarten.offer_declined", "kindergarten.offer_expired"):
        offer = state["offers"][data["offer"]]
        offer["status"] = "declined" if type_ == "kindergarten.offer_declined" else "expired"
        entry["offer"] = None
        entry["institutions"] = [i for i in entry["institutions"] if i != offer["institution"]]
        state["held"].pop(place_key(offer["institution"], offer["place"]), None)
    elif type_ in ("kindergarten.entry_withdrawn", "kindergarten.entry_removed"):
        if entry["offer"] is not None:
            offer = state["offers"][entry["offer"]]
            offer["status"] = "cancelled"
            state["held"].pop(place_key(offer["institution"], offer["place"]), None)
        entry.update(status="withdrawn" if type_ == "kindergarten.entry_withdrawn" else "removed", offer=None)
        if type_ == "kindergarten.entry_removed":
            entry["removal_reason"] = data["reason_code"]
        state["children"].pop(entry["child"], None)


def _institutions(state: Mapping[str, Any], institutions: Any) -> list[str]:
    if not isinstance(institutions, list | tuple) or not institutions:
        raise InvalidInput("institutions must be a non-empty list")
    out = [str(i) for i in institutions]
    if len(set(out)) != len(out):
        raise InvalidInput("an institution is listed twice", found=out)
    unknown = [i for i in out if i not in state["institutions"]]
    if unknown:
        raise UnknownInstitution("unknown institution", found=unknown, expected=state["institutions"])
    if len(out) > state["max_preferences"]:
        raise InvalidInput("too many preferred institutions", expected=state["max_preferences"], found=len(out))
    return out


class KindergartenQueue(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            index: QueueIndex | None = aggregate.__dict__.get("_index")
            if index is not None:  # kept once built (see :meth:`KindergartenQueue.index`)
                entry = getattr(self, "entry", None)
                if entry is not None:
                    index.touched(aggregate.state, entry)
                if self.TYPE == "kindergarten.offer_issued":
                    index.offered(aggregate.state, vars(self)["offer"])

    class Created(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "kindergarten.created"
        kind: str
        name: str
        institutions: list[str]
        benefits: list[dict[str, str]]
        removal_reasons: list[dict[str, str]]
        acceptance_days: int
        max_preferences: int
        pseudonym_key: int
        #: ``{"name", "version"}`` of the published ``kindergarten`` rule set the four rule fields above were copied
        #: from; absent when they were written inline (a city that publishes no such rule set, older logs).
        rule_set: dict[str, Any] | None = None
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rule_set"})

        def __post_init__(self) -> None:
            if self.__dict__.get("rule_set", 0) is None:
                del self.__dict__["rule_set"]

    class EntryRegistered(Event):
        TYPE: ClassVar[str] = "kindergarten.entry_registered"
        entry: str
        applicant: str
        child: str
        child_commitment: str
        birth_year: int
        institutions: list[str]
        registered_at: str

    class BenefitGranted(Event):
        TYPE: ClassVar[str] = "kindergarten.benefit_granted"
        entry: str
        code: str
        basis: str
        document_commitment: str

    class BenefitRevoked(Event):
        TYPE: ClassVar[str] = "kindergarten.benefit_revoked"
        entry: str
        code: str
        reason: str

    class PreferencesChanged(Event):
        TYPE: ClassVar[str] = "kindergarten.preferences_changed"
        entry: str
        institutions: list[str]

    class OfferIssued(Event):
        TYPE: ClassVar[str] = "kindergarten.offer_issued"
        offer: str
        entry: str
        institution: str
        birth_year: int
        place: str
        expires_at: str

    class OfferAccepted(Event):
        TYPE: ClassVar[str] = "kindergarten.offer_accepted"
        offer: str
        entry: str

    class OfferDeclined(Event):
        TYPE: ClassVar[str] = "kindergarten.offer_declined"
        offer: str
        entry: str

    class OfferExpired(Event):
        TYPE: ClassVar[str] = "kindergarten.offer_expired"
        offer: str
        entry: str

    class EntryWithdrawn(Event):
        TYPE: ClassVar[str] = "kindergarten.entry_withdrawn"
        entry: str

    class EntryRemoved(Event):
        TYPE: ClassVar[str] = "kindergarten.entry_removed"
        entry: str
        reason_code: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_kindergarten(state, type_, time, actor, data)

    # -- creation ----------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        queue_id: UUID,
        name: str,
        institutions: Iterable[str],
        benefits: Any,
        removal_reasons: Any,
        acceptance_days: int,
        max_preferences: int,
        pseudonym_key: int,
        at: datetime,
        actor: Mapping[str, str],
        rule_set: Mapping[str, Any] | None = None,
    ) -> KindergartenQueue:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput("queue name must be 1-200 characters")
        insts = list(institutions) if not isinstance(institutions, str | bytes | Mapping) else []
        if not 1 <= len(insts) <= MAX_INSTITUTIONS or len(set(insts)) != len(insts):
            raise InvalidInput(f"institutions must be 1-{MAX_INSTITUTIONS} distinct ids", field="institutions")
        if not all(isinstance(i, str) and _ID.fullmatch(i) for i in insts):
            raise InvalidInput("institutions must be ids of A-Z a-z 0-9 . _ / -", field="institutions")
        rules = kindergarten_rules(
            benefits=benefits,
            removal_reasons=removal_reasons,
            acceptance_days=acceptance_days,
            max_preferences=max_preferences,
        )
        result: KindergartenQueue = cls._start(
            cls.Created,
            id=queue_id,
            at=at,
            actor=actor,
            kind="kindergarten",
            name=name.strip(),
            institutions=insts,
            **rules,
            pseudonym_key=pseudonym_key,
            **({} if rule_set is None else {"rule_set": dict(rule_set)}),
        )
        return result

    # -- queries -------------------------------------------------------------------------------------------
    def entry(self, entry_id: str) -> dict[str, Any]:
        try:
            return dict(self.state["entries"][entry_id])
        except (KeyError, TypeError):
            raise UnknownEntry("no such entry", queue=str(self.id), entry=str(entry_id)) from None

    def offer(self, offer_id: str) -> dict[str, Any]:
        try:
            return dict(self.state["offers"][offer_id])
        except (KeyError, TypeError):
            raise UnknownOffer("no such offer", queue=str(self.id), offer=str(offer_id)) from None

    def _waiting(self, entry_id: str) -> dict[str, Any]:
        e = self.entry(entry_id)
        if e["status"] != "waiting":
            raise EntryNotActive("entry is not waiting", entry=entry_id, found=e["status"])
        return e

    def index(self) -> QueueIndex:
        """The queue's lookup index (:class:`~domain.kindergarten.order.QueueIndex`): built from the state on first
        use (O(entries), once per loaded copy), then kept by every event applied to this copy."""
        found: QueueIndex | None = self.__dict__.get("_index")
        if found is None:
            found = self.__dict__["_index"] = QueueIndex(self.state)
        return found

    def next_entry_id(self) -> str:
        return str(stream_id(str(self.id), "entry", str(self.state["registrations"] + 1)))

    # -- commands ------------------------------------------------------------------------------------------
    def register(
        self,
        *,
        applicant: str,
        child: str,
        child_commitment: str,
        birth_year: int,
        institutions: Any,
        at: datetime,
        actor: Mapping[str, str],
    ) -> str:
        now = rfc3339(at)
        if not isinstance(birth_year, int) or isinstance(birth_year, bool) or not 2000 <= birth_year <= int(now[:4]):
            raise InvalidInput("birth_year out of range", found=str(birth_year))
        validate_commitment(child_commitment, "child_commitment")
        insts = _institutions(self.state, institutions)
        if child in self.state["children"]:
            raise DuplicateEntry(
                "this child already has an active entry", queue=str(self.id), entry=self.state["children"][child]
            )
        entry_id = self.next_entry_id()
        self._emit(
            self.EntryRegistered,
            at=at,
            actor=actor,
            entry=entry_id,
            applicant=applicant,
            child=child,
            child_commitment=child_commitment,
            birth_year=birth_year,
            institutions=insts,
            registered_at=now,
        )
        return entry_id

    def grant_benefit(
        self, *, entry: str, code: str, document_commitment: str, at: datetime, actor: Mapping[str, str]
    ) -> None:
        e = self._waiting(entry)
        table = {b["code"]: b for b in self.state["benefits"]}
        if code not in table:
            raise UnknownBenefitCode("unknown benefit code", found=str(code), expected=list(table))
        if code in e["benefits"]:
            raise BenefitAlreadyGranted("benefit already granted", entry=entry, code=code)
        validate_commitment(document_commitment, "document_commitment")
        self._emit(
            self.BenefitGranted,
            at=at,
            actor=actor,
            entry=entry,
            code=code,
            basis=table[code]["statute"],
            document_commitment=document_commitment,
        )

    def revoke_benefit(self, *, entry: str, code: str, reason: str, at: datetime, actor: Mapping[str, str]) -> None:
        e = self._waiting(entry)
        if reason not in BENEFIT_REVOKE_REASONS:
            raise UnknownReasonCode("unknown revocation reason", found=str(reason), expected=BENEFIT_REVOKE_REASONS)
        if code not in e["benefits"]:
            raise BenefitNotGranted("entry has no such benefit", entry=entry, code=str(code))
        self._emit(self.BenefitRevoked, at=at, actor=actor, entry=entry, code=code, reason=reason)

    def change_preferences(self, *, entry: str, institutions: Any, at: datetime, actor: Mapping[str, str]) -> None:
        e = self._waiting(entry)
        insts = _institutions(self.state, institutions)
        if insts == e["institutions"]:
            raise InvalidInput("preferences unchanged", entry=entry)
        self._emit(self.PreferencesChanged, at=at, actor=actor, entry=entry, institutions=insts)

    def issue_offer(
        self,
        *,
        institution: str,
        birth_year: int,
        place: str,
        entry: str | None = None,
        at: datetime,
        actor: Mapping[str, str],
    ) -> str:
        """Offer ``place`` to the first eligible entry of (institution, birth_year).

        If ``entry`` is given it must be that first eligible entry, otherwise :class:`OfferOutOfTurn`."""
        if institution not in self.state["institutions"]:
            raise UnknownInstitution("unknown institution", found=str(institution), expected=self.state["institutions"])
        if not isinstance(place, str) or not _ID.fullmatch(place):
            raise InvalidInput("malformed place id", found=str(place))
        if not isinstance(birth_year, int) or isinstance(birth_year, bool):
            raise InvalidInput("birth_year must be an integer")
        held = self.state["held"].get(place_key(institution, place))
        if held is not None:
            raise PlaceUnavailable("place already offered or taken", institution=institution, place=place, offer=held)
        expected = self.index().first_eligible(self.state, institution, birth_year)
        if expected is None:
            raise NoEligibleEntry("no eligible entry for this group", institution=institution, birth_year=birth_year)
        if entry is not None and entry != expected:
            raise OfferOutOfTurn(
                "offer must go to the first eligible entry",
                institution=institution,
                birth_year=birth_year,
                expected=expected,
                found=entry,
            )
        offer_id = str(stream_id(str(self.id), "offer", str(self.state["offers_issued"] + 1)))
        self._emit(
            self.OfferIssued,
            at=at,
            actor=actor,
            offer=offer_id,
            entry=expected,
            institution=institution,
            birth_year=birth_year,
            place=place,
            expires_at=add_days(rfc3339(at), self.state["acceptance_days"]),
        )
        return offer_id

    def _pending(self, offer_id: str) -> dict[str, Any]:
        o = self.offer(offer_id)
        if o["status"] != "pending":
            raise OfferNotPending("offer is not pending", offer=offer_id, found=o["status"])
        return o

    def accept_offer(self, *, offer: str, at: datetime, actor: Mapping[str, str]) -> None:
        o = self._pending(offer)
        if rfc3339(at) >= o["expires_at"]:
            raise OfferExpired("acceptance period is over", offer=offer, expires_at=o["expires_at"], at=rfc3339(at))
        self._emit(self.OfferAccepted, at=at, actor=actor, offer=offer, entry=o["entry"])

    def decline_offer(self, *, offer: str, at: datetime, actor: Mapping[str, str]) -> None:
        o = self._pending(offer)
        if rfc3339(at) >= o["expires_at"]:
            raise OfferExpired("acceptance period is over", offer=offer, expires_at=o["expires_at"], at=rfc3339(at))
        self._emit(self.OfferDeclined, at=at, actor=actor, offer=offer, entry=o["entry"])

    def expire_offer(self, *, offer: str, at: datetime, actor: Mapping[str, str]) -> None:
        o = self._pending(offer)
        if rfc3339(at) < o["expires_at"]:
            raise OfferNotExpired(
                "acceptance period still running", offer=offer, expires_at=o["expires_at"], at=rfc3339(at)
            )
        self._emit(self.OfferExpired, at=at, actor=actor, offer=offer, entry=o["entry"])

    def withdraw(self, *, entry: str, at: datetime, actor: Mapping[str, str]) -> None:
        self._waiting(entry)
        self._emit(self.EntryWithdrawn, at=at, actor=actor, entry=entry)

    def remove(self, *, entry: str, reason_code: str, at: datetime, actor: Mapping[str, str]) -> None:
        self._waiting(entry)
        codes = [r["code"] for r in self.state["removal_reasons"]]
        if reason_code not in codes:
            raise UnknownReasonCode("unknown removal reason", found=str(reason_code), expected=codes)
        self._emit(self.EntryRemoved, at=at, actor=actor, entry=entry, reason_code=reason_code)

    def due_expiries(self, at: datetime) -> list[str]:
        return self.index().due_expiries(self.state, rfc3339(at))
