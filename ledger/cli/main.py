"""`hromada`: run and operate one ledger. Settings come from HROMADA_* environment variables
(see ledger/config.py); `--data-dir` overrides HROMADA_DATA_DIR."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger.config import Settings
from ledger.errors import LedgerError

app = typer.Typer(
    help="Hromada Ledger: an event-sourced, Merkle-logged, chain-anchored ledger for city petitions, "
    "votes and queues. Settings come from HROMADA_* environment variables.",
    no_args_is_help=True,
)
log_app = typer.Typer(help="Inspect the Merkle log.", no_args_is_help=True)
app.add_typer(log_app, name="log")
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $HROMADA_DATA_DIR or ./data).")
]


def _settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["HROMADA_DATA_DIR"] = str(data_dir)
    try:
        return Settings()
    except (LedgerError, ValueError) as e:
        err.print(f"[red]configuration error:[/red] {e}")
        raise typer.Exit(2) from e


def _open(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from ledger.runtime import Ledger

    settings = _settings(data_dir)
    try:
        return Ledger(settings)
    except LedgerError as e:
        err.print(f"[red]cannot open the ledger:[/red] {e}")
        raise typer.Exit(2) from e


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create the data directory, the log key (development) and the database schema; print the verifier key."""
    with _open(data_dir) as ledger:
        # plain echo: keys and URLs must not be wrapped, they get copied into configs
        typer.echo(f"origin        {ledger.settings.origin}")
        typer.echo(f"database      {ledger.engine.url.render_as_string(hide_password=True)}")
        typer.echo(f"verifier key  {ledger.signer.verifier_key}")


@app.command()
def checkpoint(data_dir: DataDir = None) -> None:
    """Integrate every committed event and sign a checkpoint now (if the tree grew)."""
    with _open(data_dir) as ledger:
        try:
            cp = ledger.integrate_and_checkpoint()
        except LedgerError as e:
            err.print(f"[red]refused:[/red] {e}")
            raise typer.Exit(1) from e
        if cp is None:
            console.print("tree did not grow since the last checkpoint; nothing signed")
        else:
            console.print(cp.note, end="", markup=False, highlight=False)


@app.command()
def integrate(
    data_dir: DataDir = None,
    follow: Annotated[bool, typer.Option(help="Keep following the log until SIGTERM/SIGINT.")] = False,
) -> None:
    """Append committed events to the Merkle log (exactly once; safe to kill at any point)."""
    with _open(data_dir) as ledger:
        if not follow:
            n = ledger.integrator.integrate_all()
            console.print(f"integrated {n} events; tree size {ledger.integrator.state().tree_size}")
            return
        stopping = False

        def _stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        ledger.integrator.run(lambda: stopping)


@log_app.command("status")
def log_status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tree size, root, latest checkpoint and integration lag."""
    import json

    with _open(data_dir) as ledger:
        st = ledger.status()
    if as_json:
        print(json.dumps(st.as_dict(), indent=2))
        return
    table = Table(title=f"log {st.origin}", show_header=False)
    for k, v in st.as_dict().items():
        table.add_row(k, "—" if v is None else str(v))
    console.print(table)


@log_app.command("verify")
def log_verify(data_dir: DataDir = None) -> None:
    """Check this database against itself: every event against its leaf hash, every tile against the tiles
    below it, every signed checkpoint against the recomputed root. Exit 1 on the first disagreement."""
    from rich.progress import Progress

    from ledger.selfaudit import StorageTampered, self_audit

    with _open(data_dir) as ledger, Progress(console=err, transient=True) as progress:
        task = progress.add_task("verifying", total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = self_audit(
                ledger.engine,
                events_table=ledger.integrator.events.name,
                origin=ledger.settings.origin,
                progress=show,
            )
        except StorageTampered as e:
            err.print(f"[red]TAMPERED[/red] {e}\n  at {e.where}\n  expected {e.expected}\n  found    {e.found}")
            raise typer.Exit(1) from e
    console.print(
        f"[green]consistent[/green]: {report.tree_size} leaves, root {report.root.hex()}, "
        f"{report.checkpoints_checked} signed checkpoints match"
    )


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default $HROMADA_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $HROMADA_PORT or 8000).")] = None,
) -> None:
    """Run the ledger: HTTP API, integrator and checkpointer."""
    import uvicorn

    from api.app import create_app

    with _open(data_dir) as ledger:
        ledger.start_worker()
        settings = ledger.settings
        console.print(
            f"[bold]Hromada Ledger[/bold] {settings.origin} on http://{host or settings.host}:{port or settings.port}"
        )
        typer.echo(f"verifier key: {ledger.signer.verifier_key}")
        uvicorn.run(create_app(ledger), host=host or settings.host, port=port or settings.port, log_level="info")


def main() -> None:  # pragma: no cover
    sys.exit(app())
