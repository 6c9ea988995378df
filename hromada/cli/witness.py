"""`hromada witness init|serve`: run an independent C2SP witness (the `witness` package) beside, or far from, a
ledger. It uses none of the ledger's settings: its key and state live in `--state DIR`, the logs it witnesses are
given by their verifier keys (`--log-key`, repeatable; the key's name is the log's origin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hromada.cli.common import err
from witness.keys import DEFAULT_NAME

app = typer.Typer(help="An independent C2SP witness: verify each log checkpoint's consistency, then cosign it.")

StateDir = Annotated[Path, typer.Option("--state", help="The witness's directory: its key and its state database.")]


@app.command()
def init(
    state: StateDir,
    name: Annotated[str, typer.Option(help="The witness's key name (a schema-less URL).")] = DEFAULT_NAME,
) -> None:
    """Create the witness's key (<state>/witness.key, 0600) and print its verifier key."""
    from witness.keys import WitnessKeyError, create_key

    try:
        key = create_key(state, name)
    except WitnessKeyError as e:
        err.print(f"[red]cannot create the witness key:[/red] {e}")
        raise typer.Exit(2) from e
    typer.echo(str(key.verifier_key()))


@app.command()
def serve(
    state: StateDir,
    log_key: Annotated[
        list[str],
        typer.Option("--log-key", help="A log's verifier key (or a file holding it); repeat for several logs."),
    ],
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
) -> None:
    """Serve POST /add-checkpoint (c2sp.org/tlog-witness) for the logs given by --log-key."""
    from verifier.errors import CannotVerify
    from verifier.note import load_verifier_key
    from witness.keys import WitnessKeyError, load_key
    from witness.protocol import Witness
    from witness.server import serve as serve_witness
    from witness.state import WitnessState

    try:
        key = load_key(state)
        logs = {k.name: k for k in (load_verifier_key(v) for v in log_key)}
    except (WitnessKeyError, CannotVerify) as e:
        err.print(f"[red]cannot serve the witness:[/red] {e}")
        raise typer.Exit(2) from e
    witness = Witness(key, WitnessState(state), logs)
    typer.echo(f"witness {key.verifier_key()} on http://{host}:{port} for {', '.join(sorted(logs))}")
    serve_witness(witness, host=host, port=port)
