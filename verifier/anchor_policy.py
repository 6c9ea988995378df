"""Which anchor contract a check trusts, and what the anchors can then say about the log operator.

Anchors exist to catch the one adversary a signed log cannot catch by itself: the operator, who holds the log
key and can rewrite the whole log and re-sign every checkpoint (DESIGN §2). The same operator writes the bundle,
its ``log.json`` ``chain`` and its receipts, and anyone can deploy a contract that emits ``Anchored(logId,
treeSize, root)`` for any log id. So the material must never decide which contract is checked, or whether one is:

- the contract is the one the auditor names (``--contract``). Without it, the one the bundle (``log.json``) or
  the receipt (``anchor.contract``) names is used, with a loud warning, as a bundle's own key is: whoever wrote
  the bundle could have deployed that contract and anchored a rewritten history in it;
- the verifier never trusts a contract it found by itself. With ``--rpc`` and no contract named by anyone, the
  check refuses (exit 2, :class:`~verifier.errors.NoTrustedContract`) and lists, as evidence only, the contracts
  the chain shows emitting ``Anchored`` for this log id (:func:`discover`); when the bundle's own contract is
  used, other contracts holding anchors of this log are shown as a warning (a log re-anchored in a new contract
  after a rewrite leaves the old contract's anchors behind). Discovery is bounded (``DISCOVERY_LIMIT``
  contracts) and tolerant: a contract emitting malformed logs under the ``Anchored`` topic is listed, not fatal;
- a ``deploy_block`` that the material names is used only when the chain confirms it (:func:`confirm_from_block`:
  no code at the contract's address in the block before); a later block would hide the anchors before it;
- :class:`RewriteCheck`: whether the check excluded that the operator rewrote and re-signed the whole log, for
  the report's ``operator_rewrite`` field and its loud warning. For an audit it is :data:`REWRITE_POLICY` (a
  :class:`verifier.policy.AllOf` of three policies) applied to step 3's :class:`AnchorEvidence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.anchors import ANCHORED_TOPIC, ChainAccess, decode_anchor_log, iter_raw_logs
from verifier.errors import CannotVerify, NoTrustedContract
from verifier.policy import AllOf, Policy, PolicyFailure
from verifier.rpc import RpcRefused

__all__ = [
    "AUDITOR",
    "BUNDLE",
    "DISCOVERY_LIMIT",
    "RECEIPT",
    "REWRITE_POLICY",
    "AnchorCoversTheLog",
    "AnchorEvidence",
    "Candidate",
    "ComparedWithChain",
    "ContractNamedByAuditor",
    "RewriteCheck",
    "confirm_from_block",
    "discover",
    "no_trusted_contract",
    "rewrite_check",
]

#: Who named the contract a check read its anchors from.
AUDITOR = "auditor"
BUNDLE = "bundle"
RECEIPT = "receipt"
#: At most this many contracts are listed by :func:`discover` (the rest are counted).
DISCOVERY_LIMIT = 10


@dataclass
class Candidate:
    """A contract the chain shows emitting ``Anchored`` for one log id: evidence, never trusted."""

    contract: str
    anchors: int = 0
    malformed: int = 0
    first_block: int = 0
    last_block: int = 0
    largest_size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "anchors": self.anchors,
            "malformed_logs": self.malformed,
            "first_block": self.first_block,
            "last_block": self.last_block,
            "largest_size": self.largest_size,
        }


def discover(
    chain: ChainAccess, log_id: bytes, *, to_block: int | None = None, skip: str | None = None
) -> tuple[list[Candidate], int]:
    """The contracts (but ``skip``) that emitted an ``Anchored`` log for ``log_id`` in blocks ``0..to_block``, in
    the order first seen, at most ``DISCOVERY_LIMIT``; and how many more logs came from contracts beyond those.
    One ``eth_getLogs`` scan without an address filter; a log that does not decode counts as malformed."""
    found: dict[str, Candidate] = {}
    more = 0
    topics: list[Any] = [ANCHORED_TOPIC, "0x" + log_id.hex()]
    for raw in iter_raw_logs(chain.rpc, None, topics, to_block=to_block, max_range=chain.max_range):
        address = str(raw.get("address", "")).lower()
        if skip is not None and address == skip.lower():
            continue
        c = found.get(address)
        if c is None:
            if len(found) >= DISCOVERY_LIMIT:
                more += 1
                continue
            c = found[address] = Candidate(address)
        try:
            ev = decode_anchor_log(raw)
        except (KeyError, TypeError, ValueError, AttributeError):
            c.malformed += 1
            continue
        c.first_block = ev.block_number if c.anchors == 0 else min(c.first_block, ev.block_number)
        c.last_block = max(c.last_block, ev.block_number)
        c.largest_size = max(c.largest_size, ev.tree_size)
        c.anchors += 1
    return list(found.values()), more


def no_trusted_contract(chain: ChainAccess, log_id: bytes, why: str) -> NoTrustedContract:
    """The refusal for ``--rpc`` without a contract to trust, with what discovery saw (or why it saw nothing)."""
    message = (
        f"--rpc was given, but there is no anchor contract to trust: {why}, and you named none. Pass the log's "
        "published HromadaAnchor contract with --contract ADDR (from the city, or from an earlier audit you trust), "
        "or --offline to skip the chain. The verifier does not pick a contract itself: anyone can deploy a contract "
        "that emits Anchored events for any log id"
    )
    try:
        candidates, more = discover(chain, log_id)
    except CannotVerify as exc:
        return NoTrustedContract(f"{message}. (Looking for contracts that anchor this log id failed: {exc.message})")
    return NoTrustedContract(message, [c.to_json() for c in candidates], more)


def confirm_from_block(chain: ChainAccess, contract: str, claimed: int) -> tuple[int, str | None, bool]:
    """Where to start reading ``contract``'s anchors when the material says it was deployed in block ``claimed``:
    ``(block, note, contradicted)``. The claim is kept only when the chain shows no code at the address in block
    ``claimed - 1`` (before that the contract could not emit anything); otherwise reading starts at block 0,
    with a note, and ``contradicted`` says whether the chain showed code there (the claim is false) rather than
    being unable to show the old state (a node without archive state)."""
    if claimed <= 0:
        return 0, None, False
    try:
        code = chain.rpc("eth_getCode", [contract, hex(claimed - 1)])
    except RpcRefused as exc:
        return 0, f"the node cannot show the contract's code before block {claimed} ({exc}): read from block 0", False
    if code in (None, "", "0x", "0x0"):
        return claimed, None, False
    return 0, f"the contract already has code in block {claimed - 1}: read from block 0", True


@dataclass
class RewriteCheck:
    """Whether a check excluded that the log operator rewrote and re-signed the whole log (its anchors, read
    from a contract the auditor named, cover part of the log), and if not, why not."""

    checked: bool
    reason: str | None = None
    contract: str | None = None
    contract_named_by: str | None = None
    anchored_size: int | None = None
    unanchored_tail: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "reason": self.reason,
            "contract": self.contract,
            "contract_named_by": self.contract_named_by,
            "anchored_size": self.anchored_size,
            "unanchored_tail": self.unanchored_tail,
        }

    def warning(self, what: str, shown_by: str) -> str:
        """The loud warning for a check that did not exclude a rewrite (``what``: "audit", "receipt check";
        ``shown_by``: what the checks that ran do show)."""
        return (
            f"OPERATOR REWRITE NOT CHECKED: {self.reason}. Without anchors checked on chain in a contract you name "
            "(witness cosignatures, checked with --witness, show only that the witnesses saw this same log since "
            "they first followed it), the log operator itself could have rewritten and "
            f"re-signed the whole log, and this {what} would pass just the same: {shown_by}. To check it, rerun "
            "with --rpc URL --contract ADDR (the log's published anchor contract)."
        )


@dataclass(frozen=True)
class AnchorEvidence:
    """What step 3 found, for :data:`REWRITE_POLICY`: whether it could compare the chain's anchors with the log
    (``compared``), the contract read and who named it, and the largest anchored size the log covers (0: none)."""

    compared: bool
    contract: str | None
    named_by: str
    anchored_size: int
    tree_size: int


class ComparedWithChain(Policy[AnchorEvidence]):
    def verify(self, subject: AnchorEvidence) -> None:
        if not subject.compared:
            raise PolicyFailure("step 3 could not compare the chain's anchors with the log (see its findings)")


class ContractNamedByAuditor(Policy[AnchorEvidence]):
    def verify(self, subject: AnchorEvidence) -> None:
        if subject.named_by != AUDITOR:
            raise PolicyFailure(
                "the anchor contract was named by the bundle (log.json), not by you (--contract): whoever wrote the "
                "bundle could have deployed that contract and anchored a rewritten history in it"
            )


class AnchorCoversTheLog(Policy[AnchorEvidence]):
    def verify(self, subject: AnchorEvidence) -> None:
        if not subject.anchored_size:
            raise PolicyFailure(
                f"the contract you trust holds no anchor of this log up to its tree size {subject.tree_size}"
            )


#: The audit excluded that the operator rewrote and re-signed the whole log when all of these hold.
REWRITE_POLICY: Policy[AnchorEvidence] = AllOf([ComparedWithChain(), ContractNamedByAuditor(), AnchorCoversTheLog()])


def rewrite_check(evidence: AnchorEvidence, policy: Policy[AnchorEvidence] = REWRITE_POLICY) -> RewriteCheck:
    """The report's ``operator_rewrite`` verdict from step 3's evidence under ``policy``."""
    size = evidence.anchored_size or None
    try:
        policy.verify(evidence)
    except PolicyFailure as exc:
        if not evidence.compared:
            return RewriteCheck(False, exc.reason)
        return RewriteCheck(False, exc.reason, evidence.contract, evidence.named_by, size)
    return RewriteCheck(
        True, None, evidence.contract, evidence.named_by, size, evidence.tree_size - evidence.anchored_size
    )
