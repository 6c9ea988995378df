"""Test-only audit bundle factory, independent of both the ledger and the verifier.

It writes bundles per docs/formats.md straight from the spec with ``rfc8785`` + ``cryptography`` + ``hashlib``:
envelopes (§1), an RFC 9162 tree (its own tiny MTH / PATH / PROOF implementation, §2), C2SP signed checkpoints
(§3), ``log.json`` (§5). Tamper helpers rewrite ``events.jsonl`` and checkpoints in place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import tarfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ORIGIN = "ledger.hromada.example/hradyzk"
BASE_TIME = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


# --- RFC 9162, written separately from verifier/merkle.py ---------------------------------------------------
def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """Root over leaf *hashes* (iterative level reduction, equal to RFC 9162 MTH)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = [h_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def mth_recursive(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return h_node(mth_recursive(leaves[:k]), mth_recursive(leaves[k:]))


def inclusion_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*inclusion_path(m, leaves[:k]), mth_recursive(leaves[k:])]
    return [*inclusion_path(m - k, leaves[k:]), mth_recursive(leaves[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n])."""

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [mth_recursive(d)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, d[:k], b), mth_recursive(d[k:])]
        return [*subproof(m - k, d[k:], False), mth_recursive(d[:k])]

    return subproof(m, leaves, True)


# --- C2SP signed notes ----------------------------------------------------------------------------------------
@dataclass
class Signer:
    name: str
    seed: bytes

    @property
    def public(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n\x01" + self.public).digest()[:4]

    @property
    def verifier_key(self) -> str:
        blob = base64.b64encode(bytes([1]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def sign(self, text: str) -> str:
        sig = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        return f"{text}\n\u2014 {self.name} {base64.b64encode(self.key_id + sig).decode()}\n"


def make_signer(name: str = ORIGIN, tag: bytes = b"log") -> Signer:
    return Signer(name, hashlib.sha256(b"hromada-test-seed:" + tag + name.encode()).digest())


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def signed_checkpoint(signer: Signer, origin: str, size: int, root: bytes) -> str:
    return signer.sign(checkpoint_body(origin, size, root))


# --- envelopes ------------------------------------------------------------------------------------------------
def jcs(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def envelope(
    origin: str, stream: str, version: int, etype: str, when: datetime, actor: dict[str, str], data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format": 1,
        "log": origin,
        "id": str(uuid.uuid5(uuid.UUID(stream), str(version))),
        "stream": stream,
        "version": version,
        "type": etype,
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "data": data,
    }


def generate_events(n: int, origin: str = ORIGIN, seed: int = 7, exotic: bool = True) -> Iterator[dict[str, Any]]:
    """A plausible petition log: petitions opened by a service, signed by citizens (pseudonyms)."""
    rng = random.Random(seed)
    streams: list[tuple[str, int]] = []
    for i in range(n):
        when = BASE_TIME + timedelta(microseconds=1000 * i + rng.randrange(1000))
        if not streams or rng.random() < 0.15:
            stream = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            title = f"Петиція №{i}: ремонт дороги на вул. Шевченка"
            if exotic and i % 7 == 3:
                title += ' \U0001f333 «зелена» "тиха" вулиця\t\\'
            data: dict[str, Any] = {
                "title": title,
                "threshold": 250,
                "period_days": 45,
                "budget_kopiyky": 1_234_500 + i,
                "tags": ["roads", "центр"],
                "public": True,
                "closes": None,
            }
            streams.append((stream, 1))
            yield envelope(origin, stream, 1, "petition.created", when, {"kind": "service", "id": "cnap"}, data)
        else:
            j = rng.randrange(len(streams))
            stream, version = streams[j]
            version += 1
            streams[j] = (stream, version)
            pseud = hashlib.sha256(f"citizen-{rng.randrange(10**6)}".encode()).hexdigest()
            yield envelope(
                origin,
                stream,
                version,
                "petition.signed",
                when,
                {"kind": "citizen", "id": pseud[:32]},
                {"signer": pseud, "count": version - 1, "commitment": pseud[::-1]},
            )


# --- bundles --------------------------------------------------------------------------------------------------
@dataclass
class BundleInfo:
    path: Path
    origin: str
    signer: Signer
    checkpoint_sizes: list[int]
    tree_size: int
    leaves: list[bytes] = field(repr=False)

    @property
    def key(self) -> str:
        return self.signer.verifier_key


def write_bundle(
    path: Path,
    n: int = 40,
    checkpoint_sizes: Iterable[int] | None = None,
    *,
    origin: str = ORIGIN,
    signer: Signer | None = None,
    lines: Sequence[bytes] | None = None,
    seed: int = 7,
    exotic: bool = True,
) -> BundleInfo:
    """Write a valid bundle directory. ``lines`` overrides the generated events (raw JCS bytes)."""
    signer = signer or make_signer(origin)
    path.mkdir(parents=True, exist_ok=True)
    (path / "checkpoints").mkdir(exist_ok=True)
    leaves: list[bytes] = []
    with (path / "events.jsonl").open("wb") as f:
        source: Iterable[bytes] = (
            lines if lines is not None else (jcs(e) for e in generate_events(n, origin, seed, exotic))
        )
        for raw in source:
            f.write(raw + b"\n")
            leaves.append(h_leaf(raw))
    size = len(leaves)
    sizes = sorted(set(checkpoint_sizes if checkpoint_sizes is not None else _default_sizes(size)) | {size})
    for s in sizes:
        (path / "checkpoints" / str(s)).write_text(
            signed_checkpoint(signer, origin, s, mth(leaves[:s])), encoding="utf-8"
        )
    log = {
        "format": 1,
        "origin": origin,
        "verifier_key": signer.verifier_key,
        "tree_size": size,
        "rule_sets": {"petition": 1},
    }
    (path / "log.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    (path / "anchors.jsonl").write_text("", encoding="utf-8")
    (path / "state.json").write_text("{}", encoding="utf-8")
    return BundleInfo(path, origin, signer, sizes, size, leaves)


def _default_sizes(n: int) -> list[int]:
    return sorted({s for s in (1, n // 4, n // 2, (3 * n) // 4, n) if 0 < s <= n})


def make_tar(bundle_dir: Path, out: Path, top: str | None = "bundle") -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(bundle_dir, arcname=top if top else ".")
    return out


def read_lines(bundle_dir: Path) -> list[bytes]:
    return (bundle_dir / "events.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(bundle_dir: Path, lines: Sequence[bytes], final_newline: bool = True) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    (bundle_dir / "events.jsonl").write_bytes(data)


def edit_event(bundle_dir: Path, index: int, change: Any, *, canonical: bool = True) -> dict[str, Any]:
    """Apply ``change(event_dict)`` to event ``index`` and write it back (JCS unless ``canonical=False``)."""
    lines = read_lines(bundle_dir)
    event = json.loads(lines[index])
    change(event)
    lines[index] = jcs(event) if canonical else json.dumps(event, ensure_ascii=False).encode()
    write_lines(bundle_dir, lines)
    return dict(event)
