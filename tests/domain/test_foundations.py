"""Event conventions, identity, scopes, commitments, vault and calendar."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from typing import ClassVar

import pytest

import domain.app  # noqa: F401  (imports every aggregate module)
from domain import errors
from domain.base import EVENT_TYPES, LedgerAggregate, check_json_native, parse_rfc3339, require_utc, rfc3339
from domain.calendar import UA_CALENDAR, WorkingCalendar, orthodox_easter
from domain.commitments import commit, verify
from domain.identity import Actor, CitizenIdentity, Pseudonymizer, scope_matches, validate_scope
from domain.kinds import AUTHORISATION
from domain.pii import InMemoryKeyValueStore, PersonalDataVault


def test_every_event_type_is_registered_nested_and_authorised() -> None:
    assert len(EVENT_TYPES) == 45  # 33 + the 9 of encrypted ballots + petition.response_overdue + ruleset.published
    # + personal_data.erased
    for type_, cls in EVENT_TYPES.items():
        assert type_ == cls.TYPE
        head, _, tail = type_.partition(".")
        assert head in {"service", "ruleset", "petition", "ballot", "kindergarten", "housing", "personal_data"} and tail
        assert "." in cls.__qualname__, f"{cls} must be nested in its aggregate"
        fields = {f.name for f in dataclasses.fields(cls)}
        assert "actor" in fields
        assert type_ in AUTHORISATION
    assert set(AUTHORISATION) == set(EVENT_TYPES)


def test_duplicate_event_type_refused() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class Dup(LedgerAggregate):
            class Event(LedgerAggregate.Event):
                pass

            class Again(Event):
                TYPE: ClassVar[str] = "petition.signed"


def test_json_native_check() -> None:
    check_json_native({"a": [1, "x", None, True, {"b": []}]})
    for bad in (1.5, (1,), {1: "x"}, {"a": {1, 2}}, datetime.now(UTC), 2**60):
        with pytest.raises(TypeError):
            check_json_native({"v": bad})


def test_times() -> None:
    kyiv = timezone(timedelta(hours=2))
    at = datetime(2026, 11, 23, 14, 0, 0, 123, tzinfo=kyiv)
    assert rfc3339(at) == "2026-11-23T12:00:00.000123Z"
    assert parse_rfc3339(rfc3339(at)) == at
    with pytest.raises(errors.InvalidInput):
        require_utc(datetime(2026, 1, 1))
    with pytest.raises(errors.InvalidInput):
        parse_rfc3339("2026-11-23T12:00:00+02:00")


def test_actor() -> None:
    assert Actor.service("kyiv.cnap").as_dict() == {"kind": "service", "id": "kyiv.cnap"}
    with pytest.raises(errors.InvalidInput):
        Actor("robot", "x")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        Actor.service("has space")
    with pytest.raises(errors.InvalidInput):
        CitizenIdentity(subject="", method="diia")
    for bad in ("\x00", "diia:1\n", " diia:1", "diia:\u200b1"):
        with pytest.raises(errors.InvalidInput, match="printable"):
            CitizenIdentity(subject=bad, method="diia")
    assert CitizenIdentity(subject="diia:Іван Петренко", method="diia").subject  # inner spaces, Cyrillic: fine
    with pytest.raises(errors.InvalidInput):
        CitizenIdentity(subject="x", method="diia", age=-1)


def test_pseudonyms() -> None:
    p = Pseudonymizer({1: b"a" * 32, 2: b"b" * 32})
    assert p.current == 2
    c1, c2 = p.citizen("diia:1", 1), p.citizen("diia:1", 2)
    assert c1.startswith("cit:v1:") and c2.startswith("cit:v2:") and c1[7:] != c2[7:]
    assert p.citizen("diia:1", 1) == c1 and p.citizen("diia:2", 1) != c1
    assert p.voter("b1", "diia:1") != p.voter("b2", "diia:1")
    assert p.voter("b1", "diia:1")[7:] != p.citizen("diia:1")[7:]
    with pytest.raises(errors.UnknownPseudonymKey):
        p.citizen("x", 3)
    q = Pseudonymizer.from_text(f"1={'aa' * 32},2={'bb' * 32};current=1")
    assert q.current == 1 and q.versions() == [1, 2]
    with pytest.raises(errors.ConfigurationError):
        Pseudonymizer({1: b"short"})
    with pytest.raises(errors.ConfigurationError):
        Pseudonymizer({})
    with pytest.raises(errors.ConfigurationError):
        Pseudonymizer.from_text("1=zz")


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        ("queue:kindergarten:*", "queue:kindergarten:offer", True),
        ("queue:kindergarten:*", "queue:housing:offer", False),
        ("queue:*", "queue:kindergarten:offer", True),
        ("*", "petition:respond", True),
        ("queue:*:offer", "queue:housing:offer", True),
        ("queue:*:offer", "queue:housing:admin", False),
        ("petition:respond", "petition:respond", True),
        ("petition:respond", "petition:respond:extra", False),
        ("petition:respond:extra", "petition:respond", False),
        ("petition", "petition:respond", False),
    ],
)
def test_scope_matching(granted: str, required: str, ok: bool) -> None:
    assert scope_matches(granted, required) is ok


def test_scope_syntax() -> None:
    for bad in ("", "Queue:x", "a::b", "a:b c", "x" * 200):
        with pytest.raises(errors.InvalidScope):
            validate_scope(bad)


def test_commitments() -> None:
    salt = b"s" * 32
    c = commit({"name": "Оля", "n": 1}, salt)
    assert c.startswith("sha256:") and len(c) == 71
    assert verify(c, {"n": 1, "name": "Оля"}, salt)
    assert not verify(c, {"n": 2, "name": "Оля"}, salt)
    assert commit({"name": "Оля", "n": 1}, b"t" * 32) != c
    with pytest.raises(errors.InvalidInput):
        commit({"x": 1.5}, salt)  # type: ignore[dict-item]
    with pytest.raises(errors.InvalidInput):
        commit({"x": "y"}, b"short")


def test_vault_seal_open_erase() -> None:
    store = InMemoryKeyValueStore()
    vault = PersonalDataVault(store, b"m" * 32)
    c = vault.seal("kindergarten.e1", {"name": "Оля", "certificate": "I-КВ 123"})
    opened = vault.open("kindergarten.e1", c)
    assert opened.data["name"] == "Оля" and verify(c, opened.data, opened.salt)
    assert all("Оля".encode() not in v and b"123" not in v for v in store._data.values())
    other = vault.seal("kindergarten.e2", {"name": "Петро"})
    vault.erase("kindergarten.e1", at="2026-01-01T00:00:00.000000Z")
    assert vault.is_erased("kindergarten.e1")
    with pytest.raises(errors.SubjectErased):
        vault.open("kindergarten.e1", c)
    with pytest.raises(errors.SubjectErased):
        vault.seal("kindergarten.e1", {"name": "again"})
    assert not [k for k in store._data if k.startswith(("dk/kindergarten.e1", "rec/kindergarten.e1/"))]
    assert vault.open("kindergarten.e2", other).data == {"name": "Петро"}
    with pytest.raises(errors.RecordNotFound):
        vault.open("kindergarten.e3", other)
    with pytest.raises(errors.ConfigurationError):
        PersonalDataVault(store, b"x" * 32).open("kindergarten.e2", other)
    with pytest.raises(errors.InvalidInput):
        vault.seal("a/b", {})
    with pytest.raises(errors.ConfigurationError):
        PersonalDataVault(store, b"short")


def test_vault_detects_tampered_ciphertext() -> None:
    store = InMemoryKeyValueStore()
    vault = PersonalDataVault(store, b"m" * 32)
    c = vault.seal("s", {"a": "b"})
    key = f"rec/s/{c}"
    blob = bytearray(store.get(key) or b"")
    blob[-1] ^= 1
    store.put(key, bytes(blob))
    with pytest.raises(errors.ConfigurationError):
        vault.open("s", c)


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2023, date(2023, 4, 16)), (2024, date(2024, 5, 5)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 12))],
)
def test_orthodox_easter(year: int, easter: date) -> None:
    assert orthodox_easter(year) == easter


def test_calendar_transfers_and_martial_law() -> None:
    cal = WorkingCalendar(UA_CALENDAR)
    # 2026-06-28 (Constitution Day) is a Sunday: Monday 29 June is off
    assert not cal.is_working_day(date(2026, 6, 29))
    assert not cal.is_working_day(date(2026, 4, 13))  # Easter Sunday 12 April -> Monday off
    assert cal.is_working_day(date(2026, 6, 30))
    ml = WorkingCalendar({**UA_CALENDAR, "name": "ml", "martial_law": True})
    assert ml.is_working_day(date(2026, 6, 29)) and ml.is_working_day(date(2026, 8, 24))
    assert not ml.is_working_day(date(2026, 6, 27))
    extra = WorkingCalendar({**UA_CALENDAR, "extra_holidays": ["2026-06-30"], "extra_working_days": ["2026-06-29"]})
    assert extra.is_working_day(date(2026, 6, 29)) and not extra.is_working_day(date(2026, 6, 30))
    # 2027-01-01 is a Friday; 10 working days after 2026-12-31 (Thursday): Jan 1 off, Jan 2-3 weekend
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    # holiday on Saturday 2026-03-07? no: 8 March 2026 is a Sunday -> Monday 9 March off
    assert not cal.is_working_day(date(2026, 3, 9))
    with pytest.raises(errors.InvalidInput):
        cal.add_working_days(date(2026, 1, 1), 0)
    with pytest.raises(errors.InvalidInput):
        WorkingCalendar({"name": "x", "fixed": ["13-01"]})
    with pytest.raises(errors.InvalidInput):
        WorkingCalendar({"name": "x", "movable": ["ramadan"]})
