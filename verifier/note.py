"""C2SP signed notes (c2sp.org/signed-note), Ed25519 verifier keys and tlog-checkpoint bodies.

Written from the C2SP text and docs/formats.md §3:

* verifier key string ``<name>+<hex8 key id>+<base64(alg ‖ public key)>``; key id =
  ``SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4]`` (alg 0x01 Ed25519 note signatures, 0x04 Ed25519
  tlog-cosignature/v1);
* note = text (ends in ``\\n``), an empty line, then signature lines ``— <name> <base64(key id ‖ sig)>\\n``;
  a note with a bad signature from a known key is rejected as a whole; signatures from unknown keys are kept
  as "unverified" and ignored; more than 100 signature lines is rejected (golang.org/x/mod's bound; C2SP asks
  verifiers to accept at least 16);
* checkpoint body ``<origin>\\n<size>\\n<base64 root>\\n`` then optional non-empty extension lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.errors import (
    BadArgument,
    CheckpointFormatError,
    Evidence,
    KeyFormatError,
    NoteFormatError,
    NoteSignatureError,
    NoteUnverifiedError,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "VerifierKey",
    "key_id",
    "load_verifier_key",
    "open_checkpoint",
    "open_checkpoint_by",
    "open_note",
    "parse_checkpoint_body",
    "parse_note",
    "parse_verifier_key",
    "verify_cosignature",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
SIG_PREFIX = "\u2014 "  # EM DASH, space


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """C2SP key id: SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and name.isprintable()


def _b64decode_strict(text: str) -> bytes:
    """Standard padded base64, canonical (re-encoding gives the same text)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical standard base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A parsed C2SP verifier key."""

    name: str
    key_id: bytes
    alg: int
    public_key: bytes

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def __str__(self) -> str:
        blob = base64.b64encode(bytes([self.alg]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse ``name+hex8+base64(alg ‖ pub)``; the key id must follow the C2SP hash rule."""
    text = text.strip()
    parts = text.split("+", 2)  # the base64 part may itself contain '+'
    if len(parts) != 3:
        raise KeyFormatError(
            "verifier key must be <name>+<hex8 key id>+<base64 key>",
            Evidence(expected="3 '+'-separated fields", found=text),
        )
    name, hex8, blob = parts
    if not _valid_name(name):
        raise KeyFormatError("verifier key name is empty or contains spaces", Evidence(found=name))
    if len(hex8) != 8 or hex8.lower() != hex8:
        raise KeyFormatError("key id must be 8 lowercase hex digits", Evidence(found=hex8))
    try:
        kid = bytes.fromhex(hex8)
        raw = _b64decode_strict(blob)
    except ValueError as exc:
        raise KeyFormatError(f"verifier key is not decodable: {exc}", Evidence(found=text)) from exc
    if not raw or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(raw) != 33:
        raise KeyFormatError(
            "only Ed25519 keys are supported (alg 0x01 or 0x04, 32-byte key)",
            Evidence(expected="0x01|0x04 ‖ 32 bytes", found=raw[:1].hex() + f" ‖ {max(len(raw) - 1, 0)} bytes"),
        )
    alg, pub = raw[0], raw[1:]
    expected = key_id(name, alg, pub)
    if expected != kid:
        raise KeyFormatError(
            "key id does not match SHA-256(name ‖ 0x0A ‖ alg ‖ key)[:4]",
            Evidence(expected=expected.hex(), found=hex8),
        )
    return VerifierKey(name=name, key_id=kid, alg=alg, public_key=pub)


def load_verifier_key(key_or_file: str) -> VerifierKey:
    """A verifier key string, or the path of a file holding one (CLI ``--key``). Bad input → BadArgument."""
    candidate = key_or_file.strip()
    path = Path(key_or_file)
    if "+" not in candidate or path.is_file():
        try:
            candidate = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadArgument(f"--key is neither a verifier key string nor a readable file: {exc}") from exc
    try:
        key = parse_verifier_key(candidate)
    except KeyFormatError as exc:
        raise BadArgument(f"--key: {exc.diagnostics()}") from exc
    if key.alg != ALG_ED25519:
        raise BadArgument("--key must be a log (note-signing, alg 0x01) key, not a cosigner key")
    return key


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # without the 4-byte key id
    line: str


@dataclass(frozen=True)
class Note:
    """A parsed signed note. ``verified`` holds signatures checked against a trusted key."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified: tuple[NoteSignature, ...] = field(default=())
    unverified: tuple[NoteSignature, ...] = field(default=())


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into text and signature lines (no signature check)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteFormatError("note is not valid UTF-8", Evidence(found=str(exc))) from exc
    for pos, ch in enumerate(note):
        if (ch < " " and ch != "\n") or ch == "\ufffd" or "\ud800" <= ch <= "\udfff":
            raise NoteFormatError(
                "note contains a control character", Evidence(found=f"U+{ord(ch):04X} at offset {pos}")
            )
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteFormatError("note has no empty line before its signatures", Evidence(found=note[:200]))
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs or not sigs.endswith("\n"):
        raise NoteFormatError(
            "note has no signature lines, or the last line does not end in a newline",
            Evidence(found=sigs[-80:] if sigs else "(nothing after the empty line)"),
        )
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError("too many signature lines", Evidence(expected=f"<= {MAX_SIGNATURES}", found=len(lines)))
    parsed: list[NoteSignature] = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteFormatError("signature line does not start with '— '", Evidence(found=line[:120]))
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(b64.encode("ascii"), validate=True) if b64 else b""
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if not sep or not _valid_name(name) or len(raw) < 5:
            raise NoteFormatError("malformed signature line", Evidence(found=line[:120]))
        parsed.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:], line=line + "\n"))
    return Note(text=text, signatures=tuple(parsed))


def open_note(note: str | bytes, keys: list[VerifierKey] | tuple[VerifierKey, ...]) -> Note:
    """Parse a signed note and verify it against trusted ``keys`` (alg 0x01).

    Raises NoteFormatError (malformed), NoteSignatureError (a known key's signature is bad: the whole note is
    rejected) or NoteUnverifiedError (no signature from a trusted key). Signatures from unknown keys are
    returned in ``unverified``; repeated lines are ignored.
    """
    parsed = parse_note(note)
    message = parsed.text.encode("utf-8")
    known = {(k.name, k.key_id): k for k in keys if k.alg == ALG_ED25519}
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    seen_lines: set[str] = set()
    for sig in parsed.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            if sig.line not in seen_lines:
                seen_lines.add(sig.line)
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not key.verify(message, sig.signature):
            raise NoteSignatureError(
                f"signature by {sig.name}+{sig.key_id.hex()} does not verify",
                Evidence(
                    expected=f"a valid Ed25519 signature by {key}",
                    found=sig.line.strip(),
                    details={"signed text": parsed.text},
                ),
            )
        verified.append(sig)
    if not verified:
        raise NoteUnverifiedError(
            "note is not signed by any trusted key",
            Evidence(
                expected=", ".join(f"{k.name}+{k.key_id.hex()}" for k in known.values()) or "(no key)",
                found=", ".join(f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures),
            ),
        )
    return Note(
        text=parsed.text,
        signatures=parsed.signatures,
        verified=tuple(verified),
        unverified=tuple(unverified),
    )


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body, and the signed note it came from (when known)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    note: str | None = None

    @property
    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse ``origin\\nsize\\nbase64(root)\\n[extension lines\\n]``."""
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint body must end in a newline", Evidence(found=text[-80:]))
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointFormatError(
            "checkpoint body needs origin, size and root lines", Evidence(expected=">= 3 lines", found=len(lines))
        )
    origin, size_text, root_text, *ext = lines
    if not origin:
        raise CheckpointFormatError("checkpoint origin line is empty", Evidence(found=text[:200]))
    if not size_text.isascii() or not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise CheckpointFormatError("checkpoint size is not a decimal number", Evidence(found=size_text))
    size = int(size_text)
    if size >= 1 << 64:
        raise CheckpointFormatError("checkpoint size exceeds uint64", Evidence(found=size_text))
    try:
        root = _b64decode_strict(root_text)
    except ValueError as exc:
        raise CheckpointFormatError(f"checkpoint root: {exc}", Evidence(found=root_text)) from exc
    if len(root) != 32:
        raise CheckpointFormatError(
            "checkpoint root must be 32 bytes", Evidence(expected="32 bytes", found=f"{len(root)} bytes")
        )
    for line in ext:
        if not line:
            raise CheckpointFormatError("empty extension line in checkpoint", Evidence(found=text[:200]))
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(ext))


def open_checkpoint(note: str | bytes, key: VerifierKey) -> Checkpoint:
    """Verify a signed checkpoint note with ``key`` and parse its body."""
    return open_checkpoint_by(note, [key])


def open_checkpoint_by(note: str | bytes, keys: list[VerifierKey] | tuple[VerifierKey, ...]) -> Checkpoint:
    """Verify a signed checkpoint note with any of ``keys`` (the log's chain of keys) and parse its body."""
    opened = open_note(note, keys)
    cp = parse_checkpoint_body(opened.text)
    text = note.decode("utf-8") if isinstance(note, bytes) else note
    return Checkpoint(origin=cp.origin, size=cp.size, root=cp.root, extensions=cp.extensions, note=text)


def verify_cosignature(checkpoint_body: str, line: str, key: VerifierKey) -> int:
    """Verify a tlog-cosignature/v1 line (alg 0x04) over ``checkpoint_body``; return its timestamp."""
    if key.alg != ALG_COSIGNATURE_V1:
        raise BadArgument("a cosignature needs an alg 0x04 cosigner key")
    sig = parse_note(checkpoint_body + "\n" + line).signatures[0]
    if (sig.name, sig.key_id) != (key.name, key.key_id):
        raise NoteUnverifiedError(
            "cosignature is not by this cosigner key",
            Evidence(expected=f"{key.name}+{key.key_id.hex()}", found=f"{sig.name}+{sig.key_id.hex()}"),
        )
    if len(sig.signature) != 8 + 64:
        raise NoteFormatError(
            "cosignature must be key id ‖ u64 timestamp ‖ 64-byte signature",
            Evidence(expected="76 bytes", found=f"{len(sig.signature) + 4} bytes"),
        )
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    message = f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()
    if not key.verify(message, sig.signature[8:]):
        raise NoteSignatureError("cosignature does not verify", Evidence(found=line.strip()))
    return int(timestamp)
