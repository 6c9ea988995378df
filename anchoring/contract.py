"""The committed HromadaAnchor artifact (ABI + bytecode) and the log id of an origin."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ARTIFACT_PATH = Path(__file__).resolve().parent / "contracts" / "HromadaAnchor.json"

#: keccak256("Anchored(bytes32,uint64,bytes32)"): topic0 of every anchor event.
ANCHORED_TOPIC = "0xbea4d11b910aad40d2df2a90d97a3329219b6389f85777c99daad7eb5fafd439"  # tests/anchoring check it


def log_id(origin: str) -> bytes:
    """logId = SHA-256(origin); the origin is the first line of the log's checkpoints (UTF-8, no newline)."""
    if not origin or "\n" in origin:
        raise ValueError(f"invalid origin {origin!r}")
    return hashlib.sha256(origin.encode("utf-8")).digest()


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    immutable_references: tuple[tuple[int, int], ...]
    compiler_version: str
    evm_version: str


@lru_cache(maxsize=1)
def load_artifact(path: Path = ARTIFACT_PATH) -> Artifact:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Artifact(
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        immutable_references=tuple((int(a), int(b)) for a, b in data["immutableReferences"]),
        compiler_version=data["compiler"]["version"],
        evm_version=data["compiler"]["settings"]["evmVersion"],
    )


def expected_runtime_code(owner: str, artifact: Artifact | None = None) -> bytes:
    """HromadaAnchor's runtime code as `eth_getCode` returns it for a contract deployed by `owner`."""
    art = artifact or load_artifact()
    code = bytearray(bytes.fromhex(art.deployed_bytecode.removeprefix("0x")))
    word = bytes(12) + bytes.fromhex(owner.removeprefix("0x"))
    for start, length in art.immutable_references:
        code[start : start + length] = word[32 - length :]
    return bytes(code)
