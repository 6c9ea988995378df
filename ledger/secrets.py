"""Secrets besides the log key: the pseudonym HMAC keys and the vault's master key.

Each comes from its HROMADA_* setting (the value itself, or a path to a file holding it). In development a
missing secret is generated once under the data directory with mode 0600; in production it must be given.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ledger.config import Settings
from ledger.errors import ConfigurationError

PSEUDONYM_FILE = "pseudonym.keys"
VAULT_KEY_FILE = "vault.key"


def write_secret_file(path: Path, text: str) -> None:
    """Create `path` with mode 0600 (never overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def _value_or_file(value: str) -> str:
    """The setting's value, or the content of the file it names."""
    path = Path(value)
    try:
        if path.is_file():
            return path.read_text().strip()
    except OSError:
        pass
    return value.strip()


def _load(settings: Settings, value: str | None, setting: str, file_name: str, generate: str) -> str:
    if value:
        return _value_or_file(value)
    if settings.production:
        raise ConfigurationError(f"production ledger without {setting}")
    path = settings.data_dir / file_name
    if not path.exists():
        write_secret_file(path, generate)
    return path.read_text().strip()


def pseudonym_keys(settings: Settings) -> str:
    """The pseudonym key list text ('1=<hex>,...'); see domain.identity.Pseudonymizer.from_text."""
    return _load(
        settings, settings.pseudonym_keys, "HROMADA_PSEUDONYM_KEYS", PSEUDONYM_FILE, f"1={secrets.token_hex(32)}"
    )


def vault_master_key(settings: Settings) -> bytes:
    text = _load(settings, settings.vault_key, "HROMADA_VAULT_KEY", VAULT_KEY_FILE, secrets.token_hex(32))
    try:
        key = bytes.fromhex(text)
    except ValueError as e:
        raise ConfigurationError("HROMADA_VAULT_KEY must be 64 hex characters") from e
    if len(key) != 32:
        raise ConfigurationError("HROMADA_VAULT_KEY must be 32 bytes (64 hex characters)")
    return key
