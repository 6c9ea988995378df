"""The registry of kinds (domain/kinds.py) is complete and consistent, and what reads it gets the same answers."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

import domain.app  # noqa: F401  (imports every aggregate module)
from domain.app import CityApp
from domain.ballots.aggregate import Ballot
from domain.base import EVENT_TYPES, data_fields
from domain.core import GUARDED
from domain.housing.aggregate import HousingRegister
from domain.identity import Permission
from domain.kindergarten.aggregate import KindergartenQueue
from domain.kinds import AUTHORISATION, BY_NAME, EVENTS, KINDS, data_fields_by_type, kind_of
from domain.petitions.aggregate import Petition
from domain.projections import Projections
from domain.registry import Kind, check_registry
from domain.services.aggregate import Service, fold_service


def test_every_event_type_belongs_to_exactly_one_kind_and_has_exactly_one_permission() -> None:
    kinds_of = Counter(t for k in KINDS for t in k.event_types)
    rows_of = Counter(t for k in KINDS for t in k.permissions)
    for type_ in EVENT_TYPES:
        assert kinds_of[type_] == 1, type_
        assert rows_of[type_] == 1, type_
    assert set(kinds_of) == set(rows_of) == set(EVENT_TYPES) == set(AUTHORISATION) == set(EVENTS)
    for k in KINDS:
        for type_ in k.event_types:
            assert type_.startswith(k.prefix + "."), type_
            assert kind_of(type_) is k
            assert AUTHORISATION[type_] is k.permissions[type_]


def test_prefixes_names_and_state_parts_are_unique() -> None:
    prefixes = [p for k in KINDS for p in k.prefixes]
    assert len(prefixes) == len(set(prefixes))
    names = [k.name for k in KINDS]
    assert len(names) == len(set(names))
    parts = [k.state_part for k in KINDS if k.state_part is not None]
    assert len(parts) == len(set(parts))


def test_the_rows() -> None:
    assert [(k.name, k.prefix, k.state_part) for k in KINDS] == [
        ("services", "service", None),
        ("rulesets", "ruleset", None),
        ("petitions", "petition", "petitions"),
        ("ballots", "ballot", "ballots"),
        ("kindergarten", "kindergarten", "kindergarten"),  # queue.* in envelope format 1
        ("housing", "housing", "housing"),
        ("personal_data", "personal_data", None),  # erasures: a record of the vault, no published state
    ]
    assert BY_NAME["services"].aggregates == (Service,)
    assert {k.name: k.legacy_prefixes for k in KINDS if k.legacy_prefixes} == {"kindergarten": ("queue",)}


def test_a_legacy_type_names_its_kind_and_its_current_type() -> None:
    k = BY_NAME["kindergarten"]
    assert kind_of("queue.offer_issued") is k and kind_of("kindergarten.offer_issued") is k
    assert k.canonical("queue.offer_issued") == "kindergarten.offer_issued"
    assert k.canonical("kindergarten.offer_issued") == "kindergarten.offer_issued"
    assert not any(t.startswith("queue.") for t in EVENT_TYPES)  # read, never written


def test_the_event_catalogue_carries_data_fields_and_permissions() -> None:
    assert data_fields_by_type() == {t: data_fields(cls) for t, cls in EVENT_TYPES.items()}
    for type_, spec in EVENTS.items():
        assert spec.event_type == type_ and spec.event_class is EVENT_TYPES[type_]
        assert spec.permission == AUTHORISATION[type_]
        assert spec.kind == kind_of(type_).name  # type: ignore[union-attr]
        envelope = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
        assert set(spec.data_fields) == {f.name for f in dataclasses.fields(spec.event_class)} - envelope
    assert EVENTS["kindergarten.offer_issued"].data_fields == (
        "offer",
        "entry",
        "institution",
        "birth_year",
        "place",
        "expires_at",
    )
    assert EVENTS["housing.removal_proposed"].permission == Permission("queue:housing:remove", system=True)


def test_what_reads_the_registry() -> None:
    assert list(Projections().public_state()) == ["petitions", "ballots", "kindergarten", "housing"]
    assert CityApp.snapshotting_intervals == {KindergartenQueue: 200, HousingRegister: 200}
    assert set(CityApp.snapshotting_projectors) == {KindergartenQueue, HousingRegister}
    assert set(GUARDED) == {Petition, Ballot}
    assert kind_of("queue.created") is BY_NAME["kindergarten"] and kind_of("nothing.here") is None


def test_a_malformed_row_or_registry_is_refused() -> None:
    services = BY_NAME["services"]
    with pytest.raises(TypeError, match="without the prefix"):
        dataclasses.replace(services, prefix="svc")
    with pytest.raises(TypeError, match="each event type once"):
        dataclasses.replace(services, permissions={"service.registered": Permission(system=True)})
    with pytest.raises(TypeError, match="state part"):
        dataclasses.replace(services, state_part="services")
    with pytest.raises(TypeError, match="not one of its aggregates"):
        dataclasses.replace(services, guarded=(Petition,))
    with pytest.raises(TypeError, match="prefix used twice"):
        check_registry([*KINDS, dataclasses.replace(services, name="again", legacy_prefixes=("petition",))])
    with pytest.raises(TypeError, match="state part used twice"):
        housing = BY_NAME["housing"]
        check_registry([*(k for k in KINDS if k is not housing), dataclasses.replace(housing, state_part="ballots")])
    with pytest.raises(TypeError, match="event types of no kind"):
        check_registry(KINDS[1:])
    assert Kind(name="x", prefix="service", aggregates=(Service,), fold=fold_service, permissions=services.permissions)
