"""The public event envelope: golden bytes, validation, and the database row being the leaf."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from ledger.app import open_application
from ledger.envelope import (
    MAX_ENVELOPE_BYTES,
    build_envelope,
    canonical_bytes,
    event_id,
    format_time,
    parse_time,
)
from ledger.errors import EnvelopeError
from tests.ledger.sample import SYSTEM, Note, NotesApp

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
STREAM = UUID("7b0bd0f4-2b6f-4f58-9a57-6b0a1e0c1f00")
AT = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)


def golden_envelope() -> dict[str, object]:
    return build_envelope(
        origin="kyiv.hromada.example/ledger",
        stream=STREAM,
        version=3,
        event_type="petition.signed",
        time=AT,
        actor={"kind": "citizen", "id": "ps:1:9f2c"},
        data={"petition_id": str(STREAM), "signer": "ps:1:9f2c", "method": "bankid", "note": 'Київ ✓ "q"\n'},
    )


def test_golden_envelope_bytes_and_leaf_hash() -> None:
    raw = canonical_bytes(golden_envelope())
    assert raw == (GOLDEN / "envelope_petition_signed.jcs").read_bytes()
    leaf = hashlib.sha256(b"\x00" + raw).hexdigest()
    assert leaf == (GOLDEN / "envelope_petition_signed.leaf").read_text().strip()


def test_event_id_is_uuid5_of_stream_and_version() -> None:
    assert golden_envelope()["id"] == str(event_id(STREAM, 3)) == "0212bc17-da18-5e3b-98da-27043266defd"
    assert str(event_id(STREAM, 4)) != str(event_id(STREAM, 3))


def test_time_round_trip_and_naive_rejected() -> None:
    assert format_time(AT) == "2026-11-23T12:00:00.123456Z"
    assert parse_time(format_time(AT)) == AT
    with pytest.raises(EnvelopeError):
        format_time(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "data",
    [{"x": 1.5}, {"x": {"y": [1, 2.0]}}, {"x": datetime.now(UTC)}, {"x": UUID(int=1)}, {"x": 2**53}, {1: "a"}],
)
def test_non_json_native_data_rejected(data: dict[object, object]) -> None:
    with pytest.raises(EnvelopeError):
        build_envelope(
            origin="o",
            stream=STREAM,
            version=1,
            event_type="t.x",
            time=AT,
            actor=SYSTEM,
            data=data,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("actor", [{}, {"kind": "mayor", "id": "x"}, {"kind": "citizen"}, {"kind": "citizen", "id": 5}])
def test_bad_actor_rejected(actor: dict[str, object]) -> None:
    with pytest.raises(EnvelopeError):
        build_envelope(origin="o", stream=STREAM, version=1, event_type="t.x", time=AT, actor=actor, data={})


def test_stored_state_is_the_canonical_envelope(database_url: str) -> None:
    app = open_application(NotesApp, database_url=database_url, origin="test.local/log")
    try:
        note = Note(actor=SYSTEM, text="перша")
        note.edit("друга", at=AT)
        app.save(note)
        rows = app.recorder.select_notifications(start=1, limit=10)
        assert [r.originator_version for r in rows] == [1, 2]
        second = rows[1].state
        assert second == canonical_bytes(
            build_envelope(
                origin="test.local/log",
                stream=note.id,
                version=2,
                event_type="test.note_edited",
                time=AT,
                actor=SYSTEM,
                data={"text": "друга"},
            )
        )
        again = app.repository.get(note.id)
        assert again.text == "друга" and again.version == 2
    finally:
        app.close()


def test_oversized_event_is_refused_and_nothing_written(database_url: str) -> None:
    app = open_application(NotesApp, database_url=database_url, origin="test.local/log")
    try:
        note = Note(actor=SYSTEM, text="x" * MAX_ENVELOPE_BYTES)
        with pytest.raises(EnvelopeError):
            app.save(note)
        assert app.recorder.select_notifications(start=1, limit=10) == []
    finally:
        app.close()
