"""Checking a receipt (docs/formats.md §4).

In order: the envelope (formats.md §1) → its RFC 8785 bytes → the leaf hash (must equal ``leaf_hash`` when both
are given) → the inclusion proof into the checkpoint's tree → the checkpoint's signature with the trusted key.
Then, offline, the anchor object's own consistency with the checkpoint (same root at the same size, or a valid
``anchor.consistency_proof`` to a larger anchored size), then on chain with ``--rpc`` (the transaction's receipt
carries ``Anchored(SHA-256(origin), tree_size, root)`` from the contract, in the named, still canonical block of
the named chain; :func:`verifier.anchors.check_receipt_anchor`). Without ``--rpc`` and without ``--offline`` a
receipt that carries an anchor cannot be fully checked (exit 2). A receipt without an anchor checked with ``--rpc``
is checked against the anchors of the contract you name (``--contract``, required then: exit 2 without it), so
leaving the anchor out does not switch the chain check off (:func:`_check_unanchored`). The report says whether the
operator rewriting and re-signing the log was excluded (``operator_rewrite``, verifier/anchor_policy.py): only by an
anchor confirmed on chain in a contract you named.
With a ledger URL, the ledger's current checkpoint is fetched (``GET <url>/checkpoint``, a text/plain signed note)
and proven consistent with the receipt's (``GET <url>/v1/proofs/consistency?from=<size1>&to=<size2>`` →
``{"proof": [hex, ...]}``), which detects a log that was rewritten or forked after the receipt was issued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import rfc8785

from verifier.anchor_policy import AUDITOR, RECEIPT, RewriteCheck, no_trusted_contract
from verifier.anchors import ChainAccess, check_receipt_anchor, get_anchor_logs, log_id_of
from verifier.envelope import MAX_ENVELOPE_BYTES, check_event_object, find_floats
from verifier.errors import (
    CannotVerify,
    ConsistencyProofError,
    EnvelopeError,
    Evidence,
    InputLimitExceeded,
    LeafHashMismatch,
    NetworkError,
    ReceiptFormatError,
    RollbackError,
    UnreadableInput,
    VerificationError,
)
from verifier.keychain import follow, not_current, open_in_chain
from verifier.limits import MAX_EVENT_DEPTH, TooDeep, loads_bounded
from verifier.merkle import leaf_hash, verify_consistency, verify_inclusion
from verifier.note import Checkpoint, VerifierKey, open_checkpoint, open_note

__all__ = [
    "CHAIN_NOT_CHECKED",
    "ReceiptCheck",
    "ReceiptReport",
    "check_ledger_consistency",
    "fetch_checkpoint",
    "fetch_consistency_proof",
    "load_receipt",
    "verify_receipt",
]

_HEX32 = re.compile(r"[0-9a-f]{64}\Z")
CHAIN_NOT_CHECKED = (
    "not checked: no --rpc URL given, so the anchor was not read back from the chain (rerun with --rpc URL "
    "[--contract ADDR] to check it there)"
)


@dataclass
class ReceiptCheck:
    name: str
    status: str  # "passed" | "not_run"
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class ReceiptReport:
    leaf_index: int
    leaf_hash: str
    checkpoint: Checkpoint
    event_id: str | None
    event_type: str | None
    checks: list[ReceiptCheck] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # checks that were asked for but cannot run
    warnings: list[str] = field(default_factory=list)
    # The log key that signed the checkpoint: the trusted key, or one the hand-overs reached from it.
    log_key: VerifierKey | None = None
    # Whether the check excluded that the operator rewrote and re-signed the log (``operator_rewrite``).
    rewrite: RewriteCheck = field(default_factory=lambda: RewriteCheck(False, "the anchor was not checked on chain"))

    @property
    def exit_code(self) -> int:
        return 2 if self.unavailable else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "receipt",
            "verified": True,
            "complete": all(c.status == "passed" for c in self.checks),
            "exit_code": self.exit_code,
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": self.checkpoint.root.hex(),
            },
            "checks": [c.to_json() for c in self.checks],
            "unavailable": self.unavailable,
            "warnings": self.warnings,
            "operator_rewrite": self.rewrite.to_json(),
        }


def load_receipt(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableInput(f"cannot read receipt {path}: {exc}") from exc
    try:
        doc = loads_bounded(text, MAX_EVENT_DEPTH + 1)  # the envelope is level 2 of a receipt
    except TooDeep as exc:
        raise InputLimitExceeded(f"receipt {path}: {exc}", limit="max_json_depth", bound=exc.limit) from exc
    except ValueError as exc:
        raise UnreadableInput(f"receipt {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UnreadableInput(f"receipt {path} is not a JSON object")
    return doc


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX32.match(value):
        raise ReceiptFormatError(f"{what} must be 64 lowercase hex digits", Evidence(found=repr(value)[:100]))
    return bytes.fromhex(value)


def _proof(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise ReceiptFormatError(f"{what} must be a list of hex hashes", Evidence(found=type(value).__name__))
    return [_hex32(v, f"{what}[{i}]") for i, v in enumerate(value)]


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReceiptFormatError(f"{what} must be a non-negative integer", Evidence(found=repr(value)[:100]))
    return value


def _event_leaf(event: dict[str, Any], origin: str) -> bytes:
    floats = list(find_floats(event))
    if floats:
        raise EnvelopeError(
            "floats are not allowed in an envelope", Evidence(expected="integers only", found=", ".join(floats))
        )
    ev_id = event.get("id") if isinstance(event.get("id"), str) else None
    ev_type = event.get("type") if isinstance(event.get("type"), str) else None
    problems = check_event_object(event, origin)
    if problems:
        p = problems[0]
        raise EnvelopeError(
            f"receipt envelope is invalid: {p.message}",
            Evidence(
                expected=p.expected,
                found=p.found,
                event_id=ev_id,
                event_type=ev_type,
                details={"all problems": "; ".join(f"{q.code}: {q.message}" for q in problems)},
            ),
            code=p.code,
        )
    try:
        canonical = rfc8785.dumps(event)
    except rfc8785.CanonicalizationError as exc:
        raise EnvelopeError("receipt envelope cannot be canonicalised (RFC 8785)", Evidence(found=str(exc))) from exc
    if len(canonical) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(
            "envelope exceeds 65,535 bytes", Evidence(expected=f"<= {MAX_ENVELOPE_BYTES}", found=len(canonical))
        )
    return leaf_hash(canonical)


def verify_receipt(
    receipt: dict[str, Any],
    key: VerifierKey,
    *,
    offline: bool = False,
    ledger_url: str | None = None,
    client: httpx.Client | None = None,
    chain: ChainAccess | None = None,
    handovers: Sequence[tuple[str, bytes]] = (),
) -> ReceiptReport:
    """Check a receipt. Raises VerificationError (exit 1) or CannotVerify (exit 2); returns the report.

    ``handovers`` (label, note): the log's key hand-over notes (formats.md §3); the checkpoint may then be signed by
    any key the chain reaches from ``key``, the one in force at its size (verifier.keychain)."""
    if receipt.get("format") != 1 or isinstance(receipt.get("format"), bool):
        raise ReceiptFormatError("unknown receipt format", Evidence(expected=1, found=receipt.get("format")))
    note = receipt.get("checkpoint")
    if not isinstance(note, str):
        raise ReceiptFormatError("receipt has no checkpoint note", Evidence(expected="signed note text"))
    checks: list[ReceiptCheck] = []
    cp, signer, current = _open_with_chain(note, key, handovers)
    if cp.origin != key.name:
        raise VerificationError(
            "the checkpoint's origin is not the trusted key's log",
            Evidence(expected=key.name, found=cp.origin),
            code="checkpoint_origin_mismatch",
        )
    via = f", reached from the trusted key through {len(handovers)} hand-over note(s)" if signer != key else ""
    checks.append(ReceiptCheck("checkpoint signature", "passed", f"signed by {signer.name}+{signer.key_id_hex}{via}"))

    index = _int(receipt.get("leaf_index"), "leaf_index")
    event = receipt.get("event")
    given = receipt.get("leaf_hash")
    given_hash = _hex32(given, "leaf_hash") if given is not None else None
    event_id = event_type = None
    if event is not None:
        if not isinstance(event, dict):
            raise ReceiptFormatError("receipt 'event' must be an object", Evidence(found=type(event).__name__))
        event_id = event.get("id") if isinstance(event.get("id"), str) else None
        event_type = event.get("type") if isinstance(event.get("type"), str) else None
        leaf = _event_leaf(event, cp.origin)
        checks.append(ReceiptCheck("envelope", "passed", "well-formed; leaf hash recomputed from its JCS bytes"))
        if given_hash is not None and given_hash != leaf:
            raise LeafHashMismatch(
                "the receipt's leaf_hash is not the hash of its event",
                Evidence(
                    expected=leaf.hex(),
                    found=given_hash.hex(),
                    index=index,
                    event_id=event_id,
                    event_type=event_type,
                ),
            )
    elif given_hash is not None:
        leaf = given_hash
        checks.append(ReceiptCheck("envelope", "not_run", "the receipt holds only the leaf hash"))
    else:
        raise ReceiptFormatError("receipt has neither 'event' nor 'leaf_hash'")

    proof = _proof(receipt.get("inclusion_proof"), "inclusion_proof")
    try:
        verify_inclusion(leaf, index, cp.size, proof, cp.root)
    except VerificationError as exc:
        exc.evidence = Evidence(
            expected=exc.evidence.expected,
            found=exc.evidence.found,
            index=index,
            event_id=event_id,
            event_type=event_type,
            details={**exc.evidence.details, "checkpoint size": cp.size},
        )
        raise
    checks.append(ReceiptCheck("inclusion proof", "passed", f"leaf {index} is in the tree of size {cp.size}"))

    report = ReceiptReport(index, leaf.hex(), cp, event_id, event_type, checks, log_key=signer)
    anchor = receipt.get("anchor")
    if anchor is None:
        _check_unanchored(cp, offline, report, chain, ledger_url, client)
    else:
        _check_anchor(anchor, cp, offline, report, chain)
    if ledger_url:
        detail = check_ledger_consistency(ledger_url, cp, current, client=client)
        checks.append(ReceiptCheck("ledger consistency", "passed", detail))
    else:
        checks.append(ReceiptCheck("ledger consistency", "not_run", "no --ledger URL given"))
    if not report.rewrite.checked:
        report.warnings.append(
            report.rewrite.warning(
                "receipt check", "the receipt's checks show only that the operator's own checkpoint includes the event"
            )
        )
    return report


def _open_with_chain(
    note: str, key: VerifierKey, handovers: Sequence[tuple[str, bytes]]
) -> tuple[Checkpoint, VerifierKey, VerifierKey]:
    """The receipt's checkpoint, the key that signed it and the chain's current key (the one the ledger's latest
    checkpoint must be signed by). Without hand-overs: ``key`` signs it, as before."""
    if not handovers:
        return open_checkpoint(note, key), key, key
    chain = follow(key, handovers)
    if chain.rejected:
        r = chain.rejected[0]
        raise VerificationError(
            f"{r.label}: {r.message}; the chain of keys from the trusted key does not go through it",
            Evidence(expected=r.expected, found=r.found, details={"size": r.size}),
            code="key_handover_invalid",
        )
    cp, stray = open_in_chain(note, chain)
    if stray is not None:
        message, expected, found = not_current(cp, stray, chain)
        raise VerificationError(message, Evidence(expected=expected, found=found), code="checkpoint_key_not_current")
    opened = open_note(note, chain.verifier_keys())
    signer = next(
        k.key for k in chain.keys if (k.key.name, k.key.key_id) in {(s.name, s.key_id) for s in opened.verified}
    )
    return cp, signer, chain.current.key


def _check_unanchored(
    cp: Checkpoint,
    offline: bool,
    report: ReceiptReport,
    chain: ChainAccess | None,
    ledger_url: str | None,
    client: httpx.Client | None,
) -> None:
    """A receipt without an anchor. With ``--rpc`` the chain is still asked (a receipt cannot switch the check off
    by leaving its anchor out): the anchors of this log in the contract you trust (``--contract``, required: the
    receipt names none) must agree with the receipt's checkpoint - the same root at its size, or, for the next
    larger anchored size, a consistency proof from the ledger (``--ledger``)."""
    if offline or chain is None:
        report.checks.append(ReceiptCheck("anchor", "not_run", "the receipt has no anchor yet"))
        why = "--offline" if offline else "no --rpc URL given"
        report.rewrite = RewriteCheck(False, f"the receipt carries no anchor, and {why}")
        return
    log_id = log_id_of(cp.origin)
    if chain.contract is None:
        raise no_trusted_contract(chain, log_id, "the receipt carries no anchor, so it names no contract either")
    anchors = get_anchor_logs(chain.rpc, chain.contract, log_id=log_id, max_range=chain.max_range)
    contract = chain.contract.lower()
    for a in anchors:
        if a.tree_size == cp.size and a.root != cp.root:
            raise VerificationError(
                "PROOF OF REWRITTEN HISTORY: the receipt's checkpoint is validly signed for a size whose root on "
                "chain is another; keep the receipt and the transaction as evidence",
                Evidence(
                    expected=a.root.hex(), found=cp.root.hex(), details={"size": cp.size, "on chain": a.to_json()}
                ),
                code="checkpoint_contradicts_anchor",
            )
    same = next((a for a in anchors if a.tree_size == cp.size), None)
    larger = min((a for a in anchors if a.tree_size > cp.size), key=lambda a: a.tree_size, default=None)
    name = "anchor on chain (the receipt carries none)"
    if same is not None:
        detail = f"the contract you trust anchors this checkpoint: size {cp.size} in tx {same.tx_hash}"
        report.checks.append(ReceiptCheck(name, "passed", detail))
        report.rewrite = RewriteCheck(True, None, contract, AUDITOR, cp.size)
    elif larger is None:
        largest = max((a.tree_size for a in anchors), default=0)
        why = f"the contract you trust holds no anchor of this log covering size {cp.size} yet (largest: {largest})"
        report.checks.append(ReceiptCheck(name, "not_run", why))
        report.rewrite = RewriteCheck(False, why, contract, AUDITOR)
    elif ledger_url:
        http = client if client is not None else httpx.Client(timeout=20.0, follow_redirects=True)
        try:
            proof = fetch_consistency_proof(http, ledger_url, cp.size, larger.tree_size)
        finally:
            if client is None:
                http.close()
        try:
            verify_consistency(cp.size, larger.tree_size, proof, cp.root, larger.root)
        except ConsistencyProofError as exc:
            raise VerificationError(
                f"PROOF OF REWRITTEN HISTORY: the receipt's checkpoint (size {cp.size}) is not consistent with the "
                f"root anchored on chain for size {larger.tree_size}, by the ledger's own proof ({exc.message})",
                Evidence(expected=larger.root.hex(), found=cp.root.hex(), details={"on chain": larger.to_json()}),
                code="checkpoint_contradicts_anchor",
            ) from exc
        detail = (
            f"the ledger proves the checkpoint consistent with the anchor at size {larger.tree_size} in tx "
            f"{larger.tx_hash}"
        )
        report.checks.append(ReceiptCheck(name, "passed", detail))
        report.rewrite = RewriteCheck(True, None, contract, AUDITOR, larger.tree_size)
    else:
        why = (
            f"the contract you trust anchors this log at size {larger.tree_size}, beyond the receipt's checkpoint "
            f"(size {cp.size}), but the receipt carries no anchor and no proof to it: fetch the receipt again (it "
            "upgrades itself), or pass --ledger URL to prove its checkpoint consistent with that anchor"
        )
        report.checks.append(ReceiptCheck(name, "not_run", why))
        report.unavailable.append(why)
        report.rewrite = RewriteCheck(False, why, contract, AUDITOR)


def _check_anchor(
    anchor: Any, cp: Checkpoint, offline: bool, report: ReceiptReport, chain: ChainAccess | None = None
) -> None:
    if not isinstance(anchor, dict):
        raise ReceiptFormatError("receipt 'anchor' must be an object or null", Evidence(found=type(anchor).__name__))
    size = _int(anchor.get("tree_size"), "anchor.tree_size")
    root = _hex32(anchor.get("root"), "anchor.root")
    if size < cp.size:
        raise ReceiptFormatError(
            "the anchor is for a smaller tree than the checkpoint, so it does not cover it",
            Evidence(expected=f">= {cp.size}", found=size),
        )
    if size == cp.size:
        if root != cp.root:
            raise VerificationError(
                "the anchored root differs from the signed checkpoint's root at the same size",
                Evidence(expected=cp.root.hex(), found=root.hex(), details={"size": size}),
                code="anchor_root_mismatch",
            )
    else:
        proof = _proof(anchor.get("consistency_proof"), "anchor.consistency_proof")
        verify_consistency(cp.size, size, proof, cp.root, root)
    report.checks.append(
        ReceiptCheck("anchor (offline)", "passed", f"anchored root at size {size} is consistent with the checkpoint")
    )
    if offline:
        report.checks.append(ReceiptCheck("anchor on chain", "not_run", "skipped: --offline"))
        report.rewrite = RewriteCheck(False, "--offline: the receipt's anchor was checked against its checkpoint only")
    elif chain is None:  # not asked for: said as not checked, not a failure to run (exit 0)
        report.checks.append(ReceiptCheck("anchor on chain", "not_run", CHAIN_NOT_CHECKED))
        report.rewrite = RewriteCheck(False, "no --rpc URL given: the receipt's anchor was not checked on chain")
    else:
        detail = check_receipt_anchor(chain, cp.origin, anchor, tree_size=size, root=root)
        report.checks.append(ReceiptCheck("anchor on chain", "passed", detail))
        contract = str(anchor["contract"]).lower()
        if chain.contract is None:
            why = (
                "the anchor's contract was named by the receipt (anchor.contract), not by you (--contract): whoever "
                "issued the receipt could have deployed that contract and anchored a rewritten history in it"
            )
            report.rewrite = RewriteCheck(False, why, contract, RECEIPT, size)
        else:
            report.rewrite = RewriteCheck(True, None, contract, AUDITOR, size)


def fetch_receipt(base_url: str, event_id: str, *, client: httpx.Client | None = None) -> dict[str, Any]:
    """The receipt of `event_id` as the ledger at `base_url` serves it (GET /v1/receipts/{event_id}); it is then
    checked like a receipt read from a file: nothing the ledger says is trusted."""
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", event_id):
        raise CannotVerify(f"--event must be an event id (a UUID), not {event_id!r}")
    http = client if client is not None else httpx.Client(timeout=20.0, follow_redirects=True)
    url = f"{base_url.rstrip('/')}/v1/receipts/{event_id}"
    try:
        resp = http.get(url)
    except httpx.HTTPError as exc:
        raise NetworkError(f"GET {url} failed: {exc}") from exc
    finally:
        if client is None:
            http.close()
    if resp.status_code == 404:
        raise CannotVerify(f"the ledger at {base_url} has no receipt for event {event_id} (not in its log yet?)")
    if resp.status_code != 200:
        raise CannotVerify(f"GET /v1/receipts/{event_id} from {base_url} answered HTTP {resp.status_code}")
    try:
        doc = resp.json()
    except ValueError as exc:
        raise UnreadableInput(f"the ledger's receipt of {event_id} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UnreadableInput(f"the ledger's receipt of {event_id} is not a JSON object")
    return doc


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise NetworkError(f"GET {url} failed: {exc}") from exc
    if response.status_code != 200:
        raise NetworkError(f"GET {url} answered HTTP {response.status_code}")
    return response


def fetch_checkpoint(client: httpx.Client, base_url: str, key: VerifierKey) -> Checkpoint:
    """``GET <base>/checkpoint`` and verify it with ``key``."""
    url = base_url.rstrip("/") + "/checkpoint"
    return open_checkpoint(_get(client, url).text, key)


def fetch_consistency_proof(client: httpx.Client, base_url: str, size1: int, size2: int) -> list[bytes]:
    """``GET <base>/v1/proofs/consistency?from=<size1>&to=<size2>`` → ``{"proof": [hex, ...]}``."""
    url = f"{base_url.rstrip('/')}/v1/proofs/consistency?from={size1}&to={size2}"
    try:
        doc = loads_bounded(_get(client, url).text)
    except ValueError as exc:
        raise UnreadableInput(f"GET {url}: the answer is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("proof"), list):
        raise UnreadableInput(f'GET {url}: the answer has no "proof" list')
    return _proof(doc["proof"], "proof")


def check_ledger_consistency(
    base_url: str, cp: Checkpoint, key: VerifierKey, *, client: httpx.Client | None = None
) -> str:
    """Prove that the ledger's current checkpoint extends ``cp``. Returns a description of what was shown."""
    own = client is None
    http = client if client is not None else httpx.Client(timeout=20.0, follow_redirects=True)
    try:
        latest = fetch_checkpoint(http, base_url, key)
        evidence = {"receipt checkpoint": cp.note or cp.body, "ledger checkpoint": latest.note or latest.body}
        if latest.origin != cp.origin:
            raise VerificationError(
                "the ledger serves a checkpoint for another log",
                Evidence(expected=cp.origin, found=latest.origin),
                code="checkpoint_origin_mismatch",
            )
        if latest.size < cp.size:
            raise RollbackError(
                "the ledger's current checkpoint is older than the receipt's: the log was rolled back "
                "(or a stale replica answered); keep both notes",
                Evidence(expected=f">= {cp.size}", found=latest.size, details=evidence),
            )
        if latest.size == cp.size:
            if latest.root != cp.root:
                raise ConsistencyProofError(
                    "PROOF OF A FORK: two signed checkpoints for the same size with different roots; keep both notes",
                    Evidence(expected=cp.root.hex(), found=latest.root.hex(), details=evidence),
                    code="fork",
                )
            return f"the ledger's current checkpoint is the receipt's (size {cp.size})"
        proof = fetch_consistency_proof(http, base_url, cp.size, latest.size)
        try:
            verify_consistency(cp.size, latest.size, proof, cp.root, latest.root)
        except ConsistencyProofError as exc:
            raise ConsistencyProofError(
                "the ledger's current checkpoint does not extend the receipt's: the log was rewritten or forked; "
                f"keep both notes ({exc.message})",
                Evidence(expected=exc.evidence.expected, found=exc.evidence.found, details=evidence),
                code="fork",
            ) from exc
        return f"the ledger's checkpoint at size {latest.size} extends the receipt's at size {cp.size}"
    finally:
        if own:
            http.close()
