"""Every `hromada` command imports the CLI; web3 and its eth_* stack (about a second to import) are loaded only by
the commands that talk to a chain (anchoring/chain.py imports them where they are used)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("web3", "eth_account", "eth_abi", "eth_utils", "requests")


def test_the_cli_and_the_settings_load_without_the_chain_libraries() -> None:
    code = (
        "import sys, hromada.cli, hromada.settings, anchoring.service, anchoring.anchorer, anchoring.records; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_chain_client_still_loads_them() -> None:
    code = (
        "import sys; from anchoring.chain import ChainClient, ChainConfig; "
        "ChainClient(ChainConfig(rpc_url='http://127.0.0.1:9', chain_id=1), None); print('web3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
