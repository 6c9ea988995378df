"""The log's Ed25519 signing key: the settings' HROMADA_LOG_KEY (a key string or a file), or (development only) created.

The key string format is the C2SP/x-mod signer key `PRIVATE+KEY+<name>+<hex8>+<base64>`; its name must be
the log's origin. A production ledger never generates a key (ledger.config refuses to start without one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger import note
from ledger.config import Settings
from ledger.errors import ConfigurationError

KEY_FILE = "log.key"


@dataclass(frozen=True)
class LogSigner:
    signer: note.Signer

    @property
    def name(self) -> str:
        return self.signer.name

    @property
    def verifier_key(self) -> str:
        """The public verifier key string auditors pin: name+hex8(keyid)+base64(0x01‖pub)."""
        return self.signer.verifier_key()

    def sign(self, text: str) -> str:
        return note.sign_note(text, self.signer)


def _parse(key_string: str, origin: str, where: str) -> LogSigner:
    try:
        signer = note.parse_signer_key(key_string.strip())
    except note.NoteError as e:
        raise ConfigurationError(f"log key from {where} is not a valid signer key: {e}") from e
    if signer.name != origin:
        raise ConfigurationError(f"log key from {where} is named {signer.name!r} but the log origin is {origin!r}")
    return LogSigner(signer)


def load_or_create_signer(settings: Settings) -> LogSigner:
    """The signer for `settings`: HROMADA_LOG_KEY (key string or path), else <data_dir>/log.key, created
    with mode 0600 on first run unless production is set."""
    if settings.log_key:
        value = settings.log_key.strip()
        if value.startswith("PRIVATE+KEY+"):
            return _parse(value, settings.origin, "HROMADA_LOG_KEY")
        path = Path(value)
        if not path.is_file():
            raise ConfigurationError(f"HROMADA_LOG_KEY={value!r} is neither a key string nor a readable file")
        return _parse(path.read_text(), settings.origin, str(path))
    if settings.production:
        raise ConfigurationError("production ledger without HROMADA_LOG_KEY")
    path = settings.data_dir / KEY_FILE
    if path.exists():
        return _parse(path.read_text(), settings.origin, str(path))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signer = note.generate_signer(settings.origin)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.signer_key() + "\n")
    return LogSigner(signer)


def load_signer_file(path: Path, origin: str) -> LogSigner:
    """A signer key read from ``path`` (``hromada log rotate-key --new-key``); its name must be ``origin``."""
    if not path.is_file():
        raise ConfigurationError(f"{path}: no such key file")
    return _parse(path.read_text(), origin, str(path))


def generate_signer_file(path: Path, origin: str) -> LogSigner:
    """A new random signer for ``origin``, written to ``path`` with mode 0600 (never overwriting a file)."""
    signer = note.generate_signer(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise ConfigurationError(f"{path} exists; refusing to overwrite a key file") from e
    with os.fdopen(fd, "w") as f:
        f.write(signer.signer_key() + "\n")
    return LogSigner(signer)


def install_signer(settings: Settings, old: LogSigner, new: LogSigner) -> Path | None:
    """Make the next start load ``new``: when the key is ``<data dir>/log.key`` (no HROMADA_LOG_KEY), the new key
    replaces it atomically and the old one is kept beside it as ``log.key.retired-<hex8>`` (mode 0600; the ledger
    refuses to sign with it, destroy it when you no longer need it). Returns the path written, or None when
    HROMADA_LOG_KEY names the key: the operator then points it at the new key (until then the ledger refuses to
    sign, ledger.keychain.refuse_retired)."""
    if settings.log_key:
        return None
    path = settings.data_dir / KEY_FILE
    retired = settings.data_dir / f"{KEY_FILE}.retired-{old.signer.key_id.hex()}"
    if not retired.exists():
        fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(old.signer.signer_key() + "\n")
    tmp = settings.data_dir / f"{KEY_FILE}.new"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(new.signer.signer_key() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
