"""Housing register (``housing.*``): one stream per register (city or district).

Lists: ``general`` (every active entry, by ``registered_at``), ``first_priority`` and ``out_of_turn`` (entries
included in them, by the time of inclusion). Removal needs a legal reason code (Housing Code art. 40 style);
the annual re-registration never drops anyone silently: a missed re-registration only produces
``housing.removal_proposed``, and an actual removal is a separate ``housing.entry_removed`` with a code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate, rfc3339, stream_id
from domain.commitments import validate_commitment
from domain.errors import (
    AlreadyInList,
    AlreadyReregistered,
    DuplicateEntry,
    EntryNotActive,
    InvalidInput,
    NoEligibleEntry,
    NotInList,
    OfferOutOfTurn,
    PlaceUnavailable,
    UnknownBenefitCode,
    UnknownEntry,
    UnknownList,
    UnknownReasonCode,
)
from domain.housing.order import RegisterIndex, list_order
from domain.housing.rules import HOUSING_LISTS, LIST_EXCLUSION_REASONS, REREGISTRATION_MISSED, housing_rules

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def fold_housing(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "housing.register_opened":
        state.update(
            name=data["name"],
            removal_reasons=data["removal_reasons"],
            list_bases=data["list_bases"],
            rule_set=data.get("rule_set"),  # the published rule set the two were frozen from (None: inline)
            pseudonym_key=data["pseudonym_key"],
            entries={},
            dwellings={},
            registrations=0,
        )
        return
    entries: dict[str, dict[str, Any]] = state["entries"]
    if type_ == "housing.entry_registered":
        entries[data["entry"]] = {
            "applicant": data["applicant"],
            "household_commitment": data["household_commitment"],
            "registered_at": data["registered_at"],
            "status": "active",
            "lists": {},
            "reregistered": [],
            "proposed": [],
        }
        state["registrations"] += 1
        return
    entry = entries[data["entry"]]
    if type_ == "housing.list_included":
        entry["lists"][data["list"]] = {
            "included_at": time,
            "basis": data["basis"],
            "document_commitment": data["document_commitment"],
        }
    elif type_ == "housing.list_excluded":
        del entry["lists"][data["list"]]
    elif type_ == "housing.reregistered":
        entry["reregistered"].append(data["year"])
        entry["proposed"] = [y for y in entry["proposed"] if y != data["year"]]
    elif type_ == "housing.removal_proposed":
        entry["proposed"].append(data["year"])
    elif type_ == "housing.entry_removed":
        entry.update(status="removed", removal_reason=data["reason_code"])
    elif type_ == "housing.dwelling_allocated":
        entry.update(status="allocated", allocated_from=data["list"], dwelling=data["dwelling"])
        state["dwellings"][data["dwelling"]] = data["entry"]


class HousingRegister(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            index: RegisterIndex | None = aggregate.__dict__.get("_index")
            entry = getattr(self, "entry", None)
            if index is not None and entry is not None:  # kept once built (see :meth:`HousingRegister.index`)
                index.touched(aggregate.state, entry)

    class Opened(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "housing.register_opened"
        name: str
        removal_reasons: list[dict[str, str]]
        list_bases: dict[str, list[dict[str, str]]]
        pseudonym_key: int
        #: ``{"name", "version"}`` of the published ``housing`` rule set the two tables above were copied from;
        #: absent when they were written inline (a city that publishes no such rule set, older logs).
        rule_set: dict[str, Any] | None = None
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rule_set"})

        def __post_init__(self) -> None:
            if self.__dict__.get("rule_set", 0) is None:
                del self.__dict__["rule_set"]

    class EntryRegistered(Event):
        TYPE: ClassVar[str] = "housing.entry_registered"
        entry: str
        applicant: str
        household_commitment: str
        registered_at: str

    class ListIncluded(Event):
        TYPE: ClassVar[str] = "housing.list_included"
        entry: str
        list: str
        code: str
        basis: str
        document_commitment: str

    class ListExcluded(Event):
        TYPE: ClassVar[str] = "housing.list_excluded"
        entry: str
        list: str
        reason: str

    class Reregistered(Event):
        TYPE: ClassVar[str] = "housing.reregistered"
        entry: str
        year: int

    class RemovalProposed(Event):
        TYPE: ClassVar[str] = "housing.removal_proposed"
        entry: str
        year: int
        reason_code: str

    class EntryRemoved(Event):
        TYPE: ClassVar[str] = "housing.entry_removed"
        entry: str
        reason_code: str
        statute: str

    class DwellingAllocated(Event):
        TYPE: ClassVar[str] = "housing.dwelling_allocated"
        entry: str
        list: str
        dwelling: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_housing(state, type_, time, actor, data)

    @classmethod
    def open(
        cls,
        *,
        register_id: UUID,
        name: str,
        removal_reasons: Any,
        list_bases: Mapping[str, Any],
        pseudonym_key: int,
        at: datetime,
        actor: Mapping[str, str],
        rule_set: Mapping[str, Any] | None = None,
    ) -> HousingRegister:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput("register name must be 1-200 characters")
        tables = housing_rules(removal_reasons=removal_reasons, list_bases=list_bases)
        result: HousingRegister = cls._start(
            cls.Opened,
            id=register_id,
            at=at,
            actor=actor,
            name=name.strip(),
            **tables,
            pseudonym_key=pseudonym_key,
            **({} if rule_set is None else {"rule_set": dict(rule_set)}),
        )
        return result

    def entry(self, entry_id: str) -> dict[str, Any]:
        try:
            return dict(self.state["entries"][entry_id])
        except (KeyError, TypeError):
            raise UnknownEntry("no such entry", register=str(self.id), entry=str(entry_id)) from None

    def index(self) -> RegisterIndex:
        """The register's lookup index (:class:`~domain.housing.order.RegisterIndex`): built from the state on first
        use (O(entries), once per loaded copy), then kept by every event applied to this copy."""
        found: RegisterIndex | None = self.__dict__.get("_index")
        if found is None:
            found = self.__dict__["_index"] = RegisterIndex(self.state)
        return found

    def _active(self, entry_id: str) -> dict[str, Any]:
        e = self.entry(entry_id)
        if e["status"] != "active":
            raise EntryNotActive("entry is not active", entry=entry_id, found=e["status"])
        return e

    def register(self, *, applicant: str, household_commitment: str, at: datetime, actor: Mapping[str, str]) -> str:
        validate_commitment(household_commitment, "household_commitment")
        active = self.index().active.get(applicant)
        if active is not None:
            raise DuplicateEntry("applicant already has an active entry", register=str(self.id), entry=active)
        entry_id = str(stream_id(str(self.id), "entry", str(self.state["registrations"] + 1)))
        self._emit(
            self.EntryRegistered,
            at=at,
            actor=actor,
            entry=entry_id,
            applicant=applicant,
            household_commitment=household_commitment,
            registered_at=rfc3339(at),
        )
        return entry_id

    def include(
        self, *, entry: str, list_name: str, code: str, document_commitment: str, at: datetime, actor: Mapping[str, str]
    ) -> None:
        e = self._active(entry)
        if list_name not in self.state["list_bases"]:
            raise UnknownList("unknown list", found=str(list_name), expected=sorted(self.state["list_bases"]))
        bases = {b["code"]: b for b in self.state["list_bases"][list_name]}
        if code not in bases:
            raise UnknownBenefitCode("unknown basis for this list", found=str(code), expected=list(bases))
        if list_name in e["lists"]:
            raise AlreadyInList("entry already in this list", entry=entry, list=list_name)
        validate_commitment(document_commitment, "document_commitment")
        self._emit(
            self.ListIncluded,
            at=at,
            actor=actor,
            entry=entry,
            list=list_name,
            code=code,
            basis=bases[code]["statute"],
            document_commitment=document_commitment,
        )

    def exclude(self, *, entry: str, list_name: str, reason: str, at: datetime, actor: Mapping[str, str]) -> None:
        e = self._active(entry)
        if list_name not in self.state["list_bases"]:
            raise UnknownList("unknown list", found=str(list_name), expected=sorted(self.state["list_bases"]))
        if reason not in LIST_EXCLUSION_REASONS:
            raise UnknownReasonCode("unknown exclusion reason", found=str(reason), expected=LIST_EXCLUSION_REASONS)
        if list_name not in e["lists"]:
            raise NotInList("entry is not in this list", entry=entry, list=list_name)
        self._emit(self.ListExcluded, at=at, actor=actor, entry=entry, list=list_name, reason=reason)

    def reregister(self, *, entry: str, year: int, at: datetime, actor: Mapping[str, str]) -> None:
        e = self._active(entry)
        now_year = int(rfc3339(at)[:4])
        if not isinstance(year, int) or isinstance(year, bool) or not int(e["registered_at"][:4]) <= year <= now_year:
            raise InvalidInput("re-registration year out of range", found=str(year))
        if year in e["reregistered"]:
            raise AlreadyReregistered("already re-registered for this year", entry=entry, year=year)
        self._emit(self.Reregistered, at=at, actor=actor, entry=entry, year=year)

    def propose_removals(self, *, year: int, at: datetime, actor: Mapping[str, str]) -> list[str]:
        """Emit ``removal_proposed`` for every active entry registered before ``year`` that has not
        re-registered for ``year`` and has no proposal for it yet. Returns the entries, in general-list order."""
        if not isinstance(year, int) or isinstance(year, bool) or year > int(rfc3339(at)[:4]):
            raise InvalidInput("year out of range", found=str(year))
        out = []
        for eid in list_order(self.state, "general"):
            e = self.state["entries"][eid]
            if int(e["registered_at"][:4]) < year and year not in e["reregistered"] and year not in e["proposed"]:
                out.append(eid)
        for eid in out:
            self._emit(
                self.RemovalProposed, at=at, actor=actor, entry=eid, year=year, reason_code=REREGISTRATION_MISSED
            )
        return out

    def remove(self, *, entry: str, reason_code: str, at: datetime, actor: Mapping[str, str]) -> None:
        self._active(entry)
        table = {r["code"]: r for r in self.state["removal_reasons"]}
        if reason_code not in table:
            raise UnknownReasonCode("removal needs a legal reason code", found=str(reason_code), expected=list(table))
        self._emit(
            self.EntryRemoved,
            at=at,
            actor=actor,
            entry=entry,
            reason_code=reason_code,
            statute=table[reason_code]["statute"],
        )

    def allocate(
        self, *, list_name: str, dwelling: str, entry: str | None = None, at: datetime, actor: Mapping[str, str]
    ) -> str:
        if list_name not in HOUSING_LISTS:
            raise UnknownList("unknown list", found=str(list_name), expected=list(HOUSING_LISTS))
        if not isinstance(dwelling, str) or not _ID.fullmatch(dwelling):
            raise InvalidInput("malformed dwelling id", found=str(dwelling))
        if dwelling in self.state["dwellings"]:
            raise PlaceUnavailable(
                "dwelling already allocated", dwelling=dwelling, entry=self.state["dwellings"][dwelling]
            )
        first = self.index().first(self.state, list_name)
        if first is None:
            raise NoEligibleEntry("list is empty", list=list_name)
        if entry is not None and entry != first:
            raise OfferOutOfTurn(
                "allocation must go to the first entry of the list", list=list_name, expected=first, found=entry
            )
        self._emit(self.DwellingAllocated, at=at, actor=actor, entry=first, list=list_name, dwelling=dwelling)
        return first
