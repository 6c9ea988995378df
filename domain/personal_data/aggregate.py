"""One erasure per vault subject: ``personal_data.erased`` on the stream ``stream_id("personal_data", <subject>)``.

The vault (:mod:`domain.pii`) holds a subject's personal data; erasing it destroys the subject's data key
(crypto-shredding) and leaves the log's commitments unopenable. The log records that it happened, so an auditor sees
which entries' data was erased, when, by whom and on what ground, and the public views can say "erased" instead of
pretending the data is there. The event carries only the subject (``kindergarten.<entry id>``, ``housing.<entry
id>``: an entry id the log already shows) and a reason *code*: no free text, so no personal data can enter the log
through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate, stream_id
from domain.errors import InvalidInput

#: The vault subjects an erasure names: the personal data of a kindergarten entry or of a housing entry.
SUBJECT_RE = re.compile(r"^(kindergarten|housing)\.[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
#: Why personal data is erased (Law of Ukraine "On personal data protection", art. 8 and 15; GDPR art. 17).
REASONS: Mapping[str, str] = {
    "subject_request": "the data subject asked for erasure",
    "retention_expired": "the retention period ended (the entry was closed long enough ago)",
    "court_order": "a court ordered erasure",
    "unlawful_processing": "the data was collected or processed unlawfully",
}


def erasure_stream(subject: str) -> UUID:
    return stream_id("personal_data", subject)


def check_subject(subject: Any) -> str:
    """A vault subject an erasure may name (``kindergarten.<entry id>`` or ``housing.<entry id>``)."""
    if not isinstance(subject, str) or not SUBJECT_RE.fullmatch(subject):
        raise InvalidInput(
            "subject must be kindergarten.<entry id> or housing.<entry id>", field="subject", subject=str(subject)[:200]
        )
    return subject


def check_reason(reason: Any) -> str:
    if reason not in REASONS:
        raise InvalidInput("unknown erasure reason", field="reason", reason=str(reason)[:100], allowed=sorted(REASONS))
    return str(reason)


def fold_erasure(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "personal_data.erased":
        state.update(subject=data["subject"], reason=data["reason"], erased_at=time)


class Erasure(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Erased(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "personal_data.erased"
        subject: str
        reason: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_erasure(state, type_, time, actor, data)

    @classmethod
    def erase(cls, *, subject: str, reason: str, at: datetime, actor: Mapping[str, str]) -> Erasure:
        name = check_subject(subject)
        result: Erasure = cls._start(
            cls.Erased, id=erasure_stream(name), at=at, actor=actor, subject=name, reason=check_reason(reason)
        )
        return result
