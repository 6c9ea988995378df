"""`hromada backup` and `hromada restore`: one file holding a ledger's stores, and a restore that never forks the
log (hromada/backup.py; docs/operations.md, "Backups")."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from hromada.backup import BackupError, RestoreRefused, restore_backup, write_backup
from hromada.cli.common import DataDir, console, err, open_ledger, settings


def _existing_ledger(data_dir: Path | None) -> None:
    """Backing up reads: a mistyped directory is an error, never a new empty ledger."""
    s = settings(data_dir)
    if s.ledger.database_url is None and not (s.ledger.data_dir / "ledger.db").is_file():
        err.print(f"[red]no ledger in {s.ledger.data_dir}[/red] (no ledger.db, and HROMADA_DATABASE_URL is not set)")
        raise typer.Exit(2)


def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write, *.tar.gz (never overwritten).")],
    data_dir: DataDir = None,
) -> None:
    """Back up the ledger (database, vault, development keys and chain) into one file, while it runs."""
    _existing_ledger(data_dir)
    s = settings(data_dir)
    with open_ledger(s) as ledger:
        verifier_key = ledger.signer.verifier_key
    try:
        info = write_backup(
            s.ledger,
            out,
            verifier_key=verifier_key,
            chain_dir=s.ledger.data_dir / "chain",
            progress=lambda step: err.print(f"backing up: {step}"),
        )
    except BackupError as e:
        err.print(f"[red]backup failed:[/red] {e}")
        raise typer.Exit(1) from e
    m = info.manifest
    console.print(f"wrote {out}: {m['tree_size']} events (latest checkpoint {m['checkpoint_size']}), {m['database']}")
    if m["dev_keys"]:
        console.print(f"it holds the development keys {', '.join(m['dev_keys'])}: keep it as secret as they are")


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `hromada backup`.")],
    data_dir: DataDir = None,
    database_url: Annotated[
        str | None, typer.Option(help="Restore into this database (default: the settings' one).")
    ] = None,
    published: Annotated[
        str | None,
        typer.Option(
            help="The latest checkpoint the world has seen (a file, or a ledger's/witness's /checkpoint URL): "
            "refuse a backup behind it."
        ),
    ] = None,
    replace: Annotated[bool, typer.Option(help="Replace a ledger already there (never one ahead of the backup).")] = (
        False
    ),
) -> None:
    """Restore a backup; refuse one that would fork the log (behind the ledger it replaces or behind --published)."""
    s = settings(data_dir, database_url=database_url)
    note = None
    if published is not None:
        try:
            if published.startswith(("http://", "https://")):
                with urllib.request.urlopen(published, timeout=30) as r:  # noqa: S310 - an operator-given URL
                    note = r.read().decode()
            else:
                note = Path(published).read_text()
        except OSError as e:
            err.print(f"[red]cannot read the published checkpoint {published}:[/red] {e}")
            raise typer.Exit(2) from e
    try:
        info = restore_backup(
            backup_file,
            s.ledger,
            published=note,
            replace=replace,
            chain_dir=s.ledger.data_dir / "chain",
            progress=lambda step: err.print(f"restoring: {step}"),
        )
    except RestoreRefused as e:
        err.print(f"[red]restore refused:[/red] {e}")
        raise typer.Exit(1) from e
    except BackupError as e:
        err.print(f"[red]restore failed:[/red] {e}")
        raise typer.Exit(1) from e
    m = info.manifest
    console.print(f"restored {m['tree_size']} events of {m['origin']} (backup of {m['created_at']})")
    console.print("next: `hromada log verify` before serving it")
