"""A k-of-n witness policy over a signed checkpoint (c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

The auditor names the witnesses it trusts (``--witness NAME=VKEY``, repeatable; VKEY is a witness verifier key
``<name>+<hex8>+<base64(0x04 ‖ public key)>`` or a file holding one) and how many of them must have cosigned
(``--witness-threshold K``, default: all of them). The policy is checked on the checkpoint note the audit or the
receipt proves into; its findings:

* ``witness_cosignature_invalid``: a line with a named witness's key name and key id that does not verify over this
  checkpoint (a lying or broken witness, or an edited note). Fails the policy, whatever the threshold;
* ``witness_cosignatures_insufficient``: fewer than K named witnesses cosigned; names the missing ones. Fails;
* ``witness_cosignature_unknown_key``: a cosignature line by a key the auditor did not name. Ignored and not
  counted (reported so that the auditor sees it).

The log's own signature line is not a cosignature and is neither counted nor reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import BadArgument, CannotVerify, KeyFormatError, VerificationError
from verifier.note import ALG_COSIGNATURE_V1, VerifierKey, parse_checkpoint_body, parse_note, parse_verifier_key
from verifier.note import verify_cosignature as verify_cosignature_line

__all__ = [
    "INSUFFICIENT",
    "INVALID",
    "UNKNOWN_KEY",
    "WitnessFinding",
    "WitnessPolicy",
    "WitnessPolicyResult",
    "check_witness_policy",
    "note_for_audit",
    "policy_from_options",
]

INVALID = "witness_cosignature_invalid"
INSUFFICIENT = "witness_cosignatures_insufficient"
UNKNOWN_KEY = "witness_cosignature_unknown_key"


@dataclass(frozen=True)
class WitnessPolicy:
    witnesses: tuple[tuple[str, VerifierKey], ...]  # (the auditor's name for it, its key)
    threshold: int

    def describe(self) -> str:
        return f"{self.threshold} of {len(self.witnesses)} ({', '.join(name for name, _ in self.witnesses)})"


@dataclass(frozen=True)
class WitnessFinding:
    code: str
    message: str
    witness: str | None = None
    expected: Any = None
    found: Any = None

    @property
    def fails(self) -> bool:
        return self.code != UNKNOWN_KEY

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("witness", "expected", "found"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def describe(self) -> str:
        lines = [f"[witnesses] {self.code}: {self.message}"]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        return "\n".join(lines)


@dataclass
class WitnessPolicyResult:
    policy: WitnessPolicy
    origin: str
    tree_size: int
    cosigned_by: list[str] = field(default_factory=list)  # the auditor's names of the witnesses whose line verified
    findings: list[WitnessFinding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.fails for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": {"threshold": self.policy.threshold, "witnesses": {n: str(k) for n, k in self.policy.witnesses}},
            "origin": self.origin,
            "tree_size": self.tree_size,
            "passed": self.passed,
            "cosigned_by": self.cosigned_by,
            "findings": [f.to_json() for f in self.findings],
        }

    def summary(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        by = ", ".join(self.cosigned_by) or "none"
        return f"witness policy {self.policy.describe()} at tree size {self.tree_size}: {verdict} (cosigned by {by})"


def _read_key(value: str) -> str:
    path = Path(value)
    if "+" not in value or path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadArgument(f"--witness key is neither a verifier key nor a readable file: {exc}") from exc
    return value.strip()


def policy_from_options(witnesses: Sequence[str] | None, threshold: int | None) -> WitnessPolicy | None:
    """The policy of ``--witness NAME=VKEY`` (repeated) and ``--witness-threshold K``; None when none is named."""
    if not witnesses:
        if threshold is not None:
            raise BadArgument("--witness-threshold needs at least one --witness NAME=VKEY")
        return None
    named: list[tuple[str, VerifierKey]] = []
    for option in witnesses:
        name, sep, value = option.partition("=")
        if not sep or not name or not value:
            raise BadArgument(f"--witness must be NAME=VKEY, not {option!r}")
        try:
            key = parse_verifier_key(_read_key(value))
        except KeyFormatError as exc:
            raise BadArgument(f"--witness {name}: {exc.diagnostics()}") from exc
        if key.alg != ALG_COSIGNATURE_V1:
            raise BadArgument(f"--witness {name}: not a cosignature/v1 (alg 0x04) witness key")
        if any(n == name for n, _ in named):
            raise BadArgument(f"--witness {name} is named twice")
        if any((k.name, k.key_id) == (key.name, key.key_id) for _, k in named):
            raise BadArgument(f"--witness {name}: the same key is named twice (it would count twice)")
        named.append((name, key))
    k = len(named) if threshold is None else threshold
    if not 1 <= k <= len(named):
        raise BadArgument(f"--witness-threshold must be between 1 and {len(named)} (the witnesses named), not {k}")
    return WitnessPolicy(tuple(named), k)


def check_witness_policy(note: str, policy: WitnessPolicy, log_key: VerifierKey | None = None) -> WitnessPolicyResult:
    """Check ``policy`` on a signed checkpoint note (whose log signature the caller has verified). Malformed notes
    raise VerificationError (as everywhere else in the verifier)."""
    parsed = parse_note(note)
    cp = parse_checkpoint_body(parsed.text)
    result = WitnessPolicyResult(policy, cp.origin, cp.size)
    trusted = {(k.name, k.key_id): name for name, k in policy.witnesses}
    keys = {(k.name, k.key_id): k for _, k in policy.witnesses}
    seen: set[str] = set()
    for sig in parsed.signatures:
        ident = (sig.name, sig.key_id)
        if ident == ((log_key.name, log_key.key_id) if log_key is not None else (cp.origin, sig.key_id)):
            continue  # the log's own signature (without its key: any line named after the origin)
        name = trusted.get(ident)
        if name is None:
            result.findings.append(
                WitnessFinding(
                    UNKNOWN_KEY,
                    f"a signature by {sig.name}+{sig.key_id.hex()}, a key not in the policy: ignored, not counted",
                    found=sig.line.strip(),
                )
            )
            continue
        try:
            verify_cosignature_line(parsed.text, sig.line, keys[ident])
        except VerificationError as exc:
            result.findings.append(
                WitnessFinding(
                    INVALID,
                    f"the cosignature of witness {name} does not verify over this checkpoint ({exc.message})",
                    witness=name,
                    expected=f"a cosignature/v1 by {keys[ident]} over {cp.origin} at size {cp.size}",
                    found=sig.line.strip(),
                )
            )
            continue
        if name not in seen:
            seen.add(name)
            result.cosigned_by.append(name)
    if len(seen) < policy.threshold:
        missing = [name for name, _ in policy.witnesses if name not in seen]
        result.findings.append(
            WitnessFinding(
                INSUFFICIENT,
                f"{len(seen)} of the {policy.threshold} required witness cosignatures; missing or invalid: "
                f"{', '.join(missing)}",
                expected=f"at least {policy.threshold} of {policy.describe()}",
                found=", ".join(result.cosigned_by) or "none",
            )
        )
    return result


def _size_of(name: str) -> int:
    digits = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return int(digits) if digits.isdigit() else -1


def note_for_audit(source: str, tree_size: int) -> str:
    """The checkpoint note an audit of ``source`` ended at: ``checkpoints/<tree_size>`` of the bundle, or a ledger
    URL's current ``/checkpoint`` (which may have grown since the audit read it; the result names its size)."""
    from verifier.bundle import open_bundle

    with open_bundle(source) as bundle:
        names = bundle.checkpoint_names()
        wanted = f"checkpoints/{tree_size}"
        name = wanted if wanted in names else max(names, key=_size_of, default=None)
        content = bundle.read_small(name) if name is not None else None
    if content is None:
        raise CannotVerify(f"{source} holds no checkpoint note to check the witness policy on")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CannotVerify(f"{source}: {name} is not UTF-8") from exc
