"""Domain errors. Every command raises one of these (never a bare ValueError) and writes nothing.

Each error has a stable machine-readable ``code`` (the API maps it to a problem type) and an ``evidence``
dict of JSON-native values (ids, expected vs found) that explains exactly what was wrong.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base class. ``code`` is stable; ``evidence`` holds the facts (JSON-native)."""

    code: ClassVar[str] = "domain_error"
    #: Suggested HTTP status for the API layer (it may map differently).
    status: ClassVar[int] = 422

    def __init__(self, message: str, **evidence: Any) -> None:
        super().__init__(message)
        self.message = message
        self.evidence: dict[str, Any] = evidence

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "evidence": dict(self.evidence)}


# --- input ---------------------------------------------------------------------------------------------
class InvalidProof(DomainError):
    """A proof (or the tracker) of an encrypted ballot, a ceremony step or a decryption share fails; ``proof`` names
    it (``proofs.options[3]``, ``shares[2]``). Nothing is stored."""

    code = "invalid_proof"
    status = 422

    def __init__(self, message: str, *, proof: str, **evidence: Any) -> None:
        super().__init__(message, proof=proof, **evidence)
        self.proof = proof


class InvalidInput(DomainError):
    """A command argument is malformed (wrong type, empty, too long, naive datetime ...)."""

    code = "invalid_input"


class UnknownOption(InvalidInput):
    code = "unknown_option"


class DuplicateChoice(InvalidInput):
    code = "duplicate_choice"


class TooManyChoices(InvalidInput):
    code = "too_many_choices"


class EmptySelection(InvalidInput):
    code = "empty_selection"


class OverBudget(InvalidInput):
    code = "over_budget"


class UnknownBenefitCode(InvalidInput):
    code = "unknown_benefit_code"


class UnknownReasonCode(InvalidInput):
    code = "unknown_reason_code"


class UnknownInstitution(InvalidInput):
    code = "unknown_institution"


class UnknownList(InvalidInput):
    code = "unknown_list"


class InvalidScope(InvalidInput):
    code = "invalid_scope"


# --- identity and authorisation ---------------------------------------------------------------------------
class NotAuthorised(DomainError):
    """The actor may not do this (wrong kind of actor, or not the applicant/voter in question)."""

    code = "not_authorised"
    status = 403


class MissingScope(NotAuthorised):
    code = "missing_scope"


class ServiceNotRegistered(NotAuthorised):
    code = "service_not_registered"


class ServiceRevoked(NotAuthorised):
    code = "service_revoked"


class ServiceAlreadyRevoked(ServiceRevoked):
    """A revocation of a service that was revoked before (a conflict, not a refusal of the caller)."""

    code = "service_already_revoked"
    status = 409


class RuleSetAlreadyPublished(DomainError):
    """That version of the rule set exists; a change is published as the next version."""

    code = "ruleset_already_published"
    status = 409


class RuleSetNotPublished(InvalidInput):
    """The petition names a rule set (or version) the city has not published."""

    code = "ruleset_not_published"


class CustomRulesRefused(InvalidInput):
    """Rules given inline where the city's published rule sets apply: a petition names one of them."""

    code = "custom_rules_refused"


class ServiceAlreadyRegistered(DomainError):
    code = "service_already_registered"
    status = 409


class IdentityMethodNotAllowed(NotAuthorised):
    code = "identity_method_not_allowed"


class NotATrustee(NotAuthorised):
    """A ceremony or decryption step by a service that is not the named trustee of the ballot."""

    code = "not_a_trustee"


class NotEligible(NotAuthorised):
    code = "not_eligible"


class UnknownPseudonymKey(DomainError):
    code = "unknown_pseudonym_key"
    status = 500


# --- existence and state ----------------------------------------------------------------------------------
class NotFound(DomainError):
    code = "not_found"
    status = 404


class UnknownEntry(NotFound):
    code = "unknown_entry"


class UnknownOffer(NotFound):
    code = "unknown_offer"


class InvalidState(DomainError):
    """The aggregate is not in a state that allows the command."""

    code = "invalid_state"
    status = 409


class PetitionNotOpen(InvalidState):
    code = "petition_not_open"


class DeadlinePassed(InvalidState):
    code = "deadline_passed"


class DeadlineNotPassed(InvalidState):
    code = "deadline_not_passed"


class DuplicateSignature(InvalidState):
    code = "duplicate_signature"


class ThresholdNotReached(InvalidState):
    code = "threshold_not_reached"


class AlreadyResponded(InvalidState):
    code = "already_responded"


class WindowClosed(InvalidState):
    """Voting outside the ballot's window, or after the ballot was closed."""

    code = "window_closed"


class WindowStillOpen(InvalidState):
    code = "window_still_open"


class EntryNotActive(InvalidState):
    code = "entry_not_active"


class DuplicateEntry(InvalidState):
    code = "duplicate_entry"


class BenefitAlreadyGranted(InvalidState):
    code = "benefit_already_granted"


class BenefitNotGranted(InvalidState):
    code = "benefit_not_granted"


class NoEligibleEntry(InvalidState):
    code = "no_eligible_entry"


class OfferOutOfTurn(InvalidState):
    """An offer (or housing allocation) named an entry that is not the first eligible one."""

    code = "offer_out_of_turn"


class PlaceUnavailable(InvalidState):
    code = "place_unavailable"


class OfferNotPending(InvalidState):
    code = "offer_not_pending"


class OfferExpired(InvalidState):
    code = "offer_expired"


class OfferNotExpired(InvalidState):
    code = "offer_not_expired"


class AlreadyReregistered(InvalidState):
    code = "already_reregistered"


class AlreadyInList(InvalidState):
    code = "already_in_list"


class NotInList(InvalidState):
    code = "not_in_list"


class WrongSecrecy(InvalidState):
    """A plaintext vote on an encrypted ballot, an encrypted ballot on an open one (or an encrypted-only step)."""

    code = "wrong_secrecy"


class CeremonyOutOfOrder(InvalidState):
    """A key-ceremony step before its turn (docs/voting.md §5), or on a dead or finished ceremony."""

    code = "ceremony_out_of_order"


class NotEnoughShares(InvalidState):
    """Closing an encrypted ballot before ``threshold`` trustees posted valid decryption shares."""

    code = "not_enough_shares"


class TimeBeforeLog(InvalidState):
    """A command's time is before the time of the log's latest event by more than a caller's clock can lag: the
    log's time never goes backwards, so nothing is written (domain/sequencing.py)."""

    code = "time_before_log"
    status = 409


class ConcurrentModification(DomainError):
    """Another writer changed the same aggregate; the command was retried and still conflicted."""

    code = "concurrent_modification"
    status = 409


# --- personal data vault ----------------------------------------------------------------------------------
class SubjectErased(DomainError):
    code = "subject_erased"
    status = 410


class RecordNotFound(NotFound):
    code = "record_not_found"


class ConfigurationError(DomainError):
    code = "configuration_error"
    status = 500
