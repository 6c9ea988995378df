"""Reading checkpoint anchors back from an EVM chain (docs/formats.md §6, docs/audit.md step 3).

The verifier's own copy of the ledger's log pager (it must not import ``anchoring``): ``eth_getLogs`` for
``Anchored(bytes32 indexed logId, uint64 treeSize, bytes32 root)`` with ``logId = SHA-256(origin)``, paged over
block windows of at most ``max_range`` blocks. When the provider refuses a window (range limit, too many
results, timeout, HTTP error) the window is halved and retried; a refused one-block window is
:class:`LogRangeError`. After a success the window grows back (doubling, up to ``max_range``).

Also here: the bundle's ``anchors.jsonl`` parser and the on-chain check of one receipt anchor.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from verifier.errors import CannotVerify, Evidence, UnreadableInput, VerificationError
from verifier.limits import loads_bounded
from verifier.rpc import Rpc, RpcRefused

__all__ = [
    "ANCHORED_TOPIC",
    "AnchorLog",
    "BundleAnchor",
    "ChainAccess",
    "LogRangeError",
    "block_info",
    "check_receipt_anchor",
    "decode_anchor_log",
    "get_anchor_logs",
    "is_address",
    "iter_anchor_logs",
    "iter_raw_logs",
    "log_id_of",
    "parse_anchors_jsonl",
    "read_chain_id",
]

#: keccak256("Anchored(bytes32,uint64,bytes32)"), topic0 of HromadaAnchor's event.
ANCHORED_TOPIC = "0xbea4d11b910aad40d2df2a90d97a3329219b6389f85777c99daad7eb5fafd439"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}\Z")


class LogRangeError(CannotVerify):
    """``eth_getLogs`` was refused even for a one-block range."""

    code = "log_range_refused"

    def __init__(self, from_block: int, to_block: int, cause: Exception) -> None:
        super().__init__(f"the chain RPC refused eth_getLogs even for block {from_block}..{to_block}: {cause}")
        self.from_block = from_block
        self.to_block = to_block


@dataclass(frozen=True)
class ChainAccess:
    """How the auditor reaches the chain: an RPC, and optionally the contract they trust (``--contract``)."""

    rpc: Rpc
    display: str = "the RPC"
    contract: str | None = None
    max_range: int = 10_000


@dataclass(frozen=True)
class AnchorLog:
    """One ``Anchored(logId, treeSize, root)`` event as found on chain."""

    log_id: bytes
    tree_size: int
    root: bytes
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "tx": self.tx_hash,
            "block": self.block_number,
            "block_hash": self.block_hash,
        }


def log_id_of(origin: str) -> bytes:
    return hashlib.sha256(origin.encode("utf-8")).digest()


def _num(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"not a quantity: {v!r}")
    return int(v, 16) if isinstance(v, str) else int(v)


def _hex(v: Any) -> str:
    text = str(v).lower()
    return text if text.startswith("0x") else "0x" + text


def is_address(value: str) -> bool:
    return bool(_ADDRESS.match(value))


def same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def decode_anchor_log(raw: dict[str, Any]) -> AnchorLog:
    """Decode one ``eth_getLogs`` entry of an Anchored event (topics ``[topic0, logId]``; data ``treeSize ‖ root``).
    Raises ValueError when it is not one."""
    topics = [_hex(t) for t in raw["topics"]]
    if len(topics) != 2 or topics[0] != ANCHORED_TOPIC:
        raise ValueError(f"not an Anchored event: topics {topics}")
    data = bytes.fromhex(_hex(raw["data"])[2:])
    if len(data) != 64:
        raise ValueError(f"Anchored data must be 64 bytes, got {len(data)}")
    if any(data[:24]):
        raise ValueError("treeSize does not fit in uint64")
    return AnchorLog(
        log_id=bytes.fromhex(topics[1][2:]),
        tree_size=int.from_bytes(data[:32], "big"),
        root=data[32:],
        contract=_hex(raw["address"]),
        tx_hash=_hex(raw["transactionHash"]),
        block_number=_num(raw["blockNumber"]),
        block_hash=_hex(raw["blockHash"]),
        log_index=_num(raw["logIndex"]),
    )


def _order(raw: dict[str, Any]) -> tuple[int, int]:
    return _num(raw["blockNumber"]), _num(raw["logIndex"])


def read_chain_id(rpc: Rpc) -> int:
    try:
        return _num(rpc("eth_chainId", []))
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read the chain id: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise CannotVerify(f"eth_chainId gave a malformed answer: {exc}") from exc


def _latest_block(rpc: Rpc) -> int:
    try:
        return _num(rpc("eth_blockNumber", []))
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read the latest block number: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise CannotVerify(f"eth_blockNumber gave a malformed answer: {exc}") from exc


def block_info(rpc: Rpc, number: int) -> tuple[str, int] | None:
    """(hash, timestamp) of the canonical block at ``number``, or None when there is none."""
    try:
        block = rpc("eth_getBlockByNumber", [hex(number), False])
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read block {number}: {exc}") from exc
    if block is None:
        return None
    try:
        return _hex(block["hash"]), _num(block["timestamp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CannotVerify(f"eth_getBlockByNumber({number}) gave a malformed block: {exc}") from exc


def iter_raw_logs(
    rpc: Rpc,
    address: str | None,
    topics: list[Any],
    *,
    from_block: int = 0,
    to_block: int | None = None,
    max_range: int = 10_000,
) -> Iterator[dict[str, Any]]:
    """Yield the raw ``eth_getLogs`` entries for ``topics`` (of ``address``, or of every contract when None) in
    chain order, paging ``[from_block, to_block]`` as :func:`iter_anchor_logs` does. Removed (reorged-out) logs
    are skipped. Raises LogRangeError when a one-block window is refused, NetworkError when the node is
    unreachable, CannotVerify when the answer is not a list of logs."""
    if to_block is None:
        to_block = _latest_block(rpc)
    window = max(1, max_range)
    start = from_block
    while start <= to_block:
        end = min(to_block, start + window - 1)
        query: dict[str, Any] = {"fromBlock": hex(start), "toBlock": hex(end), "topics": topics}
        if address is not None:
            query["address"] = address
        try:
            raw_logs = rpc("eth_getLogs", [query])
        except RpcRefused as exc:
            if end == start:
                raise LogRangeError(start, end, exc) from exc
            window = max(1, (end - start + 1) // 2)
            continue
        if not isinstance(raw_logs, list):
            raise CannotVerify(f"eth_getLogs {start}..{end} answered {type(raw_logs).__name__}, not a list")
        try:
            ordered = sorted(raw_logs, key=_order)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CannotVerify(f"eth_getLogs {start}..{end} returned a malformed log: {exc}") from exc
        yield from (raw for raw in ordered if not raw.get("removed"))
        start = end + 1
        window = min(max_range, window * 2)


def iter_anchor_logs(
    rpc: Rpc,
    contract: str,
    *,
    log_id: bytes | None = None,
    from_block: int = 0,
    to_block: int | None = None,
    max_range: int = 10_000,
) -> Iterator[AnchorLog]:
    """Yield the Anchored events of ``contract`` (optionally only of ``log_id``) in chain order.

    Pages ``[from_block, to_block]`` (default: the latest block) in windows of at most ``max_range`` blocks,
    halving a refused window and doubling again after a success. Removed (reorged-out) logs are skipped.
    Raises LogRangeError when a one-block window is refused, NetworkError when the node is unreachable.
    """
    topics: list[Any] = [ANCHORED_TOPIC]
    if log_id is not None:
        topics.append("0x" + log_id.hex())
    for raw in iter_raw_logs(rpc, contract, topics, from_block=from_block, to_block=to_block, max_range=max_range):
        try:
            yield decode_anchor_log(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            where = raw.get("blockNumber") if isinstance(raw, dict) else None
            raise CannotVerify(f"eth_getLogs returned a malformed log (block {where}): {exc}") from exc


def get_anchor_logs(
    rpc: Rpc,
    contract: str,
    *,
    log_id: bytes | None = None,
    from_block: int = 0,
    to_block: int | None = None,
    max_range: int = 10_000,
) -> list[AnchorLog]:
    """All Anchored events of ``contract`` in ``[from_block, to_block]``; see :func:`iter_anchor_logs`."""
    return list(
        iter_anchor_logs(rpc, contract, log_id=log_id, from_block=from_block, to_block=to_block, max_range=max_range)
    )


# --- anchors.jsonl -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BundleAnchor:
    """One line of the bundle's ``anchors.jsonl`` (formats.md §5)."""

    line: int  # 1-based line number
    tree_size: int
    root: bytes
    chain_id: int
    contract: str
    tx: str
    block: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx": self.tx,
            "block": self.block,
            "block_hash": self.block_hash,
        }


def _field_int(doc: dict[str, Any], key: str) -> int:
    v = doc.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError(f"'{key}' must be a non-negative integer, found {v!r}")
    return v


def _field_re(doc: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not pattern.match(v):
        raise ValueError(f"'{key}' is malformed: {v!r}")
    return v.lower()


def parse_anchors_jsonl(content: bytes) -> tuple[list[BundleAnchor], list[tuple[int, str]]]:
    """The anchors of ``anchors.jsonl`` and the (line, problem) of every malformed line."""
    anchors: list[BundleAnchor] = []
    problems: list[tuple[int, str]] = []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"anchors.jsonl is not UTF-8: {exc}") from exc
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = loads_bounded(line)  # a TooDeep (ValueError) for a line nested too deep to parse safely
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            root = doc.get("root")
            if not isinstance(root, str) or not re.fullmatch(r"[0-9a-f]{64}", root):
                raise ValueError(f"'root' must be 64 lowercase hex digits, found {root!r}")
            anchors.append(
                BundleAnchor(
                    line=n,
                    tree_size=_field_int(doc, "tree_size"),
                    root=bytes.fromhex(root),
                    chain_id=_field_int(doc, "chain_id"),
                    contract=_field_re(doc, "contract", _ADDRESS),
                    tx=_field_re(doc, "tx", _HASH),
                    block=_field_int(doc, "block"),
                    block_hash=_field_re(doc, "block_hash", _HASH),
                )
            )
        except ValueError as exc:
            problems.append((n, str(exc)))
    return anchors, problems


# --- one receipt's anchor --------------------------------------------------------------------------------
def check_receipt_anchor(
    chain: ChainAccess, origin: str, anchor: dict[str, Any], *, tree_size: int, root: bytes
) -> str:
    """Confirm a receipt's anchor on chain; returns a description. Raises VerificationError when the chain
    disagrees, CannotVerify when it cannot be asked.

    Checks: the chain id; the contract (``--contract`` when given); the transaction's receipt (mined,
    successful, in ``anchor.block`` with ``anchor.block_hash``); that block is still canonical; the
    transaction emitted ``Anchored(SHA-256(origin), tree_size, root)`` from the contract.
    """
    rpc = chain.rpc
    claimed_chain = anchor.get("chain_id")
    contract = anchor.get("contract")
    tx = anchor.get("tx")
    block = anchor.get("block")
    block_hash = anchor.get("block_hash")
    if not (isinstance(contract, str) and _ADDRESS.match(contract)):
        raise VerificationError(
            "anchor.contract is not an address", Evidence(found=repr(contract)[:80]), code="receipt_malformed"
        )
    if not (isinstance(tx, str) and _HASH.match(tx)) or not (isinstance(block_hash, str) and _HASH.match(block_hash)):
        raise VerificationError(
            "anchor.tx and anchor.block_hash must be 0x-prefixed 32-byte hashes",
            Evidence(found=f"tx={tx!r} block_hash={block_hash!r}"),
            code="receipt_malformed",
        )
    if not isinstance(block, int) or isinstance(block, bool) or not isinstance(claimed_chain, int):
        raise VerificationError(
            "anchor.block and anchor.chain_id must be integers",
            Evidence(found=f"block={block!r} chain_id={claimed_chain!r}"),
            code="receipt_malformed",
        )
    actual_chain = read_chain_id(rpc)
    if actual_chain != claimed_chain:
        raise VerificationError(
            f"the RPC {chain.display} serves chain {actual_chain}, but the anchor is on chain {claimed_chain}",
            Evidence(expected=claimed_chain, found=actual_chain),
            code="anchor_chain_mismatch",
        )
    if chain.contract is not None and not same_address(chain.contract, contract):
        raise VerificationError(
            "the receipt's anchor is in another contract than the one you trust (--contract)",
            Evidence(expected=chain.contract, found=contract),
            code="anchor_contract_mismatch",
        )
    try:
        receipt = rpc("eth_getTransactionReceipt", [tx])
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read the anchor transaction's receipt: {exc}") from exc
    if receipt is None:
        raise VerificationError(
            "the anchor transaction is not on this chain (no receipt): the anchor is missing or was reorged out",
            Evidence(expected=f"a mined transaction {tx}", found="none", details={"chain_id": actual_chain}),
            code="anchor_tx_not_found",
        )
    try:
        status = _num(receipt.get("status", "0x1"))
        r_block = _num(receipt["blockNumber"])
        r_hash = _hex(receipt["blockHash"])
        logs = list(receipt.get("logs") or [])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CannotVerify(f"eth_getTransactionReceipt gave a malformed receipt: {exc}") from exc
    if status != 1:
        raise VerificationError(
            "the anchor transaction reverted", Evidence(expected=1, found=status), code="anchor_tx_failed"
        )
    if r_block != block or r_hash != block_hash.lower():
        raise VerificationError(
            "the anchor transaction is in another block than the receipt says",
            Evidence(expected=f"block {block} {block_hash}", found=f"block {r_block} {r_hash}"),
            code="anchor_block_mismatch",
        )
    canonical = block_info(rpc, block)
    if canonical is None or canonical[0] != block_hash.lower():
        raise VerificationError(
            "the anchor's block is no longer canonical (reorg)",
            Evidence(expected=block_hash, found=canonical[0] if canonical else "no block"),
            code="anchor_block_not_canonical",
        )
    want = log_id_of(origin)
    found: list[str] = []
    for raw in logs:
        if not same_address(str(raw.get("address", "")), contract):
            continue
        try:
            ev = decode_anchor_log(raw)
        except (KeyError, TypeError, ValueError):
            continue
        if ev.log_id != want:
            continue
        if ev.tree_size == tree_size and ev.root == root:
            return (
                f"Anchored({origin}, {tree_size}, {root.hex()[:16]}…) in tx {tx} at block {block} "
                f"of chain {actual_chain}"
            )
        found.append(f"size {ev.tree_size} root {ev.root.hex()}")
    raise VerificationError(
        "the anchor transaction does not carry this anchor: no Anchored(logId, tree_size, root) event for this "
        "log with the receipt's size and root",
        Evidence(
            expected=f"size {tree_size} root {root.hex()}",
            found="; ".join(found) or "no Anchored event for this log",
            details={"tx": tx, "logId": "0x" + want.hex()},
        ),
        code="anchor_log_mismatch",
    )
