"""`hromada keys ...`: the ledger's secret keys besides the log signing key.

hromada keys rotate-pseudonym   (adds pseudonym key version N+1 and makes it current; old versions are kept)
"""

from __future__ import annotations

import typer

from hromada.cli.common import DataDir, err, require_data_dir, settings

app = typer.Typer(help="The ledger's secret keys (pseudonyms).", no_args_is_help=True)


@app.command("rotate-pseudonym")
def rotate_pseudonym(data_dir: DataDir = None) -> None:
    """Add pseudonym key version N+1 and make it current, keeping every old version: petitions, ballots and queues
    opened from now on record the new version (`pseudonym_key`), open ones keep theirs. Takes effect when the ledger
    is next opened: restart `hromada serve`. The keys are never printed."""
    from ledger.errors import ConfigurationError
    from ledger.secrets import rotate_pseudonym_keys

    s = settings(data_dir)
    require_data_dir(s)
    try:
        rotated = rotate_pseudonym_keys(s.ledger)
    except (ConfigurationError, OSError) as e:
        err.print(f"[red]refused:[/red] {e}", soft_wrap=True, markup=True, highlight=False)
        raise typer.Exit(1) from e
    versions = ", ".join(map(str, rotated.versions))
    typer.echo(
        f"pseudonym key version {rotated.version} added to {rotated.path} and made current (versions {versions}); "
        "restart `hromada serve` to use it. Keep the old versions while aggregates that froze them are open."
    )
