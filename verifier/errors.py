"""Errors of the standalone verifier.

Two families, mapped to the CLI exit codes:

* :class:`VerificationError` (exit 1): the material was read and checked, and it is wrong. Every instance
  carries :class:`Evidence` (what was expected, what was found, and where) so that a diagnosis can be printed
  and kept. Subclasses name the kind of failure (a bad proof, a bad signature, a malformed envelope, ...).
* :class:`CannotVerify` (exit 2): the check could not be carried out (bad arguments, unreadable input,
  network down, a check this verifier version does not implement). It says nothing about the material.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BadArgument",
    "CannotVerify",
    "CheckNotAvailable",
    "CheckpointFormatError",
    "ConsistencyProofError",
    "CorruptArchive",
    "EnvelopeError",
    "Evidence",
    "InclusionProofError",
    "InputLimitExceeded",
    "KeyFormatError",
    "LeafHashMismatch",
    "MerkleProofError",
    "NetworkError",
    "NoTrustedContract",
    "NoteFormatError",
    "NoteSignatureError",
    "NoteUnverifiedError",
    "ReceiptFormatError",
    "RollbackError",
    "UnreadableInput",
    "UnsafeMember",
    "VerificationError",
    "VerifierError",
]


@dataclass(frozen=True)
class Evidence:
    """What a failed check saw. ``expected``/``found`` are short printable values (hex, numbers, text)."""

    expected: Any = None
    found: Any = None
    index: int | None = None
    event_id: str | None = None
    event_type: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("index", "event_id", "event_type", "expected", "found"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.details:
            out["details"] = dict(self.details)
        return out


class VerifierError(Exception):
    """Base of everything this package raises on purpose."""

    exit_code = 2
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def diagnostics(self) -> str:
        """A human-readable, multi-line diagnosis."""
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class VerificationError(VerifierError):
    """The checked material is wrong. Carries evidence."""

    exit_code = 1
    code = "verification_failed"

    def __init__(self, message: str, evidence: Evidence | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.evidence = evidence if evidence is not None else Evidence()
        if code is not None:
            self.code = code

    def diagnostics(self) -> str:
        lines = [self.message]
        ev = self.evidence
        if ev.index is not None or ev.event_id or ev.event_type:
            where = f"event #{ev.index}" if ev.index is not None else "event"
            if ev.event_id:
                where += f" id={ev.event_id}"
            if ev.event_type:
                where += f" type={ev.event_type}"
            lines.append(f"  at:       {where}")
        if ev.expected is not None:
            lines.append(f"  expected: {ev.expected}")
        if ev.found is not None:
            lines.append(f"  found:    {ev.found}")
        for key, value in ev.details.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.evidence.to_json()}


class MerkleProofError(VerificationError):
    code = "merkle_proof_invalid"


class InclusionProofError(MerkleProofError):
    code = "inclusion_proof_invalid"


class ConsistencyProofError(MerkleProofError):
    code = "consistency_proof_invalid"


class LeafHashMismatch(VerificationError):
    code = "leaf_hash_mismatch"


class KeyFormatError(VerificationError):
    """A verifier key string is malformed (inside material being checked)."""

    code = "key_malformed"


class NoteFormatError(VerificationError):
    code = "note_malformed"


class NoteSignatureError(VerificationError):
    """A signature line from a known key does not verify: the whole note is rejected."""

    code = "note_signature_invalid"


class NoteUnverifiedError(VerificationError):
    """The note carries no signature from any trusted key."""

    code = "note_not_signed_by_trusted_key"


class CheckpointFormatError(VerificationError):
    code = "checkpoint_malformed"


class EnvelopeError(VerificationError):
    code = "envelope_invalid"


class ReceiptFormatError(VerificationError):
    code = "receipt_malformed"


class RollbackError(VerificationError):
    code = "ledger_rollback"


class CannotVerify(VerifierError):
    """The verification could not be carried out; nothing is claimed about the material."""

    exit_code = 2
    code = "cannot_verify"


class BadArgument(CannotVerify):
    code = "bad_argument"


class UnreadableInput(CannotVerify):
    code = "unreadable_input"


class InputLimitExceeded(UnreadableInput):
    """The input passes one of the bounds of :mod:`verifier.limits`: it is refused before it costs more. Names the
    limit (``limit``), its value for this input (``bound``) and, when known, what was found."""

    code = "input_limit_exceeded"

    def __init__(self, message: str, *, limit: str, bound: int, found: int | str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.bound = bound
        self.found = found

    def to_json(self) -> dict[str, Any]:
        out = {**super().to_json(), "limit": self.limit, "bound": self.bound}
        if self.found is not None:
            out["found"] = self.found
        return out


class UnsafeMember(UnreadableInput):
    """A member of a bundle (a file of its directory, a member of its archive) that a bundle cannot lawfully hold: a
    link, a device, a FIFO, a path leaving the bundle, a name given twice. The bundle is refused, naming it."""

    code = "unsafe_member"

    def __init__(self, message: str, *, member: str) -> None:
        super().__init__(message)
        self.member = member

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "member": self.member}


class CorruptArchive(UnreadableInput):
    """The archive's bytes are not a whole gzip stream of a whole tar archive (cut short, damaged, garbage)."""

    code = "corrupt_archive"


class NetworkError(CannotVerify):
    code = "network_error"


class NoTrustedContract(CannotVerify):
    """The auditor asked for the chain check (``--rpc``) but named no anchor contract, and neither does the
    material. Anyone can deploy a contract that emits ``Anchored`` for any log id, so the verifier never picks one
    itself: ``candidates`` lists the contracts the chain shows emitting ``Anchored`` for this log id (evidence for
    the auditor to compare with the log's published contract, never trusted), ``more`` how many were not listed."""

    code = "no_trusted_contract"

    def __init__(self, message: str, candidates: list[dict[str, Any]] | None = None, more: int = 0) -> None:
        super().__init__(message)
        self.candidates = list(candidates or [])
        self.more = more

    def diagnostics(self) -> str:
        lines = [self.message]
        if self.candidates:
            lines.append("  contracts emitting Anchored for this log id (NOT trusted, listed for you to compare):")
            lines.extend(
                f"    {c['contract']}: {c['anchors']} anchor(s), blocks {c['first_block']}..{c['last_block']}, "
                f"largest tree size {c['largest_size']}"
                for c in self.candidates
            )
            if self.more:
                lines.append(f"    ... and {self.more} more")
        else:
            lines.append("  no contract on this chain emits Anchored for this log id")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "candidates": self.candidates, "more_candidates": self.more}


class CheckNotAvailable(CannotVerify):
    """A check that was asked for is not implemented in this verifier version."""

    code = "check_not_available"
