"""The clock of a running ledger: rounds of :func:`domain.clock.run_due` on the city application.

`hromada serve` runs :class:`ClockThread` (every ``clock_every_seconds``) while it holds the writer lock, so it is
the one process whose clock writes. `hromada tick` runs one round (:func:`tick`) for cron-style deployments: it takes
the same lock first, so a tick beside a running `serve` (whose own clock runs) or beside another tick does nothing
and says so. Either way each deadline is acted on once: the domain's commands decide on the stored state under
optimistic concurrency (domain/clock.py), and a restart rebuilds the deadlines from the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.clock import Fired, run_due
from ledger.errors import WriterBusyError
from ledger.writerlock import WriterLock

log = logging.getLogger("hromada.clock")

Now = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def tick(ledger: Any, now: Now = wall_clock) -> list[Fired] | None:
    """One round under the writer lock; None when another process holds it (its clock runs, or it ticks)."""
    lock = WriterLock(ledger.engine)
    try:
        lock.acquire()
    except WriterBusyError:
        return None
    try:
        return run_due(ledger.app, now())
    finally:
        lock.release()


class ClockThread:
    """Rounds every ``every`` seconds in a daemon thread, on the caller's application (the caller holds the lock)."""

    def __init__(self, app: Any, every: float, now: Now = wall_clock) -> None:
        self.app, self.every, self.now = app, every, now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def round(self) -> list[Fired]:
        fired = run_due(self.app, self.now())
        self.rounds += 1
        for f in fired:
            if f.error:
                log.warning("clock: %s of %s not appended: %s", f.action, f.stream, f.error)
        return fired

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.round()
                except Exception:  # keep serving; logged and retried next round
                    log.exception("clock round failed; retrying")
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=loop, name="hromada-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
