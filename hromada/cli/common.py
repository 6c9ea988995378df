"""What every `hromada` command shares: the consoles, the `--data-dir` option and opening the ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ledger.config import Settings
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.runtime import Ledger

console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HROMADA_DATA_DIR or ./data).")
]


def settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["HROMADA_DATA_DIR"] = str(data_dir)
    try:
        return Settings()
    except (LedgerError, ValueError) as e:
        err.print(f"[red]configuration error:[/red] {e}")
        raise typer.Exit(2) from e


def open_ledger(data_dir: Path | None) -> Ledger:
    from anchoring.records import anchor_covering
    from ledger.runtime import Ledger

    s = settings(data_dir)
    try:
        ledger = Ledger(s)
    except LedgerError as e:
        err.print(f"[red]cannot open the ledger:[/red] {e}")
        raise typer.Exit(2) from e
    ledger.anchor_lookup = anchor_covering
    return ledger
