"""The witness's Ed25519 key and its C2SP tlog-cosignature/v1 signatures.

Key file (secret, mode 0600): ``PRIVATE+KEY+<name>+<hex8 key id>+<base64(0x04 ‖ 32-byte seed)>`` where the key id
is the cosignature key id ``SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]``. Its verifier key (what a log and an
auditor configure) is ``<name>+<hex8>+<base64(0x04 ‖ public key)>``.

A cosignature line is ``— <name> base64(key id ‖ u64 big-endian timestamp ‖ Ed25519 signature)`` over the message
``cosignature/v1\\ntime <timestamp>\\n`` ‖ the checkpoint body (c2sp.org/tlog-cosignature, "Ed25519 signed
message").
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier.note import ALG_COSIGNATURE_V1, SIG_PREFIX, VerifierKey, key_id

KEY_FILE = "witness.key"
DEFAULT_NAME = "dev.hromada.local/witness"


class WitnessKeyError(Exception):
    """The witness key file is missing, malformed, or its key id does not match its key."""


def cosignature_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The signed message of tlog-cosignature/v1: two header lines, then the whole checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


@dataclass(frozen=True)
class WitnessKey:
    """The witness's name and Ed25519 seed. ``repr`` hides the seed."""

    name: str
    seed: bytes = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, ALG_COSIGNATURE_V1, self.public_key)

    def verifier_key(self) -> VerifierKey:
        return VerifierKey(name=self.name, key_id=self.key_id, alg=ALG_COSIGNATURE_V1, public_key=self.public_key)

    def cosign(self, checkpoint_body: str, timestamp: int) -> str:
        """The cosignature/v1 line (ending in ``\\n``) over ``checkpoint_body`` at ``timestamp`` (POSIX seconds)."""
        if not 0 <= timestamp < 1 << 63:
            raise ValueError(f"cosignature timestamp out of range: {timestamp}")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(
            cosignature_message(checkpoint_body, timestamp)
        )
        blob = self.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"

    def key_string(self) -> str:
        blob = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{blob}"


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) and name.isprintable()


def parse_key_string(text: str) -> WitnessKey:
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise WitnessKeyError("a witness key is PRIVATE+KEY+<name>+<hex8>+<base64(0x04 ‖ seed)>")
    _, _, name, hex8, blob = parts
    if not _valid_name(name):
        raise WitnessKeyError(f"invalid witness name {name!r}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError as e:
        raise WitnessKeyError(f"witness key is not base64: {e}") from e
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise WitnessKeyError("a witness key is 0x04 ‖ a 32-byte Ed25519 seed")
    key = WitnessKey(name, raw[1:])
    if key.key_id.hex() != hex8:
        raise WitnessKeyError(f"witness key id {hex8} does not match the key (expected {key.key_id.hex()})")
    return key


def create_key(state_dir: Path, name: str = DEFAULT_NAME) -> WitnessKey:
    """Create ``<state_dir>/witness.key`` (mode 0600); refuse to overwrite one (its state would lose its meaning)."""
    if not _valid_name(name):
        raise WitnessKeyError(f"invalid witness name {name!r}: non-empty, no spaces, no '+'")
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / KEY_FILE
    key = WitnessKey(name, Ed25519PrivateKey.generate().private_bytes_raw())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise WitnessKeyError(f"{path} exists already; a witness keeps its key") from e
    with os.fdopen(fd, "w") as f:
        f.write(key.key_string() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def load_key(state_dir: Path) -> WitnessKey:
    path = state_dir / KEY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WitnessKeyError(f"cannot read the witness key {path}: {e} (run `hromada witness init`)") from e
    if path.stat().st_mode & 0o077:
        raise WitnessKeyError(f"{path} is readable by others (mode {path.stat().st_mode & 0o777:o}); chmod 600 it")
    return parse_key_string(text)
