"""A tiny aggregate with public event types, for ledger tests that must not depend on the city domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

SYSTEM = {"kind": "system", "id": "test"}


class Note(Aggregate):
    class Created(Aggregate.Created):
        TYPE: ClassVar[str] = "test.note_created"
        actor: dict[str, str]
        text: str

    class Edited(Aggregate.Event):
        TYPE: ClassVar[str] = "test.note_edited"
        actor: dict[str, str]
        text: str

        def apply(self, aggregate: Any) -> None:
            aggregate.text = self.text

    def __init__(self, actor: dict[str, str], text: str) -> None:
        self.text = text

    def edit(self, text: str, actor: dict[str, str] = SYSTEM, at: datetime | None = None) -> None:
        self.trigger_event(self.Edited, actor=actor, text=text, timestamp=at)


class NotesApp(Application[Any]):
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {Note: 50}

    def write(self, text: str) -> Note:
        note = Note(actor=SYSTEM, text=text)
        self.save(note)
        return note
