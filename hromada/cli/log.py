"""The log's own commands: `hromada init`, `checkpoint`, `integrate`, `log status|verify` and `export`."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hromada.cli import anchor
from hromada.cli.common import DataDir, bundle_chain, console, err, open_ledger, settings
from ledger.errors import LedgerError

log_app = typer.Typer(help="Inspect the Merkle log.", no_args_is_help=True)


def init(data_dir: DataDir = None) -> None:
    """Create the data directory, the log key (development) and the database schema; print the verifier key."""
    with open_ledger(settings(data_dir)) as ledger:
        ledger.app  # noqa: B018 - opening the city app creates the pseudonym and vault secrets and the vault
        # plain echo: keys and URLs must not be wrapped, they get copied into configs
        typer.echo(f"origin        {ledger.settings.origin}")
        typer.echo(f"database      {ledger.engine.url.render_as_string(hide_password=True)}")
        typer.echo(f"verifier key  {ledger.signer.verifier_key}")


def checkpoint(data_dir: DataDir = None) -> None:
    """Integrate every committed event and sign a checkpoint now (if the tree grew)."""
    with open_ledger(settings(data_dir)) as ledger:
        try:
            cp = ledger.integrate_and_checkpoint()
        except LedgerError as e:
            err.print(f"[red]refused:[/red] {e}")
            raise typer.Exit(1) from e
        if cp is None:
            console.print("tree did not grow since the last checkpoint; nothing signed")
        else:
            console.print(cp.note, end="", markup=False, highlight=False)


def integrate(
    data_dir: DataDir = None,
    follow: Annotated[bool, typer.Option(help="Keep following the log until SIGTERM/SIGINT.")] = False,
) -> None:
    """Append committed events to the Merkle log (exactly once; safe to kill at any point)."""
    with open_ledger(settings(data_dir)) as ledger:
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
    s = settings(data_dir)
    with open_ledger(s, existing=True) as ledger:
        st = ledger.status().as_dict()
        st["anchors"] = anchor.status_dict(ledger.engine, ledger.settings.data_dir, s.chain.config())
    if as_json:
        print(json.dumps(st, indent=2, default=str))
        return
    table = Table(title=f"log {st['origin']}", show_header=False)
    for k, v in st.items():
        if k != "anchors":
            table.add_row(k, "—" if v is None else str(v))
    console.print(table)
    anchor.print_status(st["anchors"])


@log_app.command("verify")
def log_verify(data_dir: DataDir = None) -> None:
    """Check this database against itself: every event against its leaf hash, every tile against the tiles
    below it, every signed checkpoint against the recomputed root. Exit 1 on the first disagreement."""
    from rich.progress import Progress

    from ledger.selfaudit import StorageTampered, self_audit

    with open_ledger(settings(data_dir), existing=True) as ledger, Progress(console=err, transient=True) as progress:
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


def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle to write: a directory, or a file ending in .tar.gz.")],
    data_dir: DataDir = None,
    size: Annotated[int | None, typer.Option(help="Tree size of a signed checkpoint (default: latest).")] = None,
) -> None:
    """Write the audit bundle (docs/formats.md §5) at a signed checkpoint, for `hromada-verify audit`."""
    from rich.progress import Progress

    from anchoring.records import anchors_up_to
    from ledger.export import ExportError, refuse_other_archive, write_bundle

    s = settings(data_dir)
    try:
        refuse_other_archive(out)
    except ExportError as e:
        err.print(f"[red]cannot export:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from e
    with open_ledger(s, existing=True) as ledger, Progress(console=err, transient=True) as progress:
        task = progress.add_task("exporting events", total=None)
        try:
            written = write_bundle(
                ledger.engine,
                events_table=ledger.integrator.events.name,
                origin=ledger.settings.origin,
                verifier_key=ledger.signer.verifier_key,
                out=out,
                tree_size=size,
                chain=bundle_chain(s),
                rule_sets=ledger.rule_sets(),
                anchors=anchors_up_to,
                state=ledger.published_state,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ExportError as e:
            err.print(f"[red]cannot export:[/red] {e}")
            raise typer.Exit(2) from e
    console.print(f"wrote {out} at tree size {written}")


@log_app.command("rotate-key")
def rotate_key(
    new_key: Annotated[
        Path, typer.Option("--new-key", help="The new signer key file (PRIVATE+KEY+<origin>+...), mode 0600.")
    ],
    generate: Annotated[
        bool, typer.Option("--generate", help="Create a new random key in the --new-key file (refuses to overwrite).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Rotate the log signing key: the current key and the new one sign a hand-over checkpoint naming the new key
    (docs/formats.md §3), then the ledger signs with the new key only. Run it with `hromada serve` stopped."""
    from ledger.errors import ConfigurationError, WriterBusyError
    from ledger.keys import generate_signer_file, load_signer_file
    from ledger.writerlock import WriterLock

    s = settings(data_dir)
    with open_ledger(s, existing=True) as ledger:
        try:
            with WriterLock(ledger.engine):
                new = (generate_signer_file if generate else load_signer_file)(new_key, ledger.settings.origin)
                old = ledger.signer.verifier_key
                handover, installed = ledger.rotate_key(new)
        except (WriterBusyError, ConfigurationError, LedgerError) as e:
            err.print(f"[red]refused:[/red] {e}", soft_wrap=True)
            raise typer.Exit(1) from e
    typer.echo(f"retired key   {old}")
    typer.echo(f"new key       {handover.new_key}")
    typer.echo(f"hand-over at  tree size {handover.tree_size}")
    typer.echo(handover.note, nl=False)
    if installed is not None:
        typer.echo(f"the ledger now loads the new key from {installed} (the old one is kept beside it as retired)")
    else:
        typer.echo(f"set HROMADA_LOG_KEY to {new_key} now: the ledger refuses to start with the retired key")
