"""Errors of the anchoring package. Each carries the evidence an operator (or an auditor) needs.

No error message or attribute ever contains a private key; RPC URLs are reduced to scheme://host[:port]
because providers put API keys in the path or query (see `redact_url`).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """scheme://host[:port] of an RPC URL: provider URLs carry API keys in the path, query or userinfo."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or not parts.hostname:
        return "<url>"
    port = f":{parts.port}" if parts.port else ""
    suffix = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{parts.hostname}{port}{suffix}"


class AnchoringError(Exception):
    """Base of every error the anchoring package raises on purpose."""


class ChainConfigError(AnchoringError):
    """The chain settings are incomplete or contradictory (e.g. a key both in a file and in the env)."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class CompilerError(AnchoringError):
    """solcjs is missing, is not the pinned version, or rejected the source."""

    def __init__(self, message: str, *, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class ArtifactMismatchError(AnchoringError):
    """The committed ABI/bytecode artifact is not what the pinned compiler makes of the committed source."""

    def __init__(self, message: str, *, diff: str, path: str) -> None:
        super().__init__(message)
        self.diff = diff
        self.path = path


class NodeError(AnchoringError):
    """The local anvil node could not be found, started, or stopped."""

    def __init__(self, message: str, *, command: list[str] | None = None, output_tail: str = "") -> None:
        super().__init__(message)
        self.command = command or []
        self.output_tail = output_tail


class ChainUnavailableError(AnchoringError):
    """The RPC endpoint did not answer (connection refused, timeout, 5xx). Retried with backoff."""

    def __init__(self, message: str, *, rpc: str, cause: str = "") -> None:
        super().__init__(message)
        self.rpc = rpc  # already redacted
        self.cause = cause


class ChainMismatchError(AnchoringError):
    """The RPC endpoint serves another chain, or the configured address holds other code."""

    def __init__(
        self,
        message: str,
        *,
        expected_chain_id: int | None = None,
        actual_chain_id: int | None = None,
        contract: str | None = None,
    ) -> None:
        super().__init__(message)
        self.expected_chain_id = expected_chain_id
        self.actual_chain_id = actual_chain_id
        self.contract = contract


class AnchorLockedError(AnchoringError):
    """Another anchorer holds the lock of this log; this process must not act."""

    def __init__(self, message: str, *, log_id: str, lock: str) -> None:
        super().__init__(message)
        self.log_id = log_id
        self.lock = lock


class TransactionFailedError(AnchoringError):
    """An anchor transaction was mined but reverted (status 0), e.g. a sender that is not the owner."""

    def __init__(self, message: str, *, tx_hash: str, block_number: int | None, sender: str) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.block_number = block_number
        self.sender = sender


class LogQueryError(AnchoringError):
    """eth_getLogs kept failing even for a single block range."""

    def __init__(self, message: str, *, from_block: int, to_block: int, cause: str) -> None:
        super().__init__(message)
        self.from_block = from_block
        self.to_block = to_block
        self.cause = cause


class AnchorMismatchError(AnchoringError):
    """An anchor on chain disagrees with the checkpoint the ledger stored for the same tree size.

    This is evidence of misbehaviour (a rewritten log or a forged anchor): keep it, do not repair it.
    """

    def __init__(self, message: str, *, tree_size: int, stored_root: bytes, anchored_root: bytes, tx_hash: str) -> None:
        super().__init__(message)
        self.tree_size = tree_size
        self.stored_root = stored_root
        self.anchored_root = anchored_root
        self.tx_hash = tx_hash
