"""Secrets besides the log key: the pseudonym HMAC keys and the vault's master key.

Each comes from its HROMADA_* setting (the value itself, or a path to a file holding it). In development a
missing secret is generated once under the data directory with mode 0600; in production it must be given.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
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


_KEY_LIST = re.compile(r"^\d+=[0-9a-fA-F]{64,}(,\d+=[0-9a-fA-F]{64,})*(;current=\d+)?$", re.ASCII)


@dataclass(frozen=True)
class Rotated:
    """A pseudonym key rotation: the file rewritten, the version added (now current), every version it holds."""

    path: Path
    version: int
    versions: tuple[int, ...]


def pseudonym_keys_file(settings: Settings) -> Path:
    """The file holding the pseudonym keys: HROMADA_PSEUDONYM_KEYS when it names a file, else the development default
    under the data directory. ConfigurationError when the setting holds the keys themselves (nothing to rewrite) or
    no key file exists yet (`hromada init` creates the development one)."""
    value = settings.pseudonym_keys
    if value:
        path = Path(value.strip())
        try:
            is_file = path.is_file()
        except OSError:
            is_file = False
        if not is_file:
            raise ConfigurationError(
                "HROMADA_PSEUDONYM_KEYS holds the keys themselves, not a file: point it to a file (mode 0600) to "
                "rotate with this command, or append ',<N+1>=<64 hex>' to the value in your secret store"
            )
        return path
    if settings.production:
        raise ConfigurationError("production ledger without HROMADA_PSEUDONYM_KEYS")
    path = settings.data_dir / PSEUDONYM_FILE
    if not path.is_file():
        raise ConfigurationError(f"no pseudonym keys at {path}: `hromada init` creates them")
    return path


def parse_key_list(text: str) -> tuple[dict[int, str], int]:
    """``"1=<hex>,2=<hex>[;current=N]"`` -> (version -> hex key, current version); ConfigurationError if malformed."""
    text = re.sub(r"\s+", "", text)  # as Pseudonymizer.from_text reads it: spaces and line breaks do not count
    if not _KEY_LIST.fullmatch(text):
        raise ConfigurationError("malformed pseudonym key list (expected '1=<64 hex>,2=<64 hex>[;current=N]')")
    body, _, tail = text.partition(";")
    keys: dict[int, str] = {}
    for part in body.split(","):
        version, _, hexkey = part.partition("=")
        if int(version) < 1 or int(version) in keys:
            raise ConfigurationError(f"pseudonym key versions are distinct positive integers (version {version})")
        keys[int(version)] = hexkey
    current = int(tail.partition("=")[2]) if tail else max(keys)
    if current not in keys:
        raise ConfigurationError(f"the current pseudonym key version {current} has no key")
    return keys, current


def rotate_pseudonym_keys(settings: Settings) -> Rotated:
    """Add pseudonym key version N+1 (N: the highest there is) and make it current, keeping every old key: the file
    is rewritten atomically (a new file, mode 0600, then renamed over the old one), never truncated in place.
    Aggregates opened before keep the version they froze; the ledger uses the new one once it is opened again."""
    path = pseudonym_keys_file(settings)
    keys, _ = parse_key_list(path.read_text())
    version = max(keys) + 1
    keys[version] = secrets.token_hex(32)
    text = ",".join(f"{v}={k}" for v, k in sorted(keys.items()))  # the highest version is the current one
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Rotated(path, version, tuple(sorted(keys)))


def vault_master_key(settings: Settings) -> bytes:
    text = _load(settings, settings.vault_key, "HROMADA_VAULT_KEY", VAULT_KEY_FILE, secrets.token_hex(32))
    try:
        key = bytes.fromhex(text)
    except ValueError as e:
        raise ConfigurationError("HROMADA_VAULT_KEY must be 64 hex characters") from e
    if len(key) != 32:
        raise ConfigurationError("HROMADA_VAULT_KEY must be 32 bytes (64 hex characters)")
    return key
