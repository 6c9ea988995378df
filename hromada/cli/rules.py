"""`hromada rules ...`: the city's rule sets (statutes), published as `ruleset.published` by a `rules:admin` service.

hromada rules publish FILE [--name NAME] [--version N] [--service city.legal]
hromada rules list [--json]

FILE is a rule set as `POST /v1/rule-sets` takes it (`ruleset`, `version`, `applies_to` (`petition`, `kindergarten`,
`housing` or `ballot`), `rules`, `source`; a `$comment` is ignored), or the name of a shipped statute (`kyiv`,
`sumy`, `hradyzk`: domain/petitions/statutes/; `kindergarten-example`, `housing-example`, `budget-example`:
domain/<kind>/statutes/).
The command runs the domain's `publish_rule_set`, the API's write path, as the named service: the log says which
service published, and the domain checks that it holds `rules:admin` there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from hromada.cli.common import DataDir, open_ledger, settings

app = typer.Typer(help="The city's rule sets (statutes) that petitions, queues and ballots name.", no_args_is_help=True)

#: The fields of a rule set file (those of `POST /v1/rule-sets`).
FIELDS = ("ruleset", "version", "applies_to", "rules", "source")


def _refuse(message: str, code: int = 1) -> typer.Exit:
    """Print why (plain: the message quotes JSON and file names) and return the exit to raise."""
    typer.echo(f"refused: {message}", err=True)
    return typer.Exit(code)


def read_rule_set(file: str, name: str | None, version: int | None) -> dict[str, Any]:
    """The rule set of `file` (a path, or the name of a shipped statute) with `name`/`version` over its own; exit 2
    when it cannot be read, 1 when a field is missing or unknown."""
    from domain.statutes import shipped_statutes

    statutes = shipped_statutes()
    path = Path(file)
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise _refuse(f"{file} is not a JSON rule set: {e}", 2) from e
    elif file in statutes:
        doc = json.loads(json.dumps(statutes[file]))
    else:
        raise _refuse(f"no such file {file!r} (nor a shipped statute: {', '.join(sorted(statutes))})", 2)
    if not isinstance(doc, dict):
        raise _refuse(f"{file}: a rule set is a JSON object with {', '.join(FIELDS)}")
    doc.pop("$comment", None)
    if name is not None:
        doc["ruleset"] = name
    if version is not None:
        doc["version"] = version
    unknown = sorted(set(doc) - set(FIELDS))
    missing = [f for f in FIELDS if f not in doc]
    if missing:
        raise _refuse(f"{file}: missing {', '.join(missing)} (a rule set has {', '.join(FIELDS)})")
    if unknown:
        raise _refuse(f"{file}: unknown field(s) {', '.join(unknown)} (a rule set has {', '.join(FIELDS)})")
    return doc


@app.command("publish")
def publish(
    file: Annotated[
        str,
        typer.Argument(
            help="Rule set JSON file (applies_to: petition, kindergarten, housing or ballot), or a shipped statute's "
            "name (kyiv, sumy, hradyzk, kindergarten-example, housing-example, budget-example)"
        ),
    ],
    name: Annotated[str | None, typer.Option("--name", help="Publish under this name instead of the file's")] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Publish as this version instead of the file's")
    ] = None,
    service: Annotated[
        str, typer.Option("--service", help="The rules:admin service that publishes (the event's actor)")
    ] = "city.legal",
    data_dir: DataDir = None,
) -> None:
    """Publish a version of a rule set (`ruleset.published`). A version is published once; a change is the next."""
    from domain.errors import DomainError, MissingScope, ServiceNotRegistered, ServiceRevoked
    from domain.identity import Actor

    doc = read_rule_set(file, name, version)
    with open_ledger(settings(data_dir), existing=True) as ledger:
        app_: Any = ledger.app
        try:
            ref = app_.publish_rule_set(by=Actor.service(service), **doc, at=datetime.now(UTC))
        except (ServiceNotRegistered, MissingScope, ServiceRevoked) as e:
            raise _refuse(
                f"{e.message}: {service!r} must be a registered service holding rules:admin "
                f"(`hromada service add {service} --scope rules:admin`, or --service)"
            ) from e
        except DomainError as e:
            raise _refuse(f"{e.message} {json.dumps(e.evidence, ensure_ascii=False)}") from e
    typer.echo(f"published {ref['name']} version {ref['version']} (by {service})")


@app.command("list")
def list_rule_sets(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per rule set")] = False,
    data_dir: DataDir = None,
) -> None:
    """Every published rule set, latest version of each (as GET /v1/rule-sets)."""
    s = settings(data_dir)
    with open_ledger(s, existing=True) as ledger:
        app_: Any = ledger.app
        latest = sorted(app_.projections.rule_sets.items())
        views = [app_.get_rule_set(n, v).as_dict() for n, v in latest]
    if as_json:
        for v in views:
            typer.echo(json.dumps(v, ensure_ascii=False, sort_keys=True))
        return
    if not views:
        typer.echo("no rule sets published (`hromada rules publish FILE`)")
    for v in views:
        typer.echo(f"{v['ruleset']}  v{v['version']}  {v['applies_to']}  {v['published_at']}  {v['source']}")
