"""Talking to an EVM chain: configuration, the sender key (never logged), fees, anchor transactions, deploy.

The configuration comes from the settings tree (anchoring.config.ChainSettings, HROMADA_CHAIN_*). The key is held
by `SenderKey`, whose repr/str show only the address; the RPC URL is shown redacted.
"""

from __future__ import annotations

import math
import os
import secrets
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from anchoring.contract import expected_runtime_code, load_artifact
from anchoring.errors import (
    ChainConfigError,
    ChainMismatchError,
    ChainUnavailableError,
    redact_url,
)

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress
    from web3 import Web3

T = TypeVar("T")

# web3, eth_account, eth_abi and eth_utils are imported where they are used: together they take about a second
# to import, which every `hromada` command paid, anchoring or not (the settings read this module).

#: keccak256("anchor(bytes32,uint64,bytes32)")[:4] (tests/anchoring check it against keccak)
ANCHOR_SELECTOR = bytes.fromhex("70c127c6")
#: keccak256("anchorBatch((bytes32,uint64,bytes32)[])")[:4]
ANCHOR_BATCH_SELECTOR = bytes.fromhex("3865bfe4")
GWEI = 10**9
MIN_BUMP = 0.125  # geth/anvil refuse a replacement unless both fee fields grow by at least 10%; we use 12.5%


class SenderKey:
    """A secp256k1 private key. Its repr, str and every error mention only the address."""

    __slots__ = ("__key", "address")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ChainConfigError("a sender key is 32 bytes (64 hex digits)", setting="key")
        from eth_account import Account

        self.__key = key
        self.address: str = Account.from_key(key).address

    @classmethod
    def from_hex(cls, text: str) -> SenderKey:
        try:
            return cls(bytes.fromhex(text.strip().removeprefix("0x")))
        except ValueError:
            raise ChainConfigError("the sender key is not 64 hex digits", setting="key") from None

    @classmethod
    def from_file(cls, path: Path) -> SenderKey:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise ChainConfigError(f"cannot read key file {path}: {exc.strerror}", setting="key_file") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ChainConfigError(
                f"key file {path} is readable by group or others (mode {stat.filemode(mode)}); chmod 600 it",
                setting="key_file",
            )
        return cls.from_hex(text)

    @classmethod
    def generate_file(cls, path: Path) -> SenderKey:
        """Create a fresh random key in `path` (0600). Used for the local development chain only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
        return cls(key)

    def sign(self, tx: Mapping[str, Any]) -> tuple[bytes, str]:
        from eth_account import Account

        signed = Account.sign_transaction(dict(tx), self.__key)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

    def __repr__(self) -> str:
        return f"SenderKey({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("SenderKey is not picklable")


Finality = Literal["auto", "confirmations", "finalized"]


@dataclass(frozen=True)
class ChainConfig:
    """Where and how to anchor. `local` marks the private anvil chain (no public guarantee)."""

    rpc_url: str = field(repr=False)
    chain_id: int
    contract: str | None = None
    deploy_block: int = 0
    key_file: Path | None = None
    key: SenderKey | None = field(default=None, repr=False, compare=False)
    local: bool = False
    request_timeout: float = 15.0

    def __post_init__(self) -> None:
        if self.contract is not None:
            try:
                object.__setattr__(self, "contract", to_checksum_address(self.contract))
            except ValueError:
                raise ChainConfigError(f"not an address: {self.contract!r}", setting="contract") from None

    @property
    def rpc_display(self) -> str:
        return redact_url(self.rpc_url)

    def __repr__(self) -> str:
        return (
            f"ChainConfig(rpc={self.rpc_display}, chain_id={self.chain_id}, contract={self.contract}, "
            f"deploy_block={self.deploy_block}, local={self.local})"
        )

    def load_key(self) -> SenderKey:
        """The sender key: read from `key_file` (checked 0600), or the one the settings gave."""
        if self.key_file is not None:
            return SenderKey.from_file(self.key_file)
        if self.key is not None:
            return self.key
        raise ChainConfigError(
            "no sender key: set HROMADA_CHAIN_KEY_FILE (preferred) or HROMADA_CHAIN_KEY", setting="key"
        )


@dataclass(frozen=True)
class AnchorItem:
    log_id: bytes
    tree_size: int
    root: bytes


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees (max_fee, priority) or a legacy gas price (priority None)."""

    max_fee: int
    priority: int | None

    def bumped(self, current: Fees, ratio: float = MIN_BUMP) -> Fees:
        """A replacement's fees: at least `ratio` above these, and at least what the network asks now."""
        if ratio < MIN_BUMP:
            raise ValueError("a replacement must raise fees by at least 12.5%")

        def up(v: int) -> int:
            return math.ceil(v * (1 + ratio)) + 1

        if self.priority is None or current.priority is None:
            return Fees(max(up(self.max_fee), current.max_fee), None)
        priority = max(up(self.priority), current.priority)
        return Fees(max(up(self.max_fee), current.max_fee, priority), priority)


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int


class SendOutcome:
    ACCEPTED = "accepted"
    KNOWN = "known"  # the node already has this exact transaction
    NONCE_USED = "nonce_used"  # the nonce is consumed (maybe by this very transaction)
    UNDERPRICED = "underpriced"  # a replacement with too small a bump, or fees below the node's minimum


def encode_anchor_call(items: Sequence[AnchorItem]) -> bytes:
    """Calldata: anchor(...) for one item, anchorBatch(...) for several."""
    if not items:
        raise ValueError("nothing to anchor")
    for it in items:
        if len(it.log_id) != 32 or len(it.root) != 32 or not 0 <= it.tree_size < 2**64:
            raise ValueError(f"bad anchor item {it}")
    from eth_abi.abi import encode as abi_encode

    if len(items) == 1:
        it = items[0]
        return ANCHOR_SELECTOR + abi_encode(["bytes32", "uint64", "bytes32"], [it.log_id, it.tree_size, it.root])
    return ANCHOR_BATCH_SELECTOR + abi_encode(
        ["(bytes32,uint64,bytes32)[]"], [[(it.log_id, it.tree_size, it.root) for it in items]]
    )


def to_checksum_address(address: str) -> ChecksumAddress:
    """EIP-55 (eth_utils'), imported on first use."""
    from eth_utils.address import to_checksum_address as checksum

    return checksum(address)


def _is_connection_problem(exc: BaseException) -> bool:
    import requests
    from web3.exceptions import TimeExhausted

    return isinstance(
        exc, requests.exceptions.RequestException | ConnectionError | TimeoutError | OSError | TimeExhausted
    )


class ChainClient:
    """A thin, typed layer over web3 for what the anchorer needs. Connection problems raise
    ChainUnavailableError (the anchorer retries with backoff); nothing here retries on its own."""

    def __init__(self, config: ChainConfig, key: SenderKey | None, *, w3: Web3 | None = None) -> None:
        self.config = config
        self.key = key
        if w3 is None:
            from web3 import Web3

            provider = Web3.HTTPProvider(
                config.rpc_url,
                request_kwargs={"timeout": config.request_timeout},
                exception_retry_configuration=None,
            )
            w3 = Web3(provider)
        self.w3 = w3
        self._finalized_supported: bool | None = None

    # -- plumbing ---------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from web3.exceptions import Web3RPCError

        try:
            return fn()
        except Web3RPCError:
            raise
        except Exception as exc:
            if _is_connection_problem(exc):
                raise ChainUnavailableError(
                    f"{what}: chain RPC {self.config.rpc_display} unavailable",
                    rpc=self.config.rpc_display,
                    cause=type(exc).__name__,
                ) from None
            raise

    def rpc(self, method: str, params: list[Any]) -> Any:
        """Raw JSON-RPC (hex in, hex out), e.g. for logs.iter_anchor_logs or anvil_* methods."""

        from web3.types import RPCEndpoint

        def call() -> Any:
            resp = self.w3.provider.make_request(RPCEndpoint(method), params)
            if resp.get("error"):
                from anchoring.logs import RpcError

                raise RpcError(method, resp["error"])
            return resp.get("result")

        return self._call(method, call)

    @property
    def sender(self) -> str:
        if self.key is None:
            raise ChainConfigError("no sender key configured", setting="key")
        return self.key.address

    # -- checks -----------------------------------------------------------------------------------------
    def chain_id(self) -> int:
        return int(self._call("eth_chainId", lambda: self.w3.eth.chain_id))

    def check(self) -> None:
        """Refuse to anchor to the wrong chain or to a contract that is not HromadaAnchor owned by our key."""
        actual = self.chain_id()
        if actual != self.config.chain_id:
            raise ChainMismatchError(
                f"RPC {self.config.rpc_display} serves chain {actual}, configured {self.config.chain_id}",
                expected_chain_id=self.config.chain_id,
                actual_chain_id=actual,
            )
        if self.config.contract is None:
            raise ChainConfigError("no contract address configured (HROMADA_CHAIN_CONTRACT)", setting="contract")
        code = self.code(self.config.contract)
        if self.key is not None and code != expected_runtime_code(self.key.address):
            raise ChainMismatchError(
                f"{self.config.contract} on chain {actual} is not HromadaAnchor owned by {self.key.address}"
                + (" (no code there)" if not code else ""),
                contract=self.config.contract,
                actual_chain_id=actual,
            )

    def code(self, address: str) -> bytes:
        return bytes(self._call("eth_getCode", lambda: self.w3.eth.get_code(to_checksum_address(address))))

    # -- blocks -----------------------------------------------------------------------------------------
    def block_number(self) -> int:
        return int(self._call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> str | None:
        """Hash of the canonical block at `number`, or None when there is none (yet)."""

        def get() -> str | None:
            try:
                block = self.w3.eth.get_block(number)
            except Exception as exc:
                if type(exc).__name__ == "BlockNotFound":
                    return None
                raise
            return "0x" + bytes(block["hash"]).hex()

        return self._call("eth_getBlockByNumber", get)

    def finalized_number(self) -> int | None:
        """Number of the 'finalized' block, or None if the chain does not support the tag."""
        if self._finalized_supported is False:
            return None

        from web3.exceptions import Web3RPCError

        def get() -> int | None:
            try:
                block = self.w3.eth.get_block("finalized")
            except (Web3RPCError, ValueError) as exc:
                if _is_connection_problem(exc):
                    raise
                self._finalized_supported = False
                return None
            self._finalized_supported = True
            return int(block["number"])

        return self._call("eth_getBlockByNumber(finalized)", get)

    # -- accounts, fees ---------------------------------------------------------------------------------
    def nonce(self, block: Literal["latest", "pending"] = "latest") -> int:
        sender = self.sender
        return int(
            self._call(
                "eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(to_checksum_address(sender), block)
            )
        )

    def balance(self, address: str | None = None) -> int:
        addr = address or self.sender
        return int(self._call("eth_getBalance", lambda: self.w3.eth.get_balance(to_checksum_address(addr))))

    def fees(self) -> Fees:
        """What to offer now: max fee = 2 x base fee + priority (room for six full blocks of base-fee growth)."""

        from web3.exceptions import Web3RPCError

        def get() -> Fees:
            block = self.w3.eth.get_block("latest")
            base = block.get("baseFeePerGas")
            if base is None:
                return Fees(int(self.w3.eth.gas_price), None)
            try:
                priority = int(self.w3.eth.max_priority_fee)
            except (Web3RPCError, ValueError):
                priority = 1 * GWEI
            priority = max(priority, 1)
            return Fees(2 * int(base) + priority, priority)

        return self._call("fees", get)

    # -- transactions -----------------------------------------------------------------------------------
    def estimate_anchor_gas(self, data: bytes) -> int:
        contract = self.config.contract
        if contract is None:
            raise ChainConfigError("no contract address configured", setting="contract")
        sender = self.sender
        est = self._call(
            "eth_estimateGas",
            lambda: self.w3.eth.estimate_gas(
                {"from": to_checksum_address(sender), "to": to_checksum_address(contract), "data": data}
            ),
        )
        return math.ceil(int(est) * 1.25) + 5_000

    def sign_anchor_tx(self, items: Sequence[AnchorItem], *, nonce: int, fees: Fees, gas: int) -> tuple[bytes, str]:
        """Sign (not send) the anchor transaction; returns (raw bytes, tx hash)."""
        if self.key is None:
            raise ChainConfigError("no sender key configured", setting="key")
        if self.config.contract is None:
            raise ChainConfigError("no contract address configured", setting="contract")
        return self.key.sign(
            self._tx_fields(to=self.config.contract, data=encode_anchor_call(items), nonce=nonce, fees=fees, gas=gas)
        )

    def _tx_fields(self, *, to: str | None, data: bytes, nonce: int, fees: Fees, gas: int) -> dict[str, Any]:
        tx: dict[str, Any] = {"chainId": self.config.chain_id, "nonce": nonce, "gas": gas, "value": 0, "data": data}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if fees.priority is None:
            tx["gasPrice"] = fees.max_fee
        else:
            tx.update(type=2, maxFeePerGas=fees.max_fee, maxPriorityFeePerGas=fees.priority)
        return tx

    def send_raw(self, raw: bytes) -> str:
        """Broadcast; returns a SendOutcome value. Errors other than the known races propagate."""

        from web3.exceptions import Web3RPCError

        def send() -> str:
            try:
                self.w3.eth.send_raw_transaction(raw)
            except (Web3RPCError, ValueError) as exc:
                msg = str(exc).lower()
                if "already known" in msg or "already imported" in msg or "known transaction" in msg:
                    return SendOutcome.KNOWN
                if "nonce too low" in msg or "nonce is too low" in msg or "invalid nonce" in msg:
                    return SendOutcome.NONCE_USED
                if "underpriced" in msg or "fee too low" in msg or "max fee per gas less than block base fee" in msg:
                    return SendOutcome.UNDERPRICED
                raise
            return SendOutcome.ACCEPTED

        return self._call("eth_sendRawTransaction", send)

    def receipt(self, tx_hash: str) -> Receipt | None:
        from web3.exceptions import TransactionNotFound

        def get() -> Receipt | None:
            try:
                r = self.w3.eth.get_transaction_receipt(cast(Any, tx_hash))
            except TransactionNotFound:
                return None
            if r is None or r.get("blockNumber") is None:
                return None
            return Receipt(
                tx_hash=tx_hash,
                status=int(r["status"]),
                block_number=int(r["blockNumber"]),
                block_hash="0x" + bytes(r["blockHash"]).hex(),
                gas_used=int(r["gasUsed"]),
                effective_gas_price=int(r.get("effectiveGasPrice", 0) or 0),
            )

        return self._call("eth_getTransactionReceipt", get)

    def tx_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (in its pool or mined)."""

        from web3.exceptions import TransactionNotFound

        def get() -> bool:
            try:
                return self.w3.eth.get_transaction(cast(Any, tx_hash)) is not None
            except TransactionNotFound:
                return False

        return self._call("eth_getTransactionByHash", get)

    def deploy(self, *, fees: Fees | None = None, timeout: float = 60.0) -> tuple[str, int, str]:
        """Deploy HromadaAnchor from the sender key; returns (address, block number, tx hash)."""
        if self.key is None:
            raise ChainConfigError("no sender key configured", setting="key")
        art = load_artifact()
        nonce = self.nonce("pending")
        f = fees or self.fees()
        data = bytes.fromhex(art.bytecode.removeprefix("0x"))
        raw, tx_hash = self.key.sign(self._tx_fields(to=None, data=data, nonce=nonce, fees=f, gas=600_000))
        self.send_raw(raw)
        receipt = self._call(
            "wait for deploy receipt",
            lambda: self.w3.eth.wait_for_transaction_receipt(cast(Any, tx_hash), timeout=timeout, poll_latency=0.1),
        )
        address = receipt.get("contractAddress")
        if int(receipt["status"]) != 1 or address is None:
            raise ChainMismatchError(f"deployment transaction {tx_hash} failed", actual_chain_id=self.config.chain_id)
        return to_checksum_address(address), int(receipt["blockNumber"]), tx_hash
