"""Reproducible compilation of the anchor contract with solcjs (npm `solc`, pinned in tools/package.json).

`python -m anchoring.compile` rewrites `anchoring/contracts/HromadaAnchor.json`;
`python -m anchoring.compile --check` recompiles and compares byte for byte (exit 1 on any difference).
The compiler settings below are part of the artifact: change them only together with the artifact.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from anchoring.errors import ArtifactMismatchError, CompilerError

CONTRACT_NAME = "HromadaAnchor"
SOURCE_NAME = "HromadaAnchor.sol"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
SOURCE_PATH = CONTRACTS_DIR / SOURCE_NAME
ARTIFACT_PATH = CONTRACTS_DIR / f"{CONTRACT_NAME}.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
SETTINGS: dict[str, Any] = {
    "evmVersion": EVM_VERSION,
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
            ]
        }
    },
}


def solcjs_path(tools_dir: Path = TOOLS_DIR) -> Path:
    path = tools_dir / "node_modules" / "solc" / "solc.js"
    if not path.is_file():
        raise CompilerError(f"solcjs not found at {path}: run `make node-deps` (npm ci --prefix tools)")
    return path


def compile_source(source: str, *, tools_dir: Path = TOOLS_DIR) -> dict[str, Any]:
    """Compile `source` with the pinned solcjs and return the artifact dictionary."""
    node = shutil.which("node")
    if node is None:
        raise CompilerError("node is not on PATH; solcjs needs Node.js >= 20")
    solc = solcjs_path(tools_dir)
    version = subprocess.run(
        [node, str(solc), "--version"], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompilerError(f"solcjs {version!r} found, {SOLC_VERSION} pinned", version=version)
    request = {"language": "Solidity", "sources": {SOURCE_NAME: {"content": source}}, "settings": SETTINGS}
    proc = subprocess.run(
        [node, str(solc), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        raise CompilerError(f"solcjs failed: {proc.stderr.strip()}", version=version)
    # solcjs may print warnings before the JSON document on stdout.
    out = json.loads(proc.stdout[proc.stdout.index("{") :])
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilerError(
            "compilation failed: " + "; ".join(e.get("formattedMessage", str(e)) for e in errors),
            version=version,
        )
    contract = out["contracts"][SOURCE_NAME][CONTRACT_NAME]
    return {
        "contractName": CONTRACT_NAME,
        "sourceName": SOURCE_NAME,
        "sourceSha256": hashlib.sha256(source.encode()).hexdigest(),
        "compiler": {"name": "solcjs", "version": version, "settings": SETTINGS},
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
        # [start, length] of the runtime code slots where the constructor writes the immutable owner.
        "immutableReferences": sorted(
            [r["start"], r["length"]]
            for refs in contract["evm"]["deployedBytecode"].get("immutableReferences", {}).values()
            for r in refs
        ),
    }


def render(artifact: dict[str, Any]) -> bytes:
    """The artifact's canonical bytes as committed (sorted keys, 2-space indent, final newline)."""
    return (json.dumps(artifact, indent=2, sort_keys=True) + "\n").encode()


def build(*, tools_dir: Path = TOOLS_DIR) -> bytes:
    return render(compile_source(SOURCE_PATH.read_text(encoding="utf-8"), tools_dir=tools_dir))


def check(*, tools_dir: Path = TOOLS_DIR, artifact_path: Path = ARTIFACT_PATH) -> None:
    """Recompile and compare with the committed artifact byte for byte; raise ArtifactMismatchError."""
    fresh = build(tools_dir=tools_dir)
    committed = artifact_path.read_bytes() if artifact_path.exists() else b""
    if fresh != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.decode(errors="replace").splitlines(keepends=True),
                fresh.decode(errors="replace").splitlines(keepends=True),
                fromfile=f"{artifact_path} (committed)",
                tofile="recompiled",
                n=1,
            )
        )
        raise ArtifactMismatchError(
            f"{artifact_path} does not match a fresh compilation", diff=diff[:20_000], path=str(artifact_path)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed artifact; write nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            check()
            print(f"{ARTIFACT_PATH.name}: reproduced byte for byte by solcjs {SOLC_VERSION} (evm {EVM_VERSION})")
        else:
            ARTIFACT_PATH.write_bytes(build())
            print(f"wrote {ARTIFACT_PATH}")
    except ArtifactMismatchError as exc:
        print(f"{exc}\n{exc.diff}", file=sys.stderr)
        return 1
    except CompilerError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
