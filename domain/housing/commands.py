"""Housing register commands (``housing.*``): open a register, register households, the special lists,
re-registration, removals with a legal reason, allocations in turn; the register's lists.

Every command of one register runs on its one stream (``AppCore._run``). Household data is sealed in the vault under
the entry's subject (``housing.<entry id>``); the event carries only its commitment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.base import stream_id
from domain.core import AppCore
from domain.errors import (
    InvalidInput,
    NotAuthorised,
    UnknownList,
)
from domain.housing.aggregate import HousingRegister
from domain.housing.order import list_order
from domain.housing.rules import HOUSING_LIST_BASES, HOUSING_LISTS, HOUSING_REMOVAL_REASONS
from domain.identity import CitizenIdentity, Principal


class HousingCommands(AppCore):
    """Housing registers: entries, list inclusions and exclusions, re-registration, removals, allocations."""

    def open_housing_register(
        self,
        *,
        by: Principal,
        name: str,
        at: datetime,
        removal_reasons: Any = None,
        list_bases: Mapping[str, Any] | None = None,
        register_id: UUID | None = None,
        rule_set: str | None = None,
        rule_set_version: int | None = None,
    ) -> UUID:
        """A register under one of the city's published ``housing`` rule sets (``rule_set``, its latest version
        unless ``rule_set_version``): its removal reasons and list bases are frozen into ``housing.register_opened``
        beside the reference. Inline tables (or the shipped defaults when none is given) are for a city that has
        published no housing rule set; from its first one on they are refused."""
        actor = self._authorise(by, "housing.register_opened")
        published, reference = self._referenced_rules(
            "housing",
            rule_set,
            rule_set_version,
            inline=removal_reasons is not None or list_bases is not None,
            what="removal_reasons or list_bases",
        )
        rules = published or {
            "removal_reasons": HOUSING_REMOVAL_REASONS if removal_reasons is None else removal_reasons,
            "list_bases": HOUSING_LIST_BASES if list_bases is None else list_bases,
        }
        reg = self._create(
            at,
            lambda at: HousingRegister.open(
                register_id=register_id or uuid4(),
                name=name,
                **rules,
                pseudonym_key=self.pseudonymizer.current,
                at=at,
                actor=actor,
                rule_set=reference,
            ),
        )
        return reg.id

    @staticmethod
    def housing_subject(entry_id: str) -> str:
        return f"housing.{entry_id}"

    def register_housing_entry(
        self,
        *,
        by: Principal,
        register_id: UUID,
        household_data: Mapping[str, str | int],
        at: datetime,
        applicant: CitizenIdentity | None = None,
    ) -> str:
        if isinstance(by, CitizenIdentity):
            if applicant is not None and applicant != by:
                raise NotAuthorised("a citizen registers only for themself")
            applicant = by
        if applicant is None:
            raise InvalidInput("a service registering an entry must name the applicant")
        holder = applicant

        def command(r: HousingRegister, at: datetime) -> str:
            pseudonym = self.pseudonymizer.citizen(holder.subject, r.state["pseudonym_key"])
            if isinstance(by, CitizenIdentity):
                actor = self._authorise(by, "housing.entry_registered", pseudonym=pseudonym)
            else:
                actor = self._authorise(by, "housing.entry_registered")
            subject = self.housing_subject(str(stream_id(str(r.id), "entry", str(r.state["registrations"] + 1))))
            commitment = self._seal(subject, household_data)
            try:
                return r.register(applicant=pseudonym, household_commitment=commitment, at=at, actor=actor)
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise

        return self._run(register_id, HousingRegister, "housing register", at, command)

    def include_in_list(
        self,
        *,
        by: Principal,
        register_id: UUID,
        entry: str,
        list_name: str,
        code: str,
        document: Mapping[str, str | int],
        at: datetime,
    ) -> str:
        actor = self._authorise(by, "housing.list_included")

        def command(r: HousingRegister, at: datetime) -> str:
            r.entry(entry)
            subject = self.housing_subject(entry)
            commitment = self._seal(subject, document)
            try:
                r.include(
                    entry=entry, list_name=list_name, code=code, document_commitment=commitment, at=at, actor=actor
                )
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise
            return commitment

        return self._run(register_id, HousingRegister, "housing register", at, command)

    def exclude_from_list(
        self, *, by: Principal, register_id: UUID, entry: str, list_name: str, reason: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "housing.list_excluded")
        self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.exclude(entry=entry, list_name=list_name, reason=reason, at=at, actor=actor),
        )

    def reregister_housing_entry(
        self, *, by: Principal, register_id: UUID, entry: str, year: int, at: datetime
    ) -> None:
        def command(r: HousingRegister, at: datetime) -> None:
            e = r.entry(entry)
            actor = self._as_applicant(by, "housing.reregistered", e["applicant"], r.state["pseudonym_key"])
            r.reregister(entry=entry, year=year, at=at, actor=actor)

        self._run(register_id, HousingRegister, "housing register", at, command)

    def propose_housing_removals(self, *, by: Principal, register_id: UUID, year: int, at: datetime) -> list[str]:
        actor = self._authorise(by, "housing.removal_proposed")
        return self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.propose_removals(year=year, at=at, actor=actor),
        )

    def remove_housing_entry(
        self, *, by: Principal, register_id: UUID, entry: str, reason_code: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "housing.entry_removed")
        self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.remove(entry=entry, reason_code=reason_code, at=at, actor=actor),
        )

    def allocate_dwelling(
        self,
        *,
        by: Principal,
        register_id: UUID,
        list_name: str,
        dwelling: str,
        at: datetime,
        entry: str | None = None,
    ) -> str:
        actor = self._authorise(by, "housing.dwelling_allocated")
        return self._run(
            register_id,
            HousingRegister,
            "housing register",
            at,
            lambda r, at: r.allocate(list_name=list_name, dwelling=dwelling, entry=entry, at=at, actor=actor),
        )

    def get_housing_register(self, register_id: UUID) -> HousingRegister:
        return self._get(register_id, HousingRegister, "housing register")

    def housing_list(self, register_id: UUID, list_name: str) -> list[str]:
        if list_name not in HOUSING_LISTS:
            raise UnknownList("unknown list", found=str(list_name), expected=list(HOUSING_LISTS))
        return list_order(self.get_housing_register(register_id).state, list_name)
