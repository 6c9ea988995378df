"""`hromada erase SUBJECT --reason CODE`: crypto-shred a vault subject's personal data, recorded in the log.

hromada erase kindergarten.<entry id> --reason subject_request

The command runs the domain's `erase_personal_data` (the API's `POST /v1/erasures` runs the same) as the operator
(`{"kind": "system", "id": "operator"}`): `personal_data.erased` is appended, then the subject's data key and records
are destroyed in the vault. The log keeps verifying: it only ever held commitments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from hromada.cli.common import DataDir, open_ledger, settings

REASON_HELP = "subject_request | retention_expired | court_order | unlawful_processing"


def erase(
    subject: Annotated[str, typer.Argument(help="kindergarten.<entry id> or housing.<entry id>")],
    reason: Annotated[str, typer.Option("--reason", help=f"Why, as a code: {REASON_HELP}")],
    data_dir: DataDir = None,
) -> None:
    """Erase a subject's personal data from the vault and record the erasure in the log (final: the data key is
    destroyed; copies in backups become undecryptable once their key rows expire)."""
    from domain.errors import DomainError, RecordNotFound, SubjectErased
    from domain.identity import Actor

    with open_ledger(settings(data_dir), existing=True) as ledger:
        app: Any = ledger.app
        try:
            done = app.erase_personal_data(subject, by=Actor.system("operator"), reason=reason, at=datetime.now(UTC))
        except RecordNotFound as e:
            typer.echo(f"refused: the vault holds no personal data for {subject!r} (check the entry id)", err=True)
            raise typer.Exit(1) from e
        except SubjectErased as e:
            typer.echo(f"refused: the personal data of {subject!r} was already erased", err=True)
            raise typer.Exit(1) from e
        except DomainError as e:
            typer.echo(f"refused: {e.message} {e.evidence}", err=True)
            raise typer.Exit(1) from e
    typer.echo(f"erased {done['subject']} ({done['reason']}) at {done['erased_at']}")
