"""Petitions (``petition.*``).

Streams: one per petition (``petition.created``, ``published``/``rejected``, ``threshold_reached``,
``responded``, ``closed``) and one per signature (``petition.signed``, the only event of the stream whose id
is ``stream_id("petition", <petition id>, "signature", <signer pseudonym>)``, so a second signature by the
same pseudonym collides on the store's uniqueness constraint). The signature count is a projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate, require_utc, rfc3339, stream_id
from domain.errors import (
    AlreadyResponded,
    DeadlineNotPassed,
    DeadlinePassed,
    IdentityMethodNotAllowed,
    InvalidInput,
    InvalidState,
    PetitionNotOpen,
    ThresholdNotReached,
)
from domain.petitions.rules import (
    add_period,
    local_date,
    response_due,
    response_overdue_at,
    validate_petition_rules,
)

MAX_REASON_CHARS = 2_000
MAX_RESPONSE_CHARS = 16_000


def signature_stream(petition_id: UUID | str, signer: str) -> UUID:
    return stream_id("petition", str(petition_id), "signature", signer)


def _text(raw: Any, field: str, max_chars: int) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    value: str = raw.strip()
    if len(value) > max_chars:
        raise InvalidInput(f"{field} is too long", field=field, max_chars=max_chars, found=len(value))
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidInput(f"{field} contains control characters", field=field)
    return value


def fold_petition(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "petition.created":
        state.update(
            title=data["title"],
            text=data["text"],
            rules=data["rules"],
            rule_set=data.get("rule_set"),
            pseudonym_key=data["pseudonym_key"],
            author=data["author"],
            status="pending",
            created_at=time,
            deadline=None,
            threshold_reached=False,
            due_date=None,
            responded=False,
            response_overdue=False,
        )
    elif type_ == "petition.published":
        state.update(status="published", published_at=time, deadline=data["deadline"])
    elif type_ == "petition.rejected":
        state.update(status="rejected", rejected_at=time, reason=data["reason"])
    elif type_ == "petition.threshold_reached":
        state.update(threshold_reached=True, threshold_reached_at=time, due_date=data["due_date"])
    elif type_ == "petition.responded":
        state.update(responded=True, responded_at=time, on_time=data["on_time"])
    elif type_ == "petition.response_overdue":
        state.update(response_overdue=True, response_overdue_at=time)
    elif type_ == "petition.closed":
        state.update(status="closed", closed_at=time, signatures_at_close=data["signatures"])


class Petition(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "petition.created"
        title: str
        text: str
        rules: dict[str, Any]
        pseudonym_key: int
        author: str
        #: ``{"name", "version"}`` of the published rule set the rules were copied from; absent when the petition
        #: wrote its rules inline (a city that publishes no rule sets, older logs).
        rule_set: dict[str, Any] | None = None
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rule_set"})

        def __post_init__(self) -> None:
            if self.__dict__.get("rule_set", 0) is None:
                del self.__dict__["rule_set"]

    class Published(Event):
        TYPE: ClassVar[str] = "petition.published"
        deadline: str

    class Rejected(Event):
        TYPE: ClassVar[str] = "petition.rejected"
        reason: str

    class ThresholdReached(Event):
        TYPE: ClassVar[str] = "petition.threshold_reached"
        count: int
        signature: str
        due_date: str

    class Responded(Event):
        TYPE: ClassVar[str] = "petition.responded"
        response: str
        due_date: str
        on_time: bool

    class ResponseOverdue(Event):
        TYPE: ClassVar[str] = "petition.response_overdue"
        due_date: str
        response_working_days: int

    class Closed(Event):
        TYPE: ClassVar[str] = "petition.closed"
        reason: str
        signatures: int

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_petition(state, type_, time, actor, data)

    # -- commands --------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        petition_id: UUID,
        title: str,
        text: str,
        rules: Mapping[str, Any],
        pseudonym_key: int,
        author: str,
        at: datetime,
        actor: Mapping[str, str],
        rule_set: Mapping[str, Any] | None = None,
    ) -> Petition:
        frozen = validate_petition_rules(rules)
        result: Petition = cls._start(
            cls.Created,
            id=petition_id,
            at=at,
            actor=actor,
            title=_text(title, "title", frozen["max_title_chars"]),
            text=_text(text, "text", frozen["max_text_chars"]),
            rules=frozen,
            pseudonym_key=pseudonym_key,
            author=author,
            **({} if rule_set is None else {"rule_set": dict(rule_set)}),
        )
        return result

    @property
    def status(self) -> str:
        return str(self.state["status"])

    @property
    def rules(self) -> dict[str, Any]:
        return dict(self.state["rules"])

    @property
    def threshold(self) -> int:
        return int(self.state["rules"]["threshold"])

    @property
    def threshold_reached(self) -> bool:
        return bool(self.state["threshold_reached"])

    def _require_status(self, *allowed: str) -> None:
        if self.status not in allowed:
            raise PetitionNotOpen(
                "petition is not in a state that allows this",
                petition=str(self.id),
                expected=list(allowed),
                found=self.status,
            )

    def publish(self, *, at: datetime, actor: Mapping[str, str]) -> None:
        self._require_status("pending")
        deadline = add_period(require_utc(at), self.state["rules"]["period"])
        self._emit(self.Published, at=at, actor=actor, deadline=rfc3339(deadline))

    def reject(self, *, reason: str, at: datetime, actor: Mapping[str, str]) -> None:
        self._require_status("pending")
        self._emit(self.Rejected, at=at, actor=actor, reason=_text(reason, "reason", MAX_REASON_CHARS))

    def check_can_sign(self, *, identity_method: str, at: datetime) -> None:
        """Signing rules: published, not closed, ``time < deadline``, identity method allowed."""
        self._require_status("published")
        now = rfc3339(at)
        if now >= self.state["deadline"]:
            raise DeadlinePassed(
                "signature collection has ended", petition=str(self.id), deadline=self.state["deadline"], at=now
            )
        allowed = self.state["rules"]["identity_methods"]
        if identity_method not in allowed:
            raise IdentityMethodNotAllowed(
                "identity method not allowed for this petition",
                petition=str(self.id),
                expected=list(allowed),
                found=identity_method,
            )

    def reach_threshold(self, *, count: int, signature: UUID, at: datetime, actor: Mapping[str, str]) -> None:
        if self.threshold_reached:
            raise InvalidState("threshold already reached", petition=str(self.id))
        if count < self.threshold:
            raise ThresholdNotReached(
                "count below threshold", petition=str(self.id), expected=self.threshold, found=count
            )
        due = response_due(self.state["rules"], rfc3339(at))
        self._emit(self.ThresholdReached, at=at, actor=actor, count=count, signature=str(signature), due_date=due)

    def respond(self, *, response: str, at: datetime, actor: Mapping[str, str]) -> None:
        if not self.threshold_reached:
            raise ThresholdNotReached("no response before the threshold is reached", petition=str(self.id))
        if self.state["responded"]:
            raise AlreadyResponded("petition already has an official response", petition=str(self.id))
        due = str(self.state["due_date"])
        on_time = local_date(rfc3339(at), self.state["rules"]["timezone"]).isoformat() <= due
        self._emit(
            self.Responded,
            at=at,
            actor=actor,
            response=_text(response, "response", MAX_RESPONSE_CHARS),
            due_date=due,
            on_time=on_time,
        )

    def mark_response_overdue(self, *, at: datetime, actor: Mapping[str, str]) -> None:
        """The city's response period (``response_working_days`` working days after the threshold, frozen in the
        rules) is over without a response: recorded once, from the first instant whose local date is after
        ``due_date`` (:func:`~domain.petitions.rules.response_overdue_at`)."""
        if not self.threshold_reached:
            raise ThresholdNotReached("no response is due before the threshold is reached", petition=str(self.id))
        if self.state["responded"]:
            raise AlreadyResponded("petition already has an official response", petition=str(self.id))
        if self.state.get("response_overdue"):
            raise InvalidState("the response is already recorded as overdue", petition=str(self.id))
        due = str(self.state["due_date"])
        overdue_at = response_overdue_at(self.state["rules"], due)
        now = rfc3339(at)
        if now < overdue_at:
            raise DeadlineNotPassed(
                "the response period is still running",
                petition=str(self.id),
                due_date=due,
                overdue_at=overdue_at,
                at=now,
            )
        self._emit(
            self.ResponseOverdue,
            at=at,
            actor=actor,
            due_date=due,
            response_working_days=int(self.state["rules"]["response_working_days"]),
        )

    def close(self, *, signatures: int, at: datetime, actor: Mapping[str, str]) -> None:
        self._require_status("published")
        now = rfc3339(at)
        if now < self.state["deadline"]:
            raise DeadlineNotPassed(
                "collection period still running", petition=str(self.id), deadline=self.state["deadline"], at=now
            )
        self._emit(self.Closed, at=at, actor=actor, reason="deadline", signatures=signatures)


def fold_signature(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "petition.signed":
        state.update(petition=data["petition"], signer=data["signer"], signed_at=time)


class Signature(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Signed(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "petition.signed"
        petition: str
        signer: str
        identity_method: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_signature(state, type_, time, actor, data)

    @classmethod
    def sign(
        cls, *, petition: Petition, signer: str, identity_method: str, at: datetime, actor: Mapping[str, str]
    ) -> Signature:
        petition.check_can_sign(identity_method=identity_method, at=at)
        result: Signature = cls._start(
            cls.Signed,
            id=signature_stream(petition.id, signer),
            at=at,
            actor=actor,
            petition=str(petition.id),
            signer=signer,
            identity_method=identity_method,
        )
        return result
