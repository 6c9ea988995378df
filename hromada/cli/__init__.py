"""`hromada`: run and operate one ledger. Settings come from HROMADA_* environment variables
(hromada/settings.py); `--data-dir` overrides HROMADA_DATA_DIR.

One module per command group: log.py (init, checkpoint, integrate, log, export), serve.py, demo.py, service.py
(service, dev-token), rules.py (rules), erase.py (erase), keys.py (keys), hints.py (audit-command, the demo's closing
lines), anchor.py (anchor), backup.py (backup, restore), witness.py (witness), trustee.py (trustee)."""

from __future__ import annotations

import sys

import typer

from hromada.cli import anchor, backup, clock, demo, erase, hints, keys, log, rules, serve, service, trustee, witness

app = typer.Typer(
    help="Hromada Ledger: an event-sourced, Merkle-logged, chain-anchored ledger for city petitions, "
    "votes and queues. Settings come from HROMADA_* environment variables.",
    no_args_is_help=True,
)
app.add_typer(log.log_app, name="log")
app.add_typer(anchor.app, name="anchor")
app.add_typer(service.service_app, name="service")
app.add_typer(rules.app, name="rules")
app.add_typer(keys.app, name="keys")
app.add_typer(witness.app, name="witness")
app.add_typer(trustee.app, name="trustee")
app.command("dev-token")(service.dev_token)
app.command()(log.init)
app.command()(log.checkpoint)
app.command()(log.integrate)
app.command()(demo.demo)
app.command("audit-command")(hints.audit_command)
app.command()(log.export)
app.command()(serve.serve)
app.command()(clock.tick)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(erase.erase)


def main() -> None:  # pragma: no cover
    sys.exit(app())
