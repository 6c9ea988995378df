"""Open an eventsourcing application on the ledger's database with the envelope mapper."""

from __future__ import annotations

from typing import Any, TypeVar

from eventsourcing.application import Application

from domain.sequencing import Sequencer
from ledger.db.order import WriteOrder
from ledger.envelope import EnvelopeMapper

TApp = TypeVar("TApp", bound=Application[Any])


def persistence_env(database_url: str) -> dict[str, str]:
    """The eventsourcing environment for a ledger application on `database_url` (SQLite or PostgreSQL)."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return {
        "PERSISTENCE_MODULE": "ledger.db.recorder:LedgerFactory",
        "SQLALCHEMY_URL": database_url,
        "CREATE_TABLE": "y",
        "MAPPER_TOPIC": "ledger.envelope:EnvelopeMapper",
    }


def open_application(
    app_cls: type[TApp],
    *,
    database_url: str,
    origin: str,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> TApp:
    """Construct `app_cls` persisted in `database_url`, storing public events as JCS envelopes of `origin`.
    `kwargs` go to the application's constructor. An application with a writer's sequencer (domain/sequencing.py)
    has its recorder check each write against the events other processes committed (ledger/db/order.py): by the
    time of the decision the writing thread holds, moving the sequencer past such events."""
    app = app_cls(env={**persistence_env(database_url), **(env or {})}, **kwargs)
    mapper = app.mapper
    if not isinstance(mapper, EnvelopeMapper):  # pragma: no cover - guards a library behaviour change
        raise TypeError(f"expected EnvelopeMapper, got {type(mapper).__name__}")
    mapper.origin = origin
    order = getattr(app.recorder, "order", None)
    sequencer = getattr(app, "sequencer", None)
    if isinstance(order, WriteOrder) and isinstance(sequencer, Sequencer):
        order.decided = sequencer.decided_at
        order.advance = sequencer.advance
    return app


def events_table_name(app: Application[Any]) -> str:
    """Name of the table eventsourcing-sqlalchemy stores the application's events in."""
    return f"{app.name.lower()}_events"


def ensure_event_tables(app_name: str, database_url: str) -> None:
    """Create the event tables of application `app_name` (what constructing the application would do),
    without constructing it: operator commands that only read the log need no domain state."""
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    factory = InfrastructureFactory.construct(Environment(app_name, persistence_env(database_url)))
    try:
        factory.application_recorder()
    finally:
        factory.close()


def events_table_for(app_cls: type[Application[Any]]) -> str:
    """Table name of an application class's events (eventsourcing names it after the application)."""
    return f"{app_cls.name.lower()}_events"
