"""Petition commands (``petition.*``): create, moderate, sign (with the threshold in the same save), respond,
close.

``sign_petition`` and ``close_expired_petitions`` have their own decision blocks: a signature is decided under
the petition's shared guard (the exclusive one when it may cross the threshold), a close under the exclusive guard
of every petition it closes, so no signature lands after a close and the threshold's count is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain.base import LedgerAggregate, rfc3339
from domain.core import AppCore
from domain.errors import (
    ConcurrentModification,
    DuplicateSignature,
    IdentityMethodNotAllowed,
    InvalidInput,
    NotAuthorised,
)
from domain.identity import RULES, CitizenIdentity, Principal
from domain.petitions.aggregate import Petition, Signature, signature_stream
from domain.sequencing import DecideAgain


class PetitionCommands(AppCore):
    """Petitions and their signatures. Counts come from the projections (:meth:`signature_count`), plus the
    signatures in flight (``AppCore._inflight``) when deciding whether one may cross the threshold."""

    # -- counts (the in-process projections) --
    def signature_count(self, petition_id: UUID) -> int:
        return self.projections.signature_count(str(petition_id))

    def open_petition_ids(self) -> list[UUID]:
        return [UUID(pid) for pid, st in self.projections.of_kind("petition").items() if st["status"] == "published"]

    # -- commands --
    def create_petition(
        self,
        *,
        by: CitizenIdentity,
        title: str,
        text: str,
        at: datetime,
        rule_set: str | None = None,
        rule_set_version: int | None = None,
        rules: Mapping[str, Any] | None = None,
        petition_id: UUID | None = None,
    ) -> UUID:
        """A citizen's petition under one of the city's published rule sets (``rule_set``, its latest version unless
        ``rule_set_version``), whose rules are frozen into ``petition.created`` beside the reference. Inline ``rules``
        are for a city that has published no petition rule set (older logs, tests); from its first one on they are
        refused."""
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("petitions are created by citizens")
        if rule_set is None and rules is None:
            raise InvalidInput("a petition names the city's rule set (rule_set)")
        published, reference = self._referenced_rules(
            "petition", rule_set, rule_set_version, inline=rules is not None, what="rules"
        )
        if published is not None:
            rules = published
        assert rules is not None  # named, or written inline
        key = self.pseudonymizer.current
        author = self.pseudonymizer.citizen(by.subject, key)
        actor = self._authorise(by, "petition.created", pseudonym=author)

        def build(at: datetime) -> Petition:
            petition = Petition.create(
                petition_id=petition_id or uuid4(),
                title=title,
                text=text,
                rules=rules,
                pseudonym_key=key,
                author=author,
                at=at,
                actor=actor,
                rule_set=reference,
            )
            if by.method not in petition.rules["identity_methods"]:
                raise IdentityMethodNotAllowed(
                    "identity method not allowed", expected=petition.rules["identity_methods"], found=by.method
                )
            return petition

        return self._create(at, build).id

    def publish_petition(self, *, by: Principal, petition_id: UUID, at: datetime) -> None:
        actor = self._authorise(by, "petition.published")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.publish(at=at, actor=actor))

    def reject_petition(self, *, by: Principal, petition_id: UUID, reason: str, at: datetime) -> None:
        actor = self._authorise(by, "petition.rejected")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.reject(reason=reason, at=at, actor=actor))

    def sign_petition(self, *, by: CitizenIdentity, petition_id: UUID, at: datetime) -> Signature.Signed:
        """Sign; returns the ``petition.signed`` event. Emits ``threshold_reached`` in the same save when
        this signature brings the count to the threshold.

        Signatures are decided and committed under the petition's shared guard, so none lands after a close
        decided meanwhile. One that may cross the threshold is decided under the exclusive guard instead: with
        no other signature of that petition in flight, the count it carries is exact."""
        if not isinstance(by, CitizenIdentity):
            raise NotAuthorised("petitions are signed by citizens")
        for _ in range(self.MAX_ATTEMPTS):
            with self.guards.shared(petition_id):
                petition = self._hot(petition_id, Petition, "petition")
                with self._inflight_lock:
                    inflight = self._inflight.get(petition_id, 0)
                    crossing = (
                        not petition.threshold_reached
                        and self.signature_count(petition_id) + inflight + 1 >= petition.threshold
                    )
                    if not crossing:
                        self._inflight[petition_id] = inflight + 1
                if not crossing:
                    try:
                        event = self._sign(by, petition, at, may_cross=False)
                    finally:
                        with self._inflight_lock:
                            left = self._inflight[petition_id] - 1
                            if left:
                                self._inflight[petition_id] = left
                            else:
                                del self._inflight[petition_id]
                    if event is not None:
                        return event
                    continue
            with self._changing(petition_id):
                event = self._sign(by, self._get(petition_id, Petition, "petition"), at, may_cross=True)
            if event is not None:
                return event
        raise ConcurrentModification("petition kept changing; try again", id=str(petition_id))

    def _sign(
        self, by: CitizenIdentity, petition: Petition, at: datetime, *, may_cross: bool
    ) -> Signature.Signed | None:
        """One attempt: the event, or None when a concurrent write means deciding again."""
        signer = self.pseudonymizer.citizen(by.subject, petition.state["pseudonym_key"])
        actor = self._authorise(by, "petition.signed", pseudonym=signer)
        try:
            with self.sequencer.deciding(at) as now:
                signature = Signature.sign(
                    petition=petition, signer=signer, identity_method=by.method, at=now, actor=actor
                )
                event = signature.pending_events[0]
                touched: list[LedgerAggregate] = [signature]
                count = self.signature_count(petition.id) + 1
                if may_cross and not petition.threshold_reached and count >= petition.threshold:
                    petition.reach_threshold(count=count, signature=signature.id, at=now, actor=RULES.as_dict())
                    touched.append(petition)
                self._save(*touched)
        except IntegrityError:
            if self._exists(signature_stream(petition.id, signer)):
                raise DuplicateSignature(
                    "this citizen already signed", petition=str(petition.id), signer=signer
                ) from None
            return None
        except DecideAgain:  # another process's later event: decide again, never a duplicate
            return None
        assert isinstance(event, Signature.Signed)
        return event

    def respond_to_petition(self, *, by: Principal, petition_id: UUID, response: str, at: datetime) -> None:
        actor = self._authorise(by, "petition.responded")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.respond(response=response, at=at, actor=actor))

    def mark_response_overdue(self, *, by: Principal, petition_id: UUID, at: datetime) -> None:
        """Record that the city's response period ran out without a response (the clock does, as ``system:clock``)."""
        actor = self._authorise(by, "petition.response_overdue")
        self._run(petition_id, Petition, "petition", at, lambda p, at: p.mark_response_overdue(at=at, actor=actor))

    def close_petition(self, *, by: Principal, petition_id: UUID, at: datetime) -> None:
        actor = self._authorise(by, "petition.closed")
        self._run(
            petition_id,
            Petition,
            "petition",
            at,
            lambda p, at: p.close(signatures=self.signature_count(petition_id), at=at, actor=actor),
        )

    def close_expired_petitions(self, *, by: Principal, at: datetime) -> list[UUID]:
        """Close every published petition whose deadline has passed, in one save."""
        actor = self._authorise(by, "petition.closed")
        ids = self.open_petition_ids()
        with self._changing(*ids):
            for _ in range(self.MAX_ATTEMPTS):
                petitions = [self._get(pid, Petition, "petition") for pid in ids]
                touched = []
                with self.sequencer.deciding(at) as now:
                    for p in petitions:
                        if p.status == "published" and p.state["deadline"] <= rfc3339(now):
                            p.close(signatures=self.signature_count(p.id), at=now, actor=actor)
                            touched.append(p)
                    try:
                        self._save(*touched)
                    except (IntegrityError, DecideAgain):
                        continue
                return [p.id for p in touched]
        raise ConcurrentModification("petitions kept changing; try again")

    def get_petition(self, petition_id: UUID) -> Petition:
        return self._get(petition_id, Petition, "petition")
