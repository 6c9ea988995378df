"""`hromada tick`: one round of the clock (docs/operations.md "The clock"), for deployments that run it from cron."""

from __future__ import annotations

import typer

from hromada.cli.common import DataDir, console, open_ledger, settings


def tick(data_dir: DataDir = None) -> None:
    """Append what the rules make due now (petition and ballot closes, kindergarten offer expiry), once, and exit."""
    from ledger.clock import tick as clock_tick

    with open_ledger(settings(data_dir)) as ledger:
        fired = clock_tick(ledger)
        if fired is None:
            console.print("another process holds the writer lock (a running `hromada serve` runs its own clock)")
            return
        done = [f for f in fired if f.error is None]
        for f in fired:
            what = f"{f.action} {f.stream}" + (f" {f.item}" if f.item else "")
            console.print(f"{what} (due {f.due})" + (f": not appended, {f.error}" if f.error else ""))
        console.print(f"{len(done)} clock event(s) appended")
        if len(done) < len(fired):
            raise typer.Exit(1)
