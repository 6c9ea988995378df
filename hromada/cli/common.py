"""What every `hromada` command shares: the consoles, the `--data-dir` option, the settings tree read and validated
once at the start of the command, and opening the ledger with what the composition root wires into it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from anchoring.errors import AnchoringError
from hromada.settings import HromadaSettings, load
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.runtime import Ledger

console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HROMADA_DATA_DIR or ./data).")
]


def settings(data_dir: Path | None = None, **ledger: Any) -> HromadaSettings:
    """The settings tree from the environment, with the command's options over the ledger's part (None: not
    given); exit 2 with the reason when it is not valid."""
    given = {k: v for k, v in {"data_dir": data_dir, **ledger}.items() if v is not None}
    try:
        return load(ledger=given)
    except (LedgerError, AnchoringError, ValueError) as e:
        err.print(f"[red]configuration error:[/red] {e}")
        raise typer.Exit(2) from e


def open_ledger(s: HromadaSettings) -> Ledger:
    """The ledger of `s`, its receipts reading anchors from the anchoring tables."""
    from anchoring.records import anchor_covering
    from ledger.runtime import Ledger

    try:
        ledger = Ledger(s.ledger)
    except LedgerError as e:
        err.print(f"[red]cannot open the ledger:[/red] {e}")
        raise typer.Exit(2) from e
    ledger.anchor_lookup = anchor_covering
    return ledger


def bundle_chain(s: HromadaSettings) -> dict[str, Any] | None:
    """`chain` of an audit bundle's log.json: the configured chain, else the local chain's deployment."""
    from anchoring.records import chain_info

    return chain_info(s.ledger.data_dir, s.chain.config())
