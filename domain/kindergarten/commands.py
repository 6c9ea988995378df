"""Kindergarten queue commands (``kindergarten.*``): create a queue, register children, benefits, offers in turn,
withdrawals and removals; the queue's lists and positions.

Every command of one queue runs on its one stream (``AppCore._run``): two concurrent offers, or an offer racing a
benefit grant, conflict and are decided again on the new state. Personal data is sealed in the vault under the
entry's subject (``kindergarten.<entry id>``); the event carries only its commitment.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.core import AppCore
from domain.errors import (
    InvalidInput,
    NotAuthorised,
)
from domain.identity import CitizenIdentity, Principal
from domain.kindergarten.aggregate import KindergartenQueue
from domain.kindergarten.order import entry_positions, kindergarten_list
from domain.kindergarten.rules import (
    CHERNIVTSI_KINDERGARTEN_BENEFITS,
    DEFAULT_ACCEPTANCE_DAYS,
    DEFAULT_MAX_PREFERENCES,
    KINDERGARTEN_REMOVAL_REASONS,
)


class KindergartenCommands(AppCore):
    """Kindergarten queues: entries, benefits, offers, withdrawals, removals and the queue's public order."""

    def create_kindergarten_queue(
        self,
        *,
        by: Principal,
        name: str,
        institutions: Iterable[str],
        at: datetime,
        benefits: Any = None,
        removal_reasons: Any = None,
        acceptance_days: int | None = None,
        max_preferences: int | None = None,
        queue_id: UUID | None = None,
        rule_set: str | None = None,
        rule_set_version: int | None = None,
    ) -> UUID:
        """A queue under one of the city's published ``kindergarten`` rule sets (``rule_set``, its latest version
        unless ``rule_set_version``): its benefit table, removal reasons, acceptance days and preferences are frozen
        into ``kindergarten.created`` beside the reference. Inline rules (the four fields, or the shipped defaults
        when none is given) are for a city that has published no kindergarten rule set; from its first one on they
        are refused."""
        actor = self._authorise(by, "kindergarten.created")
        inline = {
            "benefits": benefits,
            "removal_reasons": removal_reasons,
            "acceptance_days": acceptance_days,
            "max_preferences": max_preferences,
        }
        published, reference = self._referenced_rules(
            "kindergarten",
            rule_set,
            rule_set_version,
            inline=any(v is not None for v in inline.values()),
            what="benefits, removal_reasons, acceptance_days or max_preferences",
        )
        rules = published or {
            "benefits": CHERNIVTSI_KINDERGARTEN_BENEFITS if benefits is None else benefits,
            "removal_reasons": KINDERGARTEN_REMOVAL_REASONS if removal_reasons is None else removal_reasons,
            "acceptance_days": DEFAULT_ACCEPTANCE_DAYS if acceptance_days is None else acceptance_days,
            "max_preferences": DEFAULT_MAX_PREFERENCES if max_preferences is None else max_preferences,
        }
        queue = self._create(
            at,
            lambda at: KindergartenQueue.create(
                queue_id=queue_id or uuid4(),
                name=name,
                institutions=institutions,
                **rules,
                pseudonym_key=self.pseudonymizer.current,
                at=at,
                actor=actor,
                rule_set=reference,
            ),
        )
        return queue.id

    @staticmethod
    def kindergarten_subject(entry_id: str) -> str:
        """Vault subject holding an entry's personal data (child's data, benefit documents)."""
        return f"kindergarten.{entry_id}"

    def register_kindergarten_entry(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        child_key: str,
        child_data: Mapping[str, str | int],
        birth_year: int,
        institutions: list[str],
        at: datetime,
        applicant: CitizenIdentity | None = None,
    ) -> str:
        """Register a child. ``by`` is the applicant (a citizen) or a service registering for ``applicant``.
        ``child_key`` (e.g. the birth-certificate number) is only pseudonymised, to refuse duplicate entries;
        ``child_data`` goes to the vault and the event carries its commitment. Returns the entry id."""
        if isinstance(by, CitizenIdentity):
            if applicant is not None and applicant != by:
                raise NotAuthorised("a citizen registers only for themself")
            applicant = by
        if applicant is None:
            raise InvalidInput("a service registering an entry must name the applicant")
        if not isinstance(child_key, str) or not child_key.strip():
            raise InvalidInput("child_key must be a non-empty string")
        holder = applicant

        def command(q: KindergartenQueue, at: datetime) -> str:
            key = q.state["pseudonym_key"]
            pseudonym = self.pseudonymizer.citizen(holder.subject, key)
            if isinstance(by, CitizenIdentity):
                actor = self._authorise(by, "kindergarten.entry_registered", pseudonym=pseudonym)
            else:
                actor = self._authorise(by, "kindergarten.entry_registered")
            subject = self.kindergarten_subject(q.next_entry_id())
            commitment = self._seal(subject, child_data)
            try:
                return q.register(
                    applicant=pseudonym,
                    child=self.pseudonymizer.child(child_key.strip(), key),
                    child_commitment=commitment,
                    birth_year=birth_year,
                    institutions=institutions,
                    at=at,
                    actor=actor,
                )
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def grant_benefit(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        entry: str,
        code: str,
        document: Mapping[str, str | int],
        at: datetime,
    ) -> str:
        """Grant a benefit on the basis of a document (sealed in the vault). Returns the document commitment."""
        actor = self._authorise(by, "kindergarten.benefit_granted")

        def command(q: KindergartenQueue, at: datetime) -> str:
            q.entry(entry)
            subject = self.kindergarten_subject(entry)
            commitment = self._seal(subject, document)
            try:
                q.grant_benefit(entry=entry, code=code, document_commitment=commitment, at=at, actor=actor)
            except Exception:
                self._unseal_on_error(subject, commitment)
                raise
            return commitment

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def revoke_benefit(
        self, *, by: Principal, queue_id: UUID, entry: str, code: str, reason: str, at: datetime
    ) -> None:
        actor = self._authorise(by, "kindergarten.benefit_revoked")
        self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.revoke_benefit(entry=entry, code=code, reason=reason, at=at, actor=actor),
        )

    def change_preferences(
        self, *, by: Principal, queue_id: UUID, entry: str, institutions: list[str], at: datetime
    ) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            e = q.entry(entry)
            actor = self._as_applicant(by, "kindergarten.preferences_changed", e["applicant"], q.state["pseudonym_key"])
            q.change_preferences(entry=entry, institutions=institutions, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def issue_offer(
        self,
        *,
        by: Principal,
        queue_id: UUID,
        institution: str,
        birth_year: int,
        place: str,
        at: datetime,
        entry: str | None = None,
    ) -> str:
        """Offer a place to the first eligible entry of the group; returns the offer id."""
        actor = self._authorise(by, "kindergarten.offer_issued")
        return self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.issue_offer(
                institution=institution, birth_year=birth_year, place=place, entry=entry, at=at, actor=actor
            ),
        )

    def _offer_command(self, by: Principal, queue_id: UUID, offer: str, type_: str, at: datetime) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            o = q.offer(offer)
            applicant = q.entry(o["entry"])["applicant"]
            actor = self._as_applicant(by, type_, applicant, q.state["pseudonym_key"])
            if type_ == "kindergarten.offer_accepted":
                q.accept_offer(offer=offer, at=at, actor=actor)
            else:
                q.decline_offer(offer=offer, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def accept_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        self._offer_command(by, queue_id, offer, "kindergarten.offer_accepted", at)

    def decline_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        self._offer_command(by, queue_id, offer, "kindergarten.offer_declined", at)

    def expire_offer(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> None:
        actor = self._authorise(by, "kindergarten.offer_expired")
        self._run(
            queue_id, KindergartenQueue, "queue", at, lambda q, at: q.expire_offer(offer=offer, at=at, actor=actor)
        )

    def expire_and_offer_next(self, *, by: Principal, queue_id: UUID, offer: str, at: datetime) -> str | None:
        """Expire a pending offer whose acceptance period is over and, in the same save, offer its place to the next
        eligible entry of the same group (institution, birth year) in the published order: two events, decided on
        one state of the queue's stream, so the place moves on exactly once. Returns the next offer's id, or None
        when the group has no eligible entry left (the place is then free). The clock runs it as ``system:clock``."""
        expire = self._authorise(by, "kindergarten.offer_expired")
        issue = self._authorise(by, "kindergarten.offer_issued")

        def command(q: KindergartenQueue, at: datetime) -> str | None:
            o = q.offer(offer)
            q.expire_offer(offer=offer, at=at, actor=expire)
            if q.index().first_eligible(q.state, o["institution"], o["birth_year"]) is None:
                return None
            return q.issue_offer(
                institution=o["institution"], birth_year=o["birth_year"], place=o["place"], at=at, actor=issue
            )

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def expire_due_offers(self, *, by: Principal, queue_id: UUID, at: datetime) -> list[str]:
        """Expire every pending offer whose acceptance period is over (one save)."""
        actor = self._authorise(by, "kindergarten.offer_expired")

        def command(q: KindergartenQueue, at: datetime) -> list[str]:
            due = q.due_expiries(at)
            for offer in due:
                q.expire_offer(offer=offer, at=at, actor=actor)
            return due

        return self._run(queue_id, KindergartenQueue, "queue", at, command)

    def withdraw_entry(self, *, by: Principal, queue_id: UUID, entry: str, at: datetime) -> None:
        def command(q: KindergartenQueue, at: datetime) -> None:
            e = q.entry(entry)
            actor = self._as_applicant(by, "kindergarten.entry_withdrawn", e["applicant"], q.state["pseudonym_key"])
            q.withdraw(entry=entry, at=at, actor=actor)

        self._run(queue_id, KindergartenQueue, "queue", at, command)

    def remove_entry(self, *, by: Principal, queue_id: UUID, entry: str, reason_code: str, at: datetime) -> None:
        actor = self._authorise(by, "kindergarten.entry_removed")
        self._run(
            queue_id,
            KindergartenQueue,
            "queue",
            at,
            lambda q, at: q.remove(entry=entry, reason_code=reason_code, at=at, actor=actor),
        )

    def get_kindergarten_queue(self, queue_id: UUID) -> KindergartenQueue:
        return self._get(queue_id, KindergartenQueue, "queue")

    def kindergarten_offer(self, queue_id: UUID, offer: str) -> dict[str, Any]:
        """One offer of a queue, read from the cached queue (no reload of the whole queue)."""
        return self._read(queue_id, KindergartenQueue, "queue", lambda q: q.offer(offer))

    def kindergarten_entry(self, queue_id: UUID, entry: str) -> dict[str, Any]:
        """One entry of a queue (a copy), read from the cached queue."""
        return self._read(queue_id, KindergartenQueue, "queue", lambda q: copy.deepcopy(q.entry(entry)))

    def kindergarten_list(self, queue_id: UUID, institution: str, birth_year: int) -> list[dict[str, Any]]:
        return kindergarten_list(self.get_kindergarten_queue(queue_id).state, institution, birth_year)

    def entry_positions(self, queue_id: UUID, entry: str) -> dict[str, int]:
        q = self.get_kindergarten_queue(queue_id)
        q.entry(entry)
        return entry_positions(q.state, entry)
