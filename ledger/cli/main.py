"""`hromada`: run and operate one ledger. Settings come from HROMADA_* environment variables
(see ledger/config.py); `--data-dir` overrides HROMADA_DATA_DIR."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

import anchoring.cli as anchor_cli
import api.cli as api_cli
from ledger.config import Settings
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.runtime import Ledger

app = typer.Typer(
    help="Hromada Ledger: an event-sourced, Merkle-logged, chain-anchored ledger for city petitions, "
    "votes and queues. Settings come from HROMADA_* environment variables.",
    no_args_is_help=True,
)
log_app = typer.Typer(help="Inspect the Merkle log.", no_args_is_help=True)
app.add_typer(log_app, name="log")
app.add_typer(anchor_cli.app, name="anchor")
app.add_typer(api_cli.service_app, name="service")
app.command("dev-token")(api_cli.dev_token)


def _anchor_context() -> anchor_cli.AnchorContext:
    from ledger.db.engine import make_engine

    settings = Settings()
    return anchor_cli.AnchorContext(make_engine(settings.resolved_database_url()), settings.origin, settings.data_dir)


anchor_cli.set_context_factory(_anchor_context)
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


def _open(data_dir: Path | None) -> Ledger:
    from anchoring.records import anchor_covering
    from ledger.runtime import Ledger

    settings = _settings(data_dir)
    try:
        ledger = Ledger(settings)
    except LedgerError as e:
        err.print(f"[red]cannot open the ledger:[/red] {e}")
        raise typer.Exit(2) from e
    ledger.anchor_lookup = anchor_covering
    return ledger


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create the data directory, the log key (development) and the database schema; print the verifier key."""
    with _open(data_dir) as ledger:
        ledger.app  # noqa: B018 - opening the city app creates the pseudonym and vault secrets and the vault
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
        st = ledger.status().as_dict()
        st["anchors"] = anchor_cli.status_dict(ledger.engine, ledger.settings.data_dir)
    if as_json:
        print(json.dumps(st, indent=2, default=str))
        return
    table = Table(title=f"log {st['origin']}", show_header=False)
    for k, v in st.items():
        if k != "anchors":
            table.add_row(k, "—" if v is None else str(v))
    console.print(table)
    anchor_cli._print_status(st["anchors"])


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
def demo(
    events: Annotated[int, typer.Option("--events", help="About how many events to write (at least 200).")] = 2000,
    data_dir: DataDir = None,
    seed: Annotated[int, typer.Option(help="Random seed (the scenario is deterministic for a seed).")] = 2026,
    no_chain: Annotated[bool, typer.Option("--no-chain", help="Skip anchoring.")] = False,
) -> None:
    """Write a realistic city scenario through the ledger (petitions with thousands of signatures, a
    participatory budget, kindergarten and housing queues), integrated, checkpointed and anchored on the same
    default chain as `hromada serve` (the local anvil unless HROMADA_CHAIN_* is set)."""
    from rich.progress import Progress

    from anchoring.service import AnchoringService
    from ledger.demo import run_demo

    with _open(data_dir) as ledger:
        chain: AnchoringService | None = None
        if not no_chain:
            chain = AnchoringService(ledger.engine, origin=ledger.settings.origin, data_dir=ledger.settings.data_dir)
            try:
                chain.start()
            except Exception as e:
                err.print(f"[red]cannot start anchoring:[/red] {e} (use --no-chain to skip)")
                raise typer.Exit(2) from e
        try:
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("writing the city scenario", total=events)
                report = run_demo(
                    ledger, events, seed=seed, progress=lambda done, total: progress.update(task, completed=done)
                )
            if chain is not None and chain.anchorer is not None:
                anchorer = chain.anchorer
                anchorer.stop_background()
                anchorer.tick(force=True)  # anchor the final checkpoint...
                for _ in range(50):  # ...and follow it until it is mined and final
                    if anchorer.status()["in_flight_submissions"] == 0:
                        break
                    time.sleep(0.2)
                    anchorer.tick()
                else:
                    err.print("[yellow]the last anchor is still in flight; `hromada anchor status` follows it[/yellow]")
        finally:
            if chain is not None:
                chain.stop()
        st = ledger.status()
    console.print(
        f"wrote {st.tree_size} events, {len(report.checkpoints)} checkpoints (latest at "
        f"{st.checkpoint.tree_size if st.checkpoint else '—'})"
    )


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle to write: a directory, or a file ending in .tar.gz.")],
    data_dir: DataDir = None,
    size: Annotated[int | None, typer.Option(help="Tree size of a signed checkpoint (default: latest).")] = None,
) -> None:
    """Write the audit bundle (docs/formats.md §5) at a signed checkpoint, for `hromada-verify audit`."""
    from rich.progress import Progress

    from anchoring.records import anchors_up_to, chain_info
    from ledger.export import ExportError, write_bundle

    with _open(data_dir) as ledger, Progress(console=err, transient=True) as progress:
        task = progress.add_task("exporting events", total=None)
        try:
            written = write_bundle(
                ledger.engine,
                events_table=ledger.integrator.events.name,
                origin=ledger.settings.origin,
                verifier_key=ledger.signer.verifier_key,
                out=out,
                tree_size=size,
                chain=chain_info(ledger.settings.data_dir),
                rule_sets=ledger.rule_sets(),
                anchors=anchors_up_to,
                state=ledger.published_state,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ExportError as e:
            err.print(f"[red]cannot export:[/red] {e}")
            raise typer.Exit(2) from e
    console.print(f"wrote {out} at tree size {written}")


@app.command()
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

    with _open(data_dir) as ledger:
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


def main() -> None:  # pragma: no cover
    sys.exit(app())
