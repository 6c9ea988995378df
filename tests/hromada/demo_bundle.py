"""A demo city written and exported through the CLI, as a user does it, for the tests that read its bundle."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from hromada.cli import app

#: No chain, no server database: the demo's SQLite files in the test's directory.
ENV = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": ""}


def demo_bundle(tmp_path: Path, events: int) -> Path:
    """``hromada demo --events N --no-chain`` into ``tmp_path/city``, then ``hromada export``: the bundle's path."""
    runner = CliRunner()
    data = tmp_path / "city"
    made = runner.invoke(app, ["demo", "--data-dir", str(data), "--events", str(events), "--no-chain"], env=ENV)
    assert made.exit_code == 0, made.output
    bundle = tmp_path / "b.tar.gz"
    out = runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(bundle)], env=ENV)
    assert out.exit_code == 0, out.output
    return bundle


def bundle_events(bundle: Path) -> list[dict[str, object]]:
    """The envelopes of the bundle's ``events.jsonl``, in log order."""
    with tarfile.open(bundle) as tar:
        for m in tar.getmembers():
            if m.name.endswith("events.jsonl"):
                f = tar.extractfile(m)
                assert f is not None
                return [json.loads(line) for line in f.read().decode().splitlines() if line]
    raise AssertionError("no events.jsonl in the bundle")
