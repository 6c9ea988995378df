"""`hromada service ...` and `hromada dev-token`: city services, their API keys, development citizen tokens.

hromada service add NAME --scope petition:moderate --scope ...   (prints the API key once)
hromada service keys | hromada service revoke-key KEY_ID
hromada service revoke SERVICE --reason "..."   (service.revoked in the log, then every API key of the service)
hromada service scopes SERVICE --scope ... [--scope ...]   (service.scopes_changed: the complete new list)
hromada dev-token --sub alice [--method diia --age 30 --district podil]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hromada.cli.common import DataDir, open_ledger, settings

if TYPE_CHECKING:
    from ledger.runtime import Ledger

service_app = typer.Typer(help="City services and their API keys.", no_args_is_help=True)


def _open(data_dir: DataDir, *, existing: bool = False) -> Ledger:
    """The ledger with the API's tables; `existing`: refuse a data directory that does not exist (a command that
    changes a service already registered there) instead of creating a new ledger in it."""
    from api.schema import API_TABLES
    from ledger.db.schema import metadata

    ledger = open_ledger(settings(data_dir), existing=existing)
    metadata.create_all(ledger.engine, tables=API_TABLES, checkfirst=True)
    return ledger


@service_app.command("add")
def service_add(
    service: Annotated[str, typer.Argument(help="Service id, e.g. city.education")],
    scope: Annotated[list[str], typer.Option("--scope", help="Scope for the key (repeat), e.g. queue:kindergarten:*")],
    name: Annotated[str | None, typer.Option(help="Display name (registration)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Register the service in the log if needed and print a new API key (shown once; only its hash is kept)."""
    from api.auth.keys import add_service
    from domain.errors import DomainError

    with _open(data_dir) as ledger:
        try:
            key = add_service(ledger, service, scope, name)
        except DomainError as e:
            typer.echo(f"refused: {e.message} {e.evidence}", err=True)
            raise typer.Exit(1) from e
    typer.echo(key)


@service_app.command("keys")
def service_keys(data_dir: DataDir = None) -> None:
    """List API keys (ids, services, scopes; never the keys)."""
    from api.auth.keys import list_keys

    with _open(data_dir) as ledger:
        for k in list_keys(ledger.engine):
            typer.echo(
                f"{k['key_id']}  {k['service']}  {','.join(map(str, k['scopes']))}  "  # type: ignore[call-overload]
                f"{'revoked ' + str(k['revoked_at']) if k['revoked_at'] else 'active'}"
            )


@service_app.command("revoke-key")
def service_revoke_key(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke one API key (takes effect within 30 s on running servers)."""
    from api.auth.keys import revoke_key

    with _open(data_dir) as ledger:
        ok = revoke_key(ledger.engine, key_id)
    typer.echo("revoked" if ok else "no such active key")
    if not ok:
        raise typer.Exit(1)


def _refused(e: Exception, service: str) -> typer.Exit:
    """Print why a service command was refused; the exit to raise (1)."""
    from domain.errors import DomainError, NotFound

    if isinstance(e, NotFound):
        typer.echo(f"refused: no such service {service!r} (`hromada service add` registers one)", err=True)
    elif isinstance(e, DomainError):
        typer.echo(f"refused: {e.message} {e.evidence}", err=True)
    return typer.Exit(1)


@service_app.command("revoke")
def service_revoke(
    service: Annotated[str, typer.Argument(help="Service id, e.g. city.education")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the public log; 1-500 characters)")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a service in the log (`service.revoked`, by the operator) and every API key it holds: its later
    writes are refused, by the API, the domain and the verifier. Final: a revoked id is never registered again."""
    from api.auth.keys import revoke_service
    from domain.errors import DomainError

    with _open(data_dir, existing=True) as ledger:
        try:
            keys = revoke_service(ledger, service, reason)
        except DomainError as e:
            raise _refused(e, service) from e
    typer.echo(f"revoked {service} ({keys} API key{'s' if keys != 1 else ''} revoked)")


@service_app.command("scopes")
def service_scopes(
    service: Annotated[str, typer.Argument(help="Service id, e.g. city.education")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope of the new list (repeat); none: no scope at all")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Replace the scopes a service holds in the log (`service.scopes_changed`; the complete new list). Its API keys
    keep theirs, but a write needs the scope in the log too, so narrowing the service narrows every key."""
    from api.auth.keys import change_service_scopes
    from domain.errors import DomainError

    with _open(data_dir, existing=True) as ledger:
        try:
            change_service_scopes(ledger, service, list(scope or []))
        except DomainError as e:
            raise _refused(e, service) from e
    typer.echo(f"{service}: {', '.join(sorted(set(scope or []))) or '(no scopes)'}")


def dev_token(
    sub: Annotated[str, typer.Option("--sub", help="Subject (becomes dev:<sub>)")],
    method: Annotated[str, typer.Option(help="Identity method asserted")] = "diia",
    age: Annotated[int | None, typer.Option(help="Asserted age")] = None,
    district: Annotated[str | None, typer.Option(help="Asserted district")] = None,
    hours: Annotated[float, typer.Option(help="Validity")] = 12.0,
    data_dir: DataDir = None,
) -> None:
    """Print a citizen ID token of the built-in development issuer (refused with HROMADA_PRODUCTION)."""
    from api.auth.tokens import DevIssuer

    s = settings(data_dir)
    if not s.api.dev_issuer_enabled():
        typer.echo("refused: the development issuer is off (HROMADA_PRODUCTION or HROMADA_DEV_ISSUER=false)", err=True)
        raise typer.Exit(2)
    typer.echo(DevIssuer(s.ledger.data_dir).issue(sub, method=method, age=age, district=district, hours=hours))
