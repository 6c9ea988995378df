"""`hromada trustee init|join|commit|verify|decrypt`: a trustee's part of an encrypted ballot (docs/voting.md §5).
Run on the trustee's own machine; the secrets stay in `--state FILE` (0600) and are never sent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hromada.cli.common import err

app = typer.Typer(help="A trustee of an encrypted ballot: key ceremony and decryption share.", no_args_is_help=True)

Ledger = Annotated[str, typer.Option("--ledger", help="The ledger's API base URL.")]
Ballot = Annotated[str, typer.Option("--ballot", help="The ballot id.")]
ApiKey = Annotated[str, typer.Option("--api-key", envvar="HROMADA_TRUSTEE_API_KEY", help="Your service API key.")]
State = Annotated[Path, typer.Option("--state", help="Your secrets for this ballot (created by init, mode 0600).")]


def _fail(e: Exception) -> typer.Exit:
    err.print(f"[red]trustee:[/red] {e}")
    return typer.Exit(1)


@app.command()
def init(
    ledger: Ledger,
    ballot: Ballot,
    state: State,
    service: Annotated[str, typer.Option("--service", help="Your service id, as the ballot names you.")],
    api_key: ApiKey = "",
) -> None:
    """Create your secrets for the ballot in --state (never overwrites one)."""
    from hromada.trustee import TrusteeError
    from hromada.trustee import init as run

    try:
        index = run(ledger, ballot, service, state)
    except TrusteeError as e:
        raise _fail(e) from e
    typer.echo(f"trustee {index} of ballot {ballot}: secrets in {state}")


def _step(name: str, ledger: str, ballot: str, api_key: str, state: Path) -> None:
    from hromada import trustee

    try:
        result = getattr(trustee, name)(ledger, ballot, api_key, state)
    except trustee.TrusteeError as e:
        raise _fail(e) from e
    if name == "verify" and result is not None:
        err.print(f"[red]the share from trustee {result} is wrong: complaint posted, the ceremony is dead[/red]")
        raise typer.Exit(1)
    typer.echo(f"{name}: done")


@app.command()
def join(ledger: Ledger, ballot: Ballot, api_key: ApiKey, state: State) -> None:
    """Post your encryption key with its proof of knowledge."""
    _step("join", ledger, ballot, api_key, state)


@app.command()
def commit(ledger: Ledger, ballot: Ballot, api_key: ApiKey, state: State) -> None:
    """Post your commitments, their proof and a sealed share for every other trustee (after all joined)."""
    _step("commit", ledger, ballot, api_key, state)


@app.command()
def verify(ledger: Ledger, ballot: Ballot, api_key: ApiKey, state: State) -> None:
    """Check the shares sent to you: verify, or complain about the first bad one (exit 1)."""
    _step("verify", ledger, ballot, api_key, state)


@app.command()
def decrypt(ledger: Ledger, ballot: Ballot, api_key: ApiKey, state: State) -> None:
    """Post your decryption shares of the aggregate, each with its proof (after voting ended)."""
    _step("decrypt", ledger, ballot, api_key, state)
