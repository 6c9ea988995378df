"""Log order across processes (ledger/db/order.py): a writer beside another on the same database (an operator's CLI
command beside `hromada serve`) never makes event times go backwards in commit order, on SQLite and PostgreSQL.

Each "process" is its own Ledger on the same database: its own recorder, sequencer and (for the server) group
committer. The race is made deterministic by holding the server's first transaction between the decision and the
insert, committing the other writer's later event meanwhile, then letting it go."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.identity import Actor
from domain.sequencing import DecideAgain
from ledger.config import Settings
from ledger.groupcommit import GroupCommitter
from ledger.groupcommit import install as install_group_commit
from ledger.runtime import Ledger
from verifier.envelope import SequenceChecker

ORIGIN = "test.hromada.local/order"
OPERATOR = Actor.system("operator")
T = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def s(n: float) -> datetime:
    return T + timedelta(seconds=n)


@pytest.fixture
def open_ledger(database_url: str, tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    """Open one more "process" on the test's database (all share its data directory, so its keys)."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger = Ledger(Settings(data_dir=tmp_path, database_url=database_url, origin=ORIGIN)).__enter__()
        opened.append(ledger)
        return ledger

    yield make
    for ledger in reversed(opened):
        ledger.__exit__(None, None, None)


def envelopes(ledger: Ledger) -> list[dict[str, Any]]:
    return [json.loads(n.state) for n in ledger.app.recorder.select_notifications(1, 10**6)]


def order_problems(ledger: Ledger) -> list[str]:
    """What the verifier's order checks find in the log (``time_backwards``, version gaps)."""
    checker = SequenceChecker()
    return [p.code for i, e in enumerate(envelopes(ledger)) for p in checker.check(i, e)]


def of_service(ledger: Ledger, service: str) -> list[tuple[str, str]]:
    return [(e["type"], e["time"]) for e in envelopes(ledger) if e["data"].get("service") == service]


class Held:
    """Holds the committer's first transaction after its writes were decided and before it inserts them, until
    ``release``; later transactions pass."""

    def __init__(self, committer: GroupCommitter) -> None:
        self.real = committer.insert
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        committer.insert = self  # type: ignore[method-assign]

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            self.reached.set()
            assert self.release.wait(30)
        return self.real(*args)


def queued(ledger: Ledger, command: Callable[[], Any]) -> tuple[threading.Thread, threading.Event, list[Any]]:
    """Run ``command`` on a thread; the event is set once its decision handed over (its write queued)."""
    decided = threading.Event()
    outcome: list[Any] = []
    sequencer = ledger.app.sequencer  # type: ignore[attr-defined]

    def run() -> None:
        sequencer.on_hand_over(decided.set)
        try:
            outcome.append(command())
        except BaseException as e:
            outcome.append(e)
        finally:
            sequencer.on_hand_over(None)
            decided.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, decided, outcome


def test_a_batch_decided_before_another_processs_later_event_is_decided_again(
    open_ledger: Callable[[], Ledger],
) -> None:
    server = open_ledger()
    app: Any = server.app
    app.register_service(by=OPERATOR, service="svc.a", name="A", scopes=["petition:*"], at=s(0))
    app.register_service(by=OPERATOR, service="svc.b", name="B", scopes=["petition:*"], at=s(0))
    cli = open_ledger()  # `hromada service add` opens its own ledger: its sequencer starts at the log's last time
    committer = install_group_commit(app, max_batch=64)
    held = Held(committer)
    try:
        # the server decides three writes: a creation (held in its transaction), a re-scoping and a revocation
        # (queued behind it): times 1 s, 2 s, 3 s
        first = queued(
            server, lambda: app.register_service(by=OPERATOR, service="svc.new", name="N", scopes=[], at=s(1))
        )
        assert held.reached.wait(30)
        rescope = lambda: app.change_service_scopes(by=OPERATOR, service="svc.a", scopes=["ballot:open"], at=s(2))  # noqa: E731
        revoke = lambda: app.revoke_service(by=OPERATOR, service="svc.b", reason="gone", at=s(3))  # noqa: E731
        rest = [queued(server, rescope), queued(server, revoke)]
        for _, decided, _ in rest:
            assert decided.wait(30)
        # meanwhile the CLI commits a later event from its own process
        cli.app.register_service(by=OPERATOR, service="cli.svc", name="C", scopes=[], at=s(10))  # type: ignore[attr-defined]
        held.release.set()
        for thread, _, outcome in [first, *rest]:
            thread.join(30)
            assert not isinstance(outcome[0], BaseException), outcome
    finally:
        held.release.set()
        committer.stop()
    assert order_problems(server) == []  # no time_backwards: the held writes were decided again, after the CLI's
    foreign = of_service(server, "cli.svc")
    assert len(foreign) == 1
    # nothing lost, nothing twice: each of the server's writes is in the log once, not before the CLI's event
    written = [
        *of_service(server, "svc.new"),
        *[e for e in of_service(server, "svc.a") if e[0] == "service.scopes_changed"],
        *[e for e in of_service(server, "svc.b") if e[0] == "service.revoked"],
    ]
    assert [t for t, _ in written] == ["service.registered", "service.scopes_changed", "service.revoked"]
    assert all(time >= foreign[0][1] for _, time in written)
    assert app.get_service("svc.a").state["scopes"] == ["ballot:open"] and app.get_service("svc.b").revoked
    assert app.sequencer.last >= s(10)  # the server's clock moved past the CLI's event


def test_a_single_write_beside_another_process_decides_no_earlier_than_the_last_stored_event(
    open_ledger: Callable[[], Ledger],
) -> None:
    """The CLI's own write (no group commit): its decision is checked, under the write lock, against the last
    stored event; one decided before it is decided again at that event's time. Both ways round: CLI after server,
    and server (without group commit) after CLI."""
    server = open_ledger()
    app: Any = server.app
    app.register_service(by=OPERATOR, service="svc.a", name="A", scopes=["petition:*"], at=s(0))
    cli = open_ledger()
    cli_app: Any = cli.app
    app.change_service_scopes(by=OPERATOR, service="svc.a", scopes=["ballot:open"], at=s(20))  # after the CLI opened
    cli_app.register_service(by=OPERATOR, service="cli.svc", name="C", scopes=[], at=s(5))  # its clock: 15 s behind
    assert of_service(server, "cli.svc") == [("service.registered", of_service(server, "svc.a")[-1][1])]
    assert cli_app.sequencer.last == s(20)
    cli_app.revoke_service(by=OPERATOR, service="svc.a", reason="gone", at=s(30))
    app.register_service(by=OPERATOR, service="svc.late", name="L", scopes=[], at=s(25))  # the server, 5 s behind
    assert of_service(server, "svc.late")[0][1] == of_service(server, "svc.a")[-1][1]
    assert order_problems(server) == []


def test_a_write_of_an_aggregate_another_process_changed_is_decided_on_its_new_state(
    open_ledger: Callable[[], Ledger],
) -> None:
    """A refused write is decided again on fresh state: the CLI revoked the service meanwhile, so the server's
    re-scoping held in its transaction is then refused by the domain (revoked), not written after the revocation."""
    server = open_ledger()
    app: Any = server.app
    app.register_service(by=OPERATOR, service="svc.a", name="A", scopes=["petition:*"], at=s(0))
    cli = open_ledger()
    committer = install_group_commit(app, max_batch=64)
    held = Held(committer)
    try:
        thread, _, outcome = queued(
            server, lambda: app.change_service_scopes(by=OPERATOR, service="svc.a", scopes=["ballot:open"], at=s(1))
        )
        assert held.reached.wait(30)
        cli.app.revoke_service(by=OPERATOR, service="svc.a", reason="compromised", at=s(2))  # type: ignore[attr-defined]
        held.release.set()
        thread.join(30)
    finally:
        held.release.set()
        committer.stop()
    assert type(outcome[0]).__name__ == "ServiceRevoked"
    assert [t for t, _ in of_service(server, "svc.a")] == ["service.registered", "service.revoked"]
    assert order_problems(server) == []


def test_decide_again_is_not_an_integrity_error() -> None:
    """Commands turn the store's IntegrityError into domain errors (already registered, already signed): a
    refusal for order must never be mistaken for one."""
    from eventsourcing.persistence import IntegrityError

    assert not issubclass(DecideAgain, IntegrityError)
