"""Which events did this request write? A thin wrapper around the application's `save` records, per thread,
the domain events each successful save stored, so a write can answer with its event ids and leaf hashes
(docs/formats.md §1: leaf hash = SHA-256(0x00 ‖ the stored JCS bytes))."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from ledger.envelope import event_id

_local = threading.local()
_INSTALLED = "_hromada_api_capture"


def install(app: Any) -> None:
    """Wrap `app.save` (idempotent). The wrapper only observes; the save itself is unchanged. While a capture
    is open, the mapper's output is kept too, so the answer's leaf hashes reuse the bytes the save stored
    instead of canonicalising every event a second time."""
    if getattr(app, _INSTALLED, False):
        return
    original = app.save
    mapper = app.mapper
    to_stored = mapper.to_stored_event

    def save(*objs: Any, **kwargs: Any) -> Any:
        events = [e for o in objs if o is not None for e in getattr(o, "pending_events", ())]
        result = original(*objs, **kwargs)
        sink: list[Any] | None = getattr(_local, "sink", None)
        if sink is not None:
            sink.extend(events)
        return result

    def to_stored_event(event: Any) -> Any:
        stored = to_stored(event)
        seen: dict[int, tuple[Any, Any]] | None = getattr(_local, "stored", None)
        if seen is not None:
            seen[id(event)] = (event, stored)  # the event is kept alive with its id for the capture's lifetime
        return stored

    app.save = save
    mapper.to_stored_event = to_stored_event
    setattr(app, _INSTALLED, True)


@contextmanager
def capture() -> Iterator[list[Any]]:
    previous = getattr(_local, "sink", None), getattr(_local, "stored", None)
    sink: list[Any] = []
    _local.sink = sink
    _local.stored = {}
    try:
        yield sink
    finally:
        _local.sink, _local.stored = previous


def describe(app: Any, event: Any) -> dict[str, Any]:
    """Public facts of a stored domain event: id, type, stream, version and leaf hash."""
    seen: dict[int, tuple[Any, Any]] | None = getattr(_local, "stored", None)
    found = seen.get(id(event)) if seen is not None else None
    stored = found[1] if found is not None and found[0] is event else app.mapper.to_stored_event(event)
    stream = event.originator_id if isinstance(event.originator_id, UUID) else UUID(str(event.originator_id))
    return {
        "id": str(event_id(stream, event.originator_version)),
        "type": type(event).TYPE,
        "stream": str(stream),
        "version": int(event.originator_version),
        "leaf_hash": hashlib.sha256(b"\x00" + bytes(stored.state)).hexdigest(),
    }
