"""Issue #17, "Show it": README.md's "Try it" block, run as written (docs as tests) in a temporary directory, one
step after the other in one shell, each step's output checked: the demo city is written and anchored, served,
its audit commands printed, the served log and one receipt audited by URL with the anchors checked on the chain
that is still running, and the server stopped. Nothing is written into the repository."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.verifier_anchors.conftest import needs_anvil

ROOT = Path(__file__).resolve().parents[2]
MARK = "@@step"

pytestmark = [pytest.mark.slow, needs_anvil]


def try_it_block() -> list[str]:
    """The shell lines of the first ```sh block under "## Try it" (comments kept: the shell ignores them)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Try it") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


def test_the_block_is_one_story() -> None:
    lines = try_it_block()
    joined = "\n".join(lines)
    assert "make run" not in joined  # a blocking server would end the story; it is served in the background
    assert lines[0].startswith("export HROMADA_DATA_DIR=") and "TMPDIR" in lines[0]  # outside the repository
    assert any(" serve &" in line for line in lines) and lines[-1].startswith("kill %1")


def test_readme_try_it_runs_as_written(tmp_path: Path) -> None:
    lines = try_it_block()
    script = "set -e\n" + "".join(f"echo '{MARK} {i}'\n{line}\n" for i, line in enumerate(lines))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    before = set(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout)
    port = free_port()
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "HROMADA_PORT": str(port),
        "HROMADA_CHAIN_RPC_URL": "",
        "HROMADA_DATABASE_URL": "",
    }
    env.pop("HROMADA_DATA_DIR", None)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    steps = {int(m.group(1)): m.start() for m in re.finditer(rf"^{MARK} (\d+)$", out, re.M)}
    assert sorted(steps) == list(range(len(lines)))

    def output(i: int) -> str:
        end = steps.get(i + 1, len(out))
        return out[steps[i] : end]

    data = tmp_path / "hromada-city"
    by_cmd = {line.split("#")[0].strip(): i for i, line in enumerate(lines)}
    demo = output(next(i for c, i in by_cmd.items() if " demo " in c))
    assert re.search(r"wrote \d{4} events, \d+ checkpoints", demo), demo
    link = re.search(rf"a receipt:\s+http://127\.0\.0\.1:{port}/#event=([0-9a-f-]{{36}})", demo)
    assert link, demo
    assert "audit it:" in demo and "--rpc http://127.0.0.1:" in demo
    printed = output(next(i for c, i in by_cmd.items() if c.endswith("--wait 60")))
    audit_line, receipt_line = [line for line in printed.splitlines() if "hromada-verify" in line]
    assert audit_line.startswith(f".venv/bin/hromada-verify audit http://127.0.0.1:{port} --key ")
    assert f"--event {link.group(1)}" in receipt_line  # the receipt the browser link shows
    assert audit_line in demo and receipt_line in demo  # the demo's last lines are the same commands
    audited = output(next(i for c, i in by_cmd.items() if c.endswith("| sh")))
    assert "VERIFIED by steps 1, 2, 3, 4, 5." in audited, audited
    assert re.search(r"Fixed on chain up to tree size \d+ \(contract 0x[0-9a-f]{40}, named by you\)", audited)
    receipt_verdict = next(line for line in audited.splitlines() if line.startswith("VERIFIED: "))
    assert "anchor on chain" in receipt_verdict and "ledger consistency" in receipt_verdict
    with socket.socket() as s, pytest.raises(OSError):  # `kill %1` stopped the server
        s.settimeout(1)
        s.connect(("127.0.0.1", port))
    assert (data / "ledger.db").is_file() and (data / "chain" / "port").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".venv", "hromada-city"]
    after = set(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout)
    assert after == before  # nothing written into the repository
