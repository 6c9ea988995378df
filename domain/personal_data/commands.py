"""Erasure commands (``personal_data.*``): crypto-shred a vault subject and record it in the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from domain.core import AppCore
from domain.errors import ConfigurationError, RecordNotFound, SubjectErased
from domain.identity import Principal
from domain.personal_data.aggregate import Erasure, check_reason, check_subject, erasure_stream


class PersonalDataCommands(AppCore):
    """Erase a subject's personal data: the log first records ``personal_data.erased``, then the vault destroys the
    subject's data key and records. In that order, so a crash between the two leaves a logged erasure whose shredding
    a retry completes, never data destroyed without the log saying so."""

    def erase_personal_data(self, subject: str, *, by: Principal, reason: str, at: datetime) -> dict[str, Any]:
        """Erase ``subject`` (``kindergarten.<entry id>``, ``housing.<entry id>``) for ``reason`` (a code of
        :data:`domain.personal_data.aggregate.REASONS`). Refused when the vault holds nothing for it
        (``record_not_found``) or it was erased before (``subject_erased``). Returns the erasure's state."""
        actor = self._authorise(by, "personal_data.erased")
        check_subject(subject)
        check_reason(reason)
        vault = self.vault
        if vault is None:
            raise ConfigurationError("no personal-data vault configured")
        if self._exists(erasure_stream(subject)):
            if vault.holds(subject):  # logged, but the shredding did not happen (a crash): complete it
                vault.erase(subject, at=self.erasure(subject)["erased_at"])
                return self.erasure(subject)
            raise SubjectErased("the subject's personal data was erased", subject=subject)
        if vault.is_erased(subject):  # shredded before erasures were logged: say so instead of logging it now
            raise SubjectErased("the subject's personal data was erased", subject=subject)
        if not vault.holds(subject):
            raise RecordNotFound("the vault holds no personal data for this subject", subject=subject)
        try:
            agg = self._create(at, lambda at: Erasure.erase(subject=subject, reason=reason, at=at, actor=actor))
        except IntegrityError:  # another process erased it meanwhile
            raise SubjectErased("the subject's personal data was erased", subject=subject) from None
        vault.erase(subject, at=agg.state["erased_at"])
        return dict(agg.state)

    def erasure(self, subject: str) -> dict[str, Any]:
        """The logged erasure of ``subject`` (``subject``, ``reason``, ``erased_at``); RecordNotFound if none."""
        state = self.projections.erasure(subject)
        if state is None:
            raise RecordNotFound("no erasure of this subject in the log", subject=str(subject)[:200])
        return state
