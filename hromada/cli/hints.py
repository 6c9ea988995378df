"""What `hromada demo` prints at its end and `hromada audit-command` prints alone: the receipt page's link and the
exact `hromada-verify` commands auditing the data directory's ledger while `hromada serve` serves it, with its
anchors checked on the chain it keeps running (the local chain's address is stable: anchoring/service.py)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from hromada.cli.common import DataDir, console, err, open_ledger, settings
from hromada.settings import HromadaSettings


def _beside(name: str) -> str:
    """The `name` script beside the running `hromada` (the same environment), else the name on PATH."""
    beside = Path(sys.argv[0]).absolute().parent / name
    if beside.is_file():
        here = Path.cwd()
        return str(beside.relative_to(here)) if beside.is_relative_to(here) else str(beside)
    return name


def _verifier() -> str:
    return _beside("hromada-verify")


def chain_options(s: HromadaSettings) -> list[str]:
    """`--rpc URL --contract ADDR` of the chain this data directory anchors to; `--offline` before any anchor.
    A configured chain's URL may carry an access token: it is named by its variable, never printed."""
    from anchoring.records import chain_info
    from anchoring.service import LocalChainFiles

    configured = s.chain.config()
    info = chain_info(s.ledger.data_dir, configured)
    if info is None:
        return ["--offline"]
    if configured is not None:
        return ["--rpc", "$HROMADA_CHAIN_RPC_URL", "--contract", str(info["contract"])]
    rpc = LocalChainFiles(Path(s.ledger.data_dir) / "chain").rpc_url()
    return ["--offline"] if rpc is None else ["--rpc", rpc, "--contract", str(info["contract"])]


def served_url(s: HromadaSettings) -> str:
    return f"http://{s.api.host}:{s.api.port}"


def audit_commands(s: HromadaSettings, verifier_key: str, event_id: str | None = None) -> list[str]:
    """The shell lines: the whole log's audit, and a receipt's check when `event_id` is given."""

    def line(words: list[str]) -> str:
        return " ".join(w if w.startswith("$") else shlex.quote(w) for w in words)

    url, chain = served_url(s), chain_options(s)
    lines = [line([_verifier(), "audit", url, "--key", verifier_key, *chain])]
    if event_id:
        words = [_verifier(), "receipt", "--ledger", url, "--event", event_id, "--key", verifier_key, *chain]
        lines.append(line(words))
    return lines


def print_hints(s: HromadaSettings, verifier_key: str, event_id: str | None) -> None:
    """The demo's closing lines: how to serve the city, where to see a receipt, how to audit it."""
    data = shlex.quote(str(s.ledger.data_dir))
    serve = f"{_beside('hromada')} serve --data-dir {data}"
    console.print(f"serve it:    {serve}   (keep it running, e.g. in a second terminal)", soft_wrap=True, markup=False)
    if event_id:
        console.print(f"a receipt:   {served_url(s)}/#event={event_id}", soft_wrap=True)
    for cmd in audit_commands(s, verifier_key, event_id):
        console.print(f"audit it:    {cmd}", soft_wrap=True, markup=False, highlight=False)


def audit_command(
    data_dir: DataDir = None,
    event: Annotated[
        str | None, typer.Option("--event", help="The receipt to check (default: the one the demo shows).")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for the served ledger to answer first.")
    ] = 0,
) -> None:
    """Print the exact `hromada-verify` commands auditing this data directory's ledger as `hromada serve` serves
    it (its URL, its verifier key, the chain its anchors are on), and checking one receipt. Pipe them to `sh` while
    the ledger is served."""
    from hromada.cli.demo import shown_event

    s = settings(data_dir)
    with open_ledger(s, existing=True) as ledger:
        key = ledger.signer.verifier_key
        event = event or shown_event(ledger)
    if wait and not _answers(f"{served_url(s)}/readyz", wait):
        err.print(f"[red]no ledger answers at {served_url(s)}[/red] after {wait:g} s: is `hromada serve` running?")
        raise typer.Exit(2)
    for cmd in audit_commands(s, key, event):
        typer.echo(cmd)


def _answers(url: str, seconds: float) -> bool:
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - the configured http URL of our own server
                return True
        except urllib.error.HTTPError:
            return True  # it answers (not ready yet is still an answer: the audit says the rest)
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
