"""api.capture: a write answers with the leaf hashes of the bytes its save stored, mapped once."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from api import capture


class Event:
    TYPE = "test.happened"

    def __init__(self, n: int) -> None:
        self.originator_id = UUID(int=n)
        self.originator_version = 1


class Aggregate:
    def __init__(self, *events: Event) -> None:
        self.pending_events = list(events)


def fake_app() -> Any:
    calls: list[Event] = []

    def to_stored_event(e: Event) -> Any:
        calls.append(e)
        return SimpleNamespace(state=f"stored-{e.originator_id.int}".encode())

    app = SimpleNamespace(mapper=SimpleNamespace(to_stored_event=to_stored_event), calls=calls)

    def save(*aggregates: Aggregate) -> None:
        for a in aggregates:
            for e in a.pending_events:
                app.mapper.to_stored_event(e)  # what the event store does

    app.save = save
    return app


def test_describe_inside_a_capture_reuses_what_the_save_mapped() -> None:
    app = fake_app()
    capture.install(app)
    capture.install(app)  # idempotent: one wrapper
    e1, e2 = Event(1), Event(2)
    with capture.capture() as stored:
        app.save(Aggregate(e1, e2))
        facts = [capture.describe(app, e) for e in stored]
    assert stored == [e1, e2] and app.calls == [e1, e2]  # mapped once each, by the save
    assert facts[0]["leaf_hash"] == hashlib.sha256(b"\x00stored-1").hexdigest()
    assert facts[1]["id"] and facts[1]["version"] == 1


def test_describe_outside_a_capture_maps_again() -> None:
    app = fake_app()
    capture.install(app)
    e = Event(3)
    with capture.capture():
        app.save(Aggregate(e))
    assert capture.describe(app, e)["leaf_hash"] == hashlib.sha256(b"\x00stored-3").hexdigest()
    assert app.calls == [e, e]
