"""One base error for the ledger package; subclasses carry the evidence an operator needs."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class ConfigurationError(LedgerError):
    """The ledger cannot start with the given settings (e.g. production without an explicit key)."""


class EnvelopeError(LedgerError):
    """An event cannot be put into the public envelope (non-JSON data, too large, no type)."""

    def __init__(self, message: str, *, event_type: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type


class IntegrationError(LedgerError):
    """The Merkle log and the event store disagree; the integrator stops rather than guess."""


class CheckpointError(LedgerError):
    """A checkpoint could not be signed safely."""


class InconsistentCheckpointError(CheckpointError):
    """Signing would produce a checkpoint that is not an extension of the last one signed."""

    def __init__(self, message: str, *, old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> None:
        super().__init__(message)
        self.old_size = old_size
        self.new_size = new_size
        self.old_root = old_root
        self.new_root = new_root


class WriterBusyError(LedgerError):
    """Another process already serves (writes) this database; two servers would each trust their own cache."""

    def __init__(self, message: str, *, database: str) -> None:
        super().__init__(message)
        self.database = database


class StorageTampered(LedgerError):
    """The database disagrees with itself or with a signed checkpoint."""

    def __init__(self, message: str, *, where: str, expected: str, found: str) -> None:
        super().__init__(message)
        self.where = where
        self.expected = expected
        self.found = found
