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


def open_ledger(s: HromadaSettings, *, existing: bool = False) -> Ledger:
    """The ledger of `s`, its receipts reading anchors from the anchoring tables. `existing`: a read-only command,
    which refuses a data directory that does not exist instead of creating one (keys, ledger.db) there."""
    from anchoring.records import anchor_covering
    from ledger.runtime import Ledger

    if existing:
        require_data_dir(s)
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


def require_data_dir(s: HromadaSettings) -> None:
    """Exit 2 in one line when the data directory does not exist (a mistyped --data-dir)."""
    data = Path(s.ledger.data_dir)
    if not data.is_dir():
        err.print(
            f"[red]no ledger at {data}[/red]: the directory does not exist (check --data-dir or HROMADA_DATA_DIR; "
            "`hromada init` creates one)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
