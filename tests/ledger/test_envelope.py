"""The public event envelope: golden bytes, validation, and the database row being the leaf."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.kinds import KINDS
from ledger.app import open_application
from ledger.envelope import (
    FORMAT_VERSION,
    MAX_ENVELOPE_BYTES,
    PREFIX_FORMATS,
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


def golden_envelope(format_version: int = 1) -> dict[str, object]:
    return build_envelope(
        origin="kyiv.hromada.example/ledger",
        stream=STREAM,
        version=3,
        event_type="petition.signed",
        time=AT,
        actor={"kind": "citizen", "id": "ps:1:9f2c"},
        data={"petition_id": str(STREAM), "signer": "ps:1:9f2c", "method": "bankid", "note": 'Київ ✓ "q"\n'},
        format_version=format_version,
    )


def kindergarten_envelope(format_version: int) -> dict[str, object]:
    """One offer, as format 1 (``queue.offer_issued``) and format 2 (``kindergarten.offer_issued``) write it."""
    prefix = "queue" if format_version == 1 else "kindergarten"
    return build_envelope(
        origin="kyiv.hromada.example/ledger",
        stream=STREAM,
        version=7,
        event_type=f"{prefix}.offer_issued",
        time=AT,
        actor={"kind": "service", "id": "education"},
        data={
            "offer": "o-1",
            "entry": "e-1",
            "institution": "k1",
            "birth_year": 2023,
            "place": "p-1",
            "expires_at": "2026-11-30T12:00:00.123456Z",
        },
        format_version=format_version,
    )


def check_golden(raw: bytes, name: str) -> None:
    assert raw == (GOLDEN / f"{name}.jcs").read_bytes()
    leaf = hashlib.sha256(b"\x00" + raw).hexdigest()
    assert leaf == (GOLDEN / f"{name}.leaf").read_text().strip()


def test_golden_envelope_bytes_and_leaf_hash() -> None:
    """Format 1 (the goldens of logs written before the kindergarten rename) and format 2 (written now)."""
    check_golden(canonical_bytes(golden_envelope(1)), "envelope_petition_signed")
    check_golden(canonical_bytes(golden_envelope(2)), "envelope_v2_petition_signed")
    check_golden(canonical_bytes(kindergarten_envelope(2)), "envelope_v2_kindergarten_offer_issued")
    check_golden(canonical_bytes(kindergarten_envelope(1)), "envelope_v1_queue_offer_issued")


def test_new_envelopes_are_format_2() -> None:
    assert FORMAT_VERSION == 2
    env = build_envelope(
        origin="o", stream=STREAM, version=1, event_type="petition.signed", time=AT, actor=SYSTEM, data={}
    )
    assert env["format"] == 2


@pytest.mark.parametrize(
    ("event_type", "format_version"),
    [("queue.offer_issued", 2), ("kindergarten.offer_issued", 1), ("petition.signed", 3), ("petition.signed", 0)],
)
def test_a_type_outside_its_format_is_refused(event_type: str, format_version: int) -> None:
    """The verifier's ``type_prefix_format`` and ``format_version``, refused before anything is written."""
    with pytest.raises(EnvelopeError) as e:
        build_envelope(
            origin="o",
            stream=STREAM,
            version=1,
            event_type=event_type,
            time=AT,
            actor=SYSTEM,
            data={},
            format_version=format_version,
        )
    assert e.value.event_type == event_type


def test_prefix_formats_follow_the_domain_registry() -> None:
    legacy = {p for k in KINDS for p in k.legacy_prefixes}
    assert legacy == {"queue"}
    assert {p for p, f in PREFIX_FORMATS.items() if f == {1}} == legacy
    assert PREFIX_FORMATS["kindergarten"] == {2}


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
