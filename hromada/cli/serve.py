"""`hromada serve`: the writer lock, the clock (ledger/clock.py), the API (alone or behind front processes), the
integrator and checkpointer, the witnesses' senders (ledger/witnesses.py), and the chain with its anchorer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hromada.cli.common import DataDir, bundle_chain, console, err, open_ledger, settings
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from hromada.settings import HromadaSettings
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

    s = settings(data_dir)
    with open_ledger(s) as ledger:
        writer_lock = WriterLock(ledger.engine)
        try:
            writer_lock.acquire()
        except LedgerError as e:
            err.print(f"[red]cannot serve:[/red] {e}")
            raise typer.Exit(2) from e
        try:  # released on every way out, a failed chain start included
            _serve_locked(s, ledger, host or s.api.host, port or s.api.port, no_chain, fronts)
        finally:
            writer_lock.release()


def _serve_locked(s: HromadaSettings, ledger: Ledger, host: str, port: int, no_chain: bool, fronts: int | None) -> None:
    from ledger.clock import ClockThread

    clock = ClockThread(ledger.app, s.ledger.clock_every_seconds)  # this process holds the writer lock
    clock.start()
    try:
        _serve_clocked(s, ledger, host, port, no_chain, fronts)
    finally:
        clock.stop()


def _serve_clocked(
    s: HromadaSettings, ledger: Ledger, host: str, port: int, no_chain: bool, fronts: int | None
) -> None:
    from ledger.witnesses import WitnessDispatcher

    n_fronts = s.api.fronts if fronts is None else fronts
    if not n_fronts:
        ledger.start_worker()  # with fronts, the integrator/checkpointer is a child process (ledger/worker.py)
    witnesses = WitnessDispatcher(ledger.engine, s.witnesses)  # in the background: a witness never blocks a write
    witnesses.start()
    try:
        _serve_with_witnesses(s, ledger, host, port, no_chain, n_fronts)
    finally:
        witnesses.stop()


def _serve_with_witnesses(
    s: HromadaSettings, ledger: Ledger, host: str, port: int, no_chain: bool, n_fronts: int
) -> None:
    from anchoring.records import anchors_up_to
    from anchoring.service import AnchoringService
    from api.app import create_app
    from api.serving.fronts import ListenError, serve_alone, serve_with_fronts

    chain: AnchoringService | None = None
    if not no_chain:
        chain = AnchoringService(
            ledger.engine,
            origin=s.ledger.origin,
            data_dir=s.ledger.data_dir,
            chain=s.chain.config(),
            policy=s.anchoring,
        )
        try:
            chain.start()  # the local anvil chain unless HROMADA_CHAIN_RPC_URL is set
        except Exception as e:
            err.print(f"[red]cannot start anchoring:[/red] {e}")
            raise typer.Exit(2) from e
    console.print(f"[bold]Hromada Ledger[/bold] {s.ledger.origin} on http://{host}:{port}")
    typer.echo(f"verifier key: {ledger.signer.verifier_key}")

    def bundle_anchors() -> tuple[dict[str, Any] | None, Any]:
        """What GET /v1/export puts in a bundle: the chain and its anchors (docs/formats.md §5)."""
        return (None, None) if s.api.api_no_anchors else (bundle_chain(s), anchors_up_to)

    app = create_app(ledger, settings=s.api, bundle_anchors=bundle_anchors)
    try:
        if n_fronts:
            console.print(f"{n_fronts} HTTP front processes; this process decides every write")
            try:
                serve_with_fronts(app, data_dir=Path(s.ledger.data_dir), host=host, port=port, fronts=n_fronts)
            except ListenError as e:
                err.print(f"[red]cannot serve:[/red] {e}")
                raise typer.Exit(2) from e
        else:
            try:
                serve_alone(app, host=host, port=port)
            except ListenError as e:
                err.print(f"[red]cannot serve:[/red] {e}")
                raise typer.Exit(2) from e
    finally:
        if chain is not None:
            chain.stop()  # the anchorer first, then anvil with SIGTERM (its state file is written)
