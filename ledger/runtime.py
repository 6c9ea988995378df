"""One ledger: settings, database, event store application, integrator, checkpointer and their worker."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import Engine, select

from ledger.app import ensure_event_tables, events_table_for, events_table_name, open_application
from ledger.checkpoints import Checkpoint, Checkpointer, latest_checkpoint
from ledger.config import Settings
from ledger.db.engine import make_engine
from ledger.db.migrate import upgrade
from ledger.envelope import parse_time
from ledger.errors import ConfigurationError
from ledger.export import iter_entries
from ledger.integrator import Integrator, read_state
from ledger.keychain import Handover, KeyRotationError, refuse_retired, rotate
from ledger.keys import LogSigner, install_signer, load_or_create_signer
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tree import TreeReader
from ledger.receipts import AnchorLookup
from ledger.secrets import pseudonym_keys, vault_master_key
from ledger.vault import SqlKeyValueStore
from ledger.watch import Watch
from ledger.watchstate import WatchStatus, read_status

log = logging.getLogger("hromada.ledger")

RULES_VERSION = "hromada-rules/1"


@dataclass(frozen=True)
class LogStatus:
    origin: str
    tree_size: int
    root: bytes
    checkpoint: Checkpoint | None
    pending_events: int
    lag_seconds: float | None
    verifier_key: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "checkpoint_size": self.checkpoint.tree_size if self.checkpoint else None,
            "checkpoint_at": self.checkpoint.created_at if self.checkpoint else None,
            "pending_events": self.pending_events,
            "lag_seconds": self.lag_seconds,
            "verifier_key": self.verifier_key,
        }


def _city_app_cls() -> type[Application[Any]]:
    from domain.app import CityApp

    return CityApp


class Ledger:
    """Everything one log needs, opened from settings. Use as a context manager or call close()."""

    def __init__(self, settings: Settings, app_cls: type[Application[Any]] | None = None) -> None:
        self.settings = settings
        self.signer: LogSigner = load_or_create_signer(settings)
        url = settings.resolved_database_url()
        self.engine: Engine = make_engine(url)
        upgrade(self.engine)
        with self.engine.connect() as conn:
            try:
                refuse_retired(conn, self.signer)  # a key a hand-over retired must not even start (ledger.keychain)
            except KeyRotationError as e:
                self.engine.dispose()
                raise ConfigurationError(str(e)) from e
        self.vault_store: SqlKeyValueStore | None = None
        self._url = url
        self._app_cls = app_cls
        self._app: Application[Any] | None = None
        cls = app_cls or _city_app_cls()
        ensure_event_tables(cls.name, url)
        self.integrator = Integrator(
            self.engine, origin=settings.origin, events_table=events_table_for(cls), batch=settings.integrate_batch
        )
        self.checkpointer = Checkpointer(
            self.engine,
            self.signer,
            every_events=settings.checkpoint_every_events,
            every_seconds=settings.checkpoint_every_seconds,
        )
        self.watch = Watch(self.engine, events=self.integrator.events, origin=settings.origin)
        # Set by the composition root (the CLI) when anchoring is available; receipts use it.
        self.anchor_lookup: AnchorLookup | None = None
        self._last_finding: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    @property
    def app(self) -> Application[Any]:
        """The event-sourced application, opened on first use (the city app rebuilds its in-process
        projections from the whole log when it opens; reading the log needs none of that)."""
        if self._app is None:
            if self._app_cls is None:
                self._app = self._open_city_app(self.settings, self._url)
            else:
                self._app = open_application(self._app_cls, database_url=self._url, origin=self.settings.origin)
            if events_table_name(self._app) != self.integrator.events.name:  # pragma: no cover - library change
                raise RuntimeError(f"application stores events in {events_table_name(self._app)}")
        return self._app

    def _open_city_app(self, settings: Settings, url: str) -> Application[Any]:
        from domain.app import CityApp
        from domain.identity import Pseudonymizer
        from domain.pii import PersonalDataVault

        self.vault_store = SqlKeyValueStore.open(settings.resolved_vault_url())
        return open_application(
            CityApp,
            database_url=url,
            origin=settings.origin,
            pseudonymizer=Pseudonymizer.from_text(pseudonym_keys(settings)),
            vault=PersonalDataVault(self.vault_store, vault_master_key(settings)),
        )

    # -- work ---------------------------------------------------------------------------------------
    def rotate_key(self, new: LogSigner) -> tuple[Handover, Path | None]:
        """Hand the log over to the signing key ``new`` (ledger.keychain): integrate and sign a checkpoint at the
        current size with the current key, sign the hand-over with both keys, then sign with ``new`` only. Returns
        the hand-over and the key file the next start reads (None: HROMADA_LOG_KEY must be pointed at ``new``)."""
        self.integrate_and_checkpoint()
        handover = rotate(self.engine, self.signer, new)
        old, self.signer = self.signer, new
        self.checkpointer.signer = new
        try:
            return handover, install_signer(self.settings, old, new)
        except OSError as e:  # the hand-over is signed and stored: only the key file for the next start is missing
            raise ConfigurationError(
                f"the key was rotated (hand-over at tree size {handover.tree_size}) but the new key could not be "
                f"installed as {self.settings.data_dir / 'log.key'}: {e}; copy the new key file there (mode 0600) "
                "or set HROMADA_LOG_KEY to it before the next start"
            ) from e

    def integrate_and_checkpoint(self) -> Checkpoint | None:
        """Integrate everything committed so far and sign a checkpoint if the tree grew."""
        self.integrator.integrate_all()
        return self.checkpointer.checkpoint()

    def step(self) -> int:
        """One round of the background worker: integrate a batch, sign if the policy says so."""
        n = self.integrator.integrate_once()
        self.checkpointer.maybe_checkpoint()
        return n

    def start_worker(self, idle_sleep: float = 0.05) -> None:
        """Integrate and checkpoint in a background thread. A round that did not fill a batch is followed by
        `idle_sleep`: under a steady trickle of writes, rounds of a few leaves each would pay the per-round cost
        (state row, partial tiles rewritten, checkpoint policy) per leaf; waiting lets a round collect more
        leaves at the price of at most `idle_sleep` extra integration lag."""

        next_watch = 0.0  # the first round checks at once (the start re-checks the log from leaf 0)
        try:
            self.checkpointer.sign_empty()  # a new log answers /checkpoint from its first second
        except Exception:
            log.exception("could not sign the empty log's checkpoint; the first checkpoint will come with events")

        def loop() -> None:
            nonlocal next_watch
            while not self._stop.is_set():
                try:
                    if time.monotonic() >= next_watch:
                        self.watch_round()
                        next_watch = time.monotonic() + self.settings.self_audit_every_seconds
                    if self.step() < self.integrator.batch:
                        self._stop.wait(idle_sleep)
                except Exception:  # keep serving; the error is logged and retried
                    log.exception("integrator/checkpointer round failed; retrying")
                    self._stop.wait(1.0)

        self._worker = threading.Thread(target=loop, name="hromada-integrator", daemon=True)
        self._worker.start()

    def watch_round(self) -> WatchStatus:
        """One self-audit round (ledger/watch.py); a new finding is logged once."""
        status = self.watch.round()
        if not status.ok and status.finding != self._last_finding:
            log.error("self-audit: the store was changed: %s; nothing is signed until a clean pass", status.finding)
        self._last_finding = status.finding
        return status

    def self_audit_status(self) -> WatchStatus | None:
        with self.engine.connect() as conn:
            return read_status(conn, self.settings.origin)

    def stop_worker(self) -> None:
        self._stop.set()
        if self._worker:
            self._worker.join(timeout=10)

    # -- reading ------------------------------------------------------------------------------------
    def status(self) -> LogStatus:
        events = self.integrator.events
        with self.engine.connect() as conn:
            st = read_state(conn, self.settings.origin)
            root = TreeReader(SqlTileStore(conn), st.tree_size).root()
            cp = latest_checkpoint(conn)
            pending = self.integrator.pending_in(conn, st)
            oldest = conn.execute(
                select(events.c.state).where(events.c.id > st.notification_id).order_by(events.c.id).limit(1)
            ).first()
        lag = None
        if oldest is not None:
            try:
                t = parse_time(json.loads(bytes(oldest[0]))["time"])
                lag = max(0.0, (datetime.now(UTC) - t).total_seconds())
            except (ValueError, KeyError):
                lag = None
        return LogStatus(self.settings.origin, st.tree_size, root, cp, int(pending), lag, self.signer.verifier_key)

    def rule_sets(self) -> dict[str, Any]:
        """What a bundle's log.json says about the rules: their version (parameters are frozen in each
        petition's, ballot's and queue's opening event, so the log itself carries them)."""
        return {"rules": RULES_VERSION, "parameters": "frozen in each opening event (docs/domain.md)"}

    def published_state(self, tree_size: int) -> dict[str, Any]:
        """The public state (counts, statuses, tallies, queue orders) after the first `tree_size` leaves,
        folded by the domain's projections from the stored envelopes exactly as published."""
        from domain.projections import EventRecord, Projections

        projections = Projections()
        with self.engine.connect() as conn:
            for entry in iter_entries(conn, self.integrator.events, tree_size):
                e = json.loads(entry)
                projections.apply(EventRecord(e["type"], e["stream"], e["version"], e["time"], e["actor"], e["data"]))
        return projections.public_state()

    def close(self) -> None:
        self.stop_worker()
        if self._app is not None:
            self._app.close()
        self.engine.dispose()
        if self.vault_store is not None:
            self.vault_store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
