"""`hromada serve`: the writer lock, the API (alone or behind front processes), the integrator and checkpointer,
and the chain with its anchorer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hromada.cli.common import DataDir, console, err, open_ledger
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.runtime import Ledger


def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default $HROMADA_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default $HROMADA_PORT or 8000).")] = None,
    no_chain: Annotated[bool, typer.Option("--no-chain", help="Do not anchor (no chain is started).")] = False,
    fronts: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="HTTP front processes (default $HROMADA_FRONTS or 0: this process serves HTTP itself). With N >= 1, "
            "N processes parse HTTP and verify citizen tokens; this one only decides.",
        ),
    ] = None,
) -> None:
    """Run the ledger: HTTP API, integrator, checkpointer and anchorer (a local anvil chain by default)."""
    from ledger.writerlock import WriterLock

    with open_ledger(data_dir) as ledger:
        writer_lock = WriterLock(ledger.engine)
        try:
            writer_lock.acquire()
        except LedgerError as e:
            err.print(f"[red]cannot serve:[/red] {e}")
            raise typer.Exit(2) from e
        try:  # released on every way out, a failed chain start included
            _serve_locked(ledger, host, port, no_chain, fronts)
        finally:
            writer_lock.release()


def _serve_locked(ledger: Ledger, host: str | None, port: int | None, no_chain: bool, fronts: int | None) -> None:
    from anchoring.service import AnchoringService
    from api.app import create_app
    from api.fronts import ListenError, serve_alone, serve_with_fronts
    from api.settings import ApiSettings

    settings = ledger.settings
    api_settings = ApiSettings()
    n_fronts = api_settings.fronts if fronts is None else fronts
    if not n_fronts:
        ledger.start_worker()  # with fronts, the integrator/checkpointer is a child process (ledger/worker.py)
    chain: AnchoringService | None = None
    if not no_chain:
        chain = AnchoringService(ledger.engine, origin=settings.origin, data_dir=settings.data_dir)
        try:
            chain.start()  # the local anvil chain unless HROMADA_CHAIN_RPC_URL is set
        except Exception as e:
            err.print(f"[red]cannot start anchoring:[/red] {e}")
            raise typer.Exit(2) from e
    console.print(
        f"[bold]Hromada Ledger[/bold] {settings.origin} on http://{host or settings.host}:{port or settings.port}"
    )
    typer.echo(f"verifier key: {ledger.signer.verifier_key}")
    try:
        if n_fronts:
            console.print(f"{n_fronts} HTTP front processes; this process decides every write")
            try:
                serve_with_fronts(
                    create_app(ledger, settings=api_settings),
                    data_dir=Path(settings.data_dir),
                    host=host or settings.host,
                    port=port or settings.port,
                    fronts=n_fronts,
                )
            except ListenError as e:
                err.print(f"[red]cannot serve:[/red] {e}")
                raise typer.Exit(2) from e
        else:
            try:
                serve_alone(
                    create_app(ledger, settings=api_settings), host=host or settings.host, port=port or settings.port
                )
            except ListenError as e:
                err.print(f"[red]cannot serve:[/red] {e}")
                raise typer.Exit(2) from e
    finally:
        if chain is not None:
            chain.stop()  # the anchorer first, then anvil with SIGTERM (its state file is written)
