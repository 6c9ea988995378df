"""The monitor's anchor check: ``hromada-verify monitor URL --state DIR --key VKEY --rpc URL --contract ADDR``.

Each round whose checkpoint the monitor accepts as far as its tree goes (verifier/monitor/follow.py steps 1-3):

1. the chain id is read (it must be the one earlier rounds read from this contract: ``anchor_chain_mismatch``), and
   the contract's ``Anchored`` events of this log (``logId = SHA-256(origin)``) from the first block not read yet
   up to the latest one (verifier/anchors.py's pager), beside the anchors kept pending by earlier rounds;
2. two roots anchored for one size among them is ``anchor_fork``;
3. each anchor whose size the new checkpoint covers is checked against the monitor's own tree, never against a
   root the ledger states:

   - at a size the round holds a root of (0; the kept size; a size among the new entries: its root is taken while
     they are appended; the new size): another root is ``anchor_root_mismatch`` (expected: the anchored root,
     found: the monitor's), and when the monitor holds a signed checkpoint of that size (the kept note or the new
     one) ``checkpoint_contradicts_anchor`` too, with the note and the anchor written to ``DIR/evidence/``;
   - at an older size: the ledger's consistency proof from (that size, the anchored root) to the new checkpoint,
     whose root the monitor recomputed itself (``GET /v1/proofs/consistency``): a proof that does not verify is
     ``anchor_root_mismatch``; a ledger that refuses to prove it (an HTTP 4xx answer: it signed no checkpoint of
     that size, so the anchor is of a tree the log never published) is ``monitor_anchor_unproved``;
4. an anchor for a size beyond the new checkpoint is kept pending and checked by the round that reaches its size.

The chain id, the next block to read, the pending anchors and the counts are part of ``state.json`` (``anchors``),
so a restart resumes; a round with a finding advances nothing, and the next one reads the same blocks again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.anchors import AnchorLog, ChainAccess, get_anchor_logs, log_id_of, read_chain_id, same_address
from verifier.errors import CannotVerify, ConsistencyProofError
from verifier.merkle import verify_consistency
from verifier.monitor.findings import MonitorFinding
from verifier.rpc import RpcRefused

__all__ = ["AnchorRound", "ChainState", "ProofAnswer", "chain_doc", "chain_from_doc", "check_anchors", "read_anchors"]

#: The ledger's answer to a consistency proof request: the proof's hashes, or the HTTP status it refused with.
ProofAnswer = list[bytes] | int


@dataclass
class ChainState:
    """What the monitor keeps of the chain between rounds (``state.json``'s ``anchors``)."""

    chain_id: int
    contract: str
    next_block: int = 0  # the first block not read yet
    pending: list[AnchorLog] = field(default_factory=list)  # anchored beyond the kept size: checked later
    checked: int = 0  # anchors checked so far
    largest: int = 0  # the largest anchored size checked


def _anchor_doc(a: AnchorLog) -> dict[str, Any]:
    return {**a.to_json(), "log_index": a.log_index}


def chain_doc(state: ChainState) -> dict[str, Any]:
    return {
        "chain_id": state.chain_id,
        "contract": state.contract,
        "next_block": state.next_block,
        "pending": [_anchor_doc(a) for a in state.pending],
        "checked": state.checked,
        "largest": state.largest,
    }


def chain_from_doc(doc: Any, origin: str | None) -> ChainState:
    """The inverse of :func:`chain_doc`; KeyError/TypeError/ValueError when ``doc`` is not one."""
    log_id = log_id_of(origin or "")
    contract = str(doc["contract"])
    pending = [
        AnchorLog(
            log_id=log_id,
            tree_size=int(a["tree_size"]),
            root=bytes.fromhex(a["root"]),
            contract=contract,
            tx_hash=str(a["tx"]),
            block_number=int(a["block"]),
            block_hash=str(a["block_hash"]),
            log_index=int(a["log_index"]),
        )
        for a in doc["pending"]
    ]
    return ChainState(
        chain_id=int(doc["chain_id"]),
        contract=contract,
        next_block=int(doc["next_block"]),
        pending=pending,
        checked=int(doc["checked"]),
        largest=int(doc["largest"]),
    )


@dataclass
class AnchorRound:
    """One round's reading of the chain: the anchors to check (the pending ones first) and where reading stopped."""

    chain_id: int
    contract: str
    to_block: int
    anchors: list[AnchorLog]
    read: int  # how many of them were read from the chain this round


def read_anchors(chain: ChainAccess, origin: str, kept: ChainState | None) -> AnchorRound | MonitorFinding:
    """Read the chain (step 1 of the module docstring); CannotVerify (exit 2) when it cannot be read."""
    assert chain.contract is not None  # the CLI refuses --rpc without --contract: a ledger names no contract
    contract = chain.contract.lower()
    chain_id = read_chain_id(chain.rpc)
    if kept is not None and not same_address(kept.contract, contract):
        kept = None  # another contract than earlier rounds read: its anchors from block 0
    if kept is not None and kept.chain_id != chain_id:
        return MonitorFinding(
            code="anchor_chain_mismatch",
            message=f"the RPC {chain.display} serves chain {chain_id}, but earlier rounds read this log's anchors "
            f"from chain {kept.chain_id} (a wrong --rpc, or a node of another chain)",
            expected=kept.chain_id,
            found=chain_id,
        )
    try:
        value = chain.rpc("eth_blockNumber", [])
        to_block = int(value, 16) if isinstance(value, str) else int(value)
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read the latest block number from {chain.display}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise CannotVerify(f"eth_blockNumber gave a malformed answer: {exc}") from exc
    from_block = 0 if kept is None else kept.next_block
    new: list[AnchorLog] = []
    if from_block <= to_block:
        new = get_anchor_logs(
            chain.rpc,
            contract,
            log_id=log_id_of(origin),
            from_block=from_block,
            to_block=to_block,
            max_range=chain.max_range,
        )
    pending = [] if kept is None else kept.pending
    return AnchorRound(chain_id, contract, max(to_block, from_block - 1), [*pending, *new], len(new))


def _where(a: AnchorLog) -> str:
    return f"tx {a.tx_hash}, block {a.block_number}"


def check_anchors(
    anchors: list[AnchorLog],
    *,
    size: int,
    roots: dict[int, bytes],
    notes: dict[int, str],
    prove: Callable[[int], ProofAnswer],
    evidence: Callable[[str, str, AnchorLog], list[str]],
) -> tuple[list[MonitorFinding], list[AnchorLog], list[AnchorLog]]:
    """Steps 2-4 of the module docstring over ``anchors`` for the new checkpoint of ``size`` (whose root is
    ``roots[size]``): ``roots`` are the roots the monitor holds, ``notes`` the signed notes it holds by size,
    ``prove(s)`` asks the ledger for the consistency proof from ``s`` to ``size``, ``evidence(code, note, anchor)``
    writes a contradicting note and anchor to ``DIR/evidence/``. Returns (findings, checked, pending)."""
    findings: list[MonitorFinding] = []
    checked: list[AnchorLog] = []
    pending: list[AnchorLog] = []
    by_size: dict[int, dict[bytes, AnchorLog]] = {}
    for a in anchors:
        by_size.setdefault(a.tree_size, {}).setdefault(a.root, a)
    for s, distinct in sorted(by_size.items()):
        if len(distinct) > 1:
            first, second = list(distinct.values())[:2]
            findings.append(
                MonitorFinding(
                    code="anchor_fork",
                    message=f"PROOF OF A FORK: two different roots were anchored on chain for tree size {s} "
                    f"({_where(first)}; {_where(second)})",
                    expected=first.root.hex(),
                    found=second.root.hex(),
                )
            )
        for a in distinct.values():
            if s > size:
                pending.append(a)
                continue
            checked.append(a)
            if s in roots:
                if roots[s] == a.root:
                    continue
                findings.append(
                    MonitorFinding(
                        code="anchor_root_mismatch",
                        message=f"the root anchored on chain for size {s} ({_where(a)}) is not the root of the "
                        f"monitor's own tree at that size: the log's history up to {s} is another than the one "
                        "anchored",
                        expected=a.root.hex(),
                        found=roots[s].hex(),
                    )
                )
                if s in notes:
                    findings.append(
                        MonitorFinding(
                            code="checkpoint_contradicts_anchor",
                            message=f"PROOF OF REWRITTEN HISTORY: the checkpoint of size {s} signed by the log key "
                            f"has another root than the one anchored on chain for that size ({_where(a)}); the "
                            "note and the anchor are kept as evidence",
                            expected=a.root.hex(),
                            found=roots[s].hex(),
                            evidence=evidence("checkpoint_contradicts_anchor", notes[s], a),
                        )
                    )
                continue
            answer = prove(s)
            if isinstance(answer, int):
                findings.append(
                    MonitorFinding(
                        code="monitor_anchor_unproved",
                        message=f"an anchor on chain for size {s} ({_where(a)}), but the ledger refuses to prove "
                        f"its tree of size {s} consistent with its checkpoint of size {size} (HTTP {answer}): "
                        "the anchored tree is not one the log published",
                        expected=f"a consistency proof from size {s} to {size}",
                        found=f"HTTP {answer}",
                    )
                )
                continue
            try:
                verify_consistency(s, size, answer, a.root, roots[size])
            except ConsistencyProofError as exc:
                findings.append(
                    MonitorFinding(
                        code="anchor_root_mismatch",
                        message=f"the root anchored on chain for size {s} ({_where(a)}) is not a root of the "
                        f"monitor's own tree: the ledger's consistency proof from it to the checkpoint of size "
                        f"{size} does not verify ({exc.message})",
                        expected=a.root.hex(),
                        found=f"no consistency with the root {roots[size].hex()} of size {size}",
                    )
                )
    return findings, checked, pending
