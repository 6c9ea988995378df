"""Helpers for write endpoints: run a domain command, capture what it stored, answer with the event refs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from api import capture
from api.models import EventRef, event_refs
from api.state import ApiState

T = TypeVar("T")


def command(state: ApiState, fn: Callable[[], T]) -> tuple[T, list[EventRef]]:
    """Run `fn` (a CityApp command); return its result and the events it stored."""
    with capture.capture() as stored:
        result = fn()
        refs = event_refs(state.app, stored)  # inside: reuses the bytes the save stored
    for e in stored:
        state.metrics.wrote(type(e).TYPE)
    return result, refs


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
