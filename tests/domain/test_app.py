"""Application layer: authorisation, atomicity, projections, snapshots, erasure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain import errors
from domain.app import CityApp
from domain.base import check_json_native, public_data
from domain.identity import Actor, Pseudonymizer
from domain.kindergarten.aggregate import KindergartenQueue
from domain.personal_data.aggregate import erasure_stream
from domain.petitions.rules import SUMY
from tests.domain.conftest import CITY, EDU, HOUSING, KEYS, OPERATOR, POPO, T0, citizen, days, make_app


def log(app: CityApp) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1_000_000)]


def stored(app: CityApp) -> list[tuple[Any, ...]]:
    rows = app.recorder.select_notifications(1, 10**6)
    return [(n.originator_id, n.originator_version, n.topic, n.state) for n in rows]


def scenario(app: CityApp) -> dict[str, Any]:
    """A petition, then a ballot, a kindergarten queue and a housing register, one phase after the other: every
    command's time is at or after the previous one's (the log's time never goes backwards, domain/sequencing.py)."""
    pid = app.create_petition(by=citizen(1), title="t", text="x", rules=dict(SUMY, threshold=2), at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    for i in range(3):
        app.sign_petition(by=citizen(i), petition_id=pid, at=T0 + days(1))
    b0 = T0 + days(1)
    bid = app.open_ballot(
        by=CITY, title="b", kind="poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"}, opens_at=b0, closes_at=b0 + days(2), eligibility={"identity_methods": ["diia"]},
        at=b0,
    )  # fmt: skip
    app.cast_vote(by=citizen(1), ballot_id=bid, selection=["a"], at=b0)
    app.cast_vote(by=citizen(1), ballot_id=bid, selection=["b"], at=b0 + days(1))
    app.close_ballot(by=CITY, ballot_id=bid, at=b0 + days(2))
    q0 = b0 + days(2)
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1"], at=q0)
    entries = [
        app.register_kindergarten_entry(
            by=citizen(i),
            queue_id=q,
            child_key=f"c{i}",
            child_data={"name": f"child {i}"},
            birth_year=2023,
            institutions=["k1"],
            at=q0 + days(i),
        )
        for i in range(3)
    ]
    app.grant_benefit(by=EDU, queue_id=q, entry=entries[2], code="idp_child", document={"d": "x"}, at=q0 + days(4))
    h0 = q0 + days(4)
    r = app.open_housing_register(by=HOUSING, name="h", at=h0)
    app.register_housing_entry(by=citizen(1), register_id=r, household_data={"a": "b"}, at=h0)
    return {"petition": pid, "ballot": bid, "queue": q, "entries": entries, "register": r, "end": h0}


def test_authorisation(app: CityApp) -> None:
    ghost = Actor.service("ghost")
    with pytest.raises(errors.ServiceNotRegistered):
        app.open_housing_register(by=ghost, name="x", at=T0)
    with pytest.raises(errors.MissingScope) as info:
        app.open_housing_register(by=EDU, name="x", at=T0)
    assert info.value.evidence == {
        "service": "kyiv.education",
        "required": "queue:housing:admin",
        "granted": ["queue:kindergarten:*"],
    }
    with pytest.raises(errors.NotAuthorised):
        app.open_housing_register(by=OPERATOR, name="x", at=T0)  # system actors do not run queues
    with pytest.raises(errors.NotAuthorised):
        app.open_housing_register(by=Actor.citizen("cit:v1:ab"), name="x", at=T0)
    with pytest.raises(errors.NotAuthorised):
        app.register_service(by=citizen(1), service="x", name="x", scopes=[], at=T0)
    with pytest.raises(errors.NotAuthorised):
        app.register_service(by=EDU, service="x", name="x", scopes=[], at=T0)


def test_service_lifecycle(app: CityApp) -> None:
    with pytest.raises(errors.ServiceAlreadyRegistered):
        app.register_service(by=OPERATOR, service="kyiv.education", name="Again", scopes=[], at=T0)
    with pytest.raises(errors.InvalidScope):
        app.register_service(by=OPERATOR, service="x", name="X", scopes=["Bad Scope"], at=T0)
    with pytest.raises(errors.InvalidInput):
        app.register_service(by=OPERATOR, service="x", name="X", scopes="petition:respond", at=T0)
    app.register_service(by=OPERATOR, service="kyiv.admin", name="Admin", scopes=["service:admin"], at=T0)
    admin = Actor.service("kyiv.admin")
    app.change_service_scopes(by=admin, service="kyiv.education", scopes=["queue:housing:*"], at=T0 + days(1))
    app.open_housing_register(by=EDU, name="x", at=T0 + days(1))
    with pytest.raises(errors.InvalidState):
        app.change_service_scopes(by=admin, service="kyiv.education", scopes=["queue:housing:*"], at=T0 + days(1))
    with pytest.raises(errors.InvalidInput):
        app.revoke_service(by=admin, service="kyiv.education", reason=" ", at=T0 + days(2))
    app.revoke_service(by=admin, service="kyiv.education", reason="department merged", at=T0 + days(2))
    with pytest.raises(errors.ServiceRevoked):
        app.open_housing_register(by=EDU, name="x", at=T0 + days(3))
    with pytest.raises(errors.ServiceRevoked):
        app.revoke_service(by=admin, service="kyiv.education", reason="again", at=T0 + days(3))
    with pytest.raises(errors.NotFound):
        app.revoke_service(by=admin, service="nobody", reason="x", at=T0 + days(3))
    assert app.get_service("kyiv.education").revoked


def test_the_pseudonymizer_is_injected_never_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The domain reads no settings: the keys come from the ledger (tests/ledger/test_runtime.py reads them)."""
    keys = f"1={'ab' * 32}"
    monkeypatch.setenv("HROMADA_PSEUDONYM_KEYS", keys)
    with pytest.raises(errors.ConfigurationError):
        CityApp(env=POPO)
    with pytest.raises(errors.ConfigurationError):
        CityApp(env={**POPO, "HROMADA_PSEUDONYM_KEYS": keys})
    app = CityApp(env=POPO, pseudonymizer=Pseudonymizer.from_text(keys))
    assert app.pseudonymizer.current == 1
    with pytest.raises(errors.ConfigurationError):
        app.erase_personal_data("kindergarten.x", by=OPERATOR, reason="subject_request", at=T0)


def test_key_rotation_keeps_open_aggregates_consistent() -> None:
    app = make_app()
    pid = app.create_petition(by=citizen(1), title="t", text="x", rules=SUMY, at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    app.sign_petition(by=citizen(2), petition_id=pid, at=T0)
    # rotate: a new app instance whose current key is version 2; the old key is kept
    rotated = CityApp(env=POPO, pseudonymizer=Pseudonymizer(KEYS, current=2))
    rotated.recorder = app.recorder  # same store
    rotated.events = app.events
    rotated._repository = app.repository
    rotated.rebuild_projections()
    with pytest.raises(errors.DuplicateSignature):
        rotated.sign_petition(by=citizen(2), petition_id=pid, at=T0)
    p2 = rotated.create_petition(by=citizen(1), title="t", text="x", rules=SUMY, at=T0)
    assert rotated.get_petition(p2).state["pseudonym_key"] == 2
    assert rotated.get_petition(p2).state["author"].startswith("cit:v2:")


def test_errors_write_nothing(app: CityApp) -> None:
    ids = scenario(app)
    before = len(log(app))
    q, e, t = ids["queue"], ids["entries"][0], ids["end"]  # every refusal comes after the last write: none is a
    failing = [  # TimeBeforeLog, each is refused for its own reason (and a refusal moves no clock)
        (errors.DuplicateSignature, lambda: app.sign_petition(by=citizen(1), petition_id=ids["petition"], at=t)),
        (errors.WindowClosed, lambda: app.cast_vote(by=citizen(5), ballot_id=ids["ballot"], selection=["a"], at=t)),
        (
            errors.UnknownBenefitCode,
            lambda: app.grant_benefit(by=EDU, queue_id=q, entry=e, code="nope", document={"d": "x"}, at=t),
        ),
        (
            errors.OfferOutOfTurn,
            lambda: app.issue_offer(
                by=EDU, queue_id=q, institution="k1", birth_year=2023, place="p", entry=e, at=t + days(1)
            ),
        ),
        (errors.UnknownReasonCode, lambda: app.remove_entry(by=EDU, queue_id=q, entry=e, reason_code="nope", at=t)),
        (errors.UnknownOffer, lambda: app.expire_offer(by=OPERATOR, queue_id=q, offer="nope", at=t)),
        (errors.WindowClosed, lambda: app.close_ballot(by=CITY, ballot_id=ids["ballot"], at=t)),
    ]
    for expected, f in failing:
        with pytest.raises(errors.DomainError) as info:
            f()
        assert type(info.value) is expected, info.value
    assert len(log(app)) == before
    store = app.vault._store  # type: ignore[union-attr]
    assert len(list(store.keys("rec/"))) == 5  # 3 children + 1 benefit document + 1 household


def test_every_event_is_json_native_and_projections_rebuild(app: CityApp) -> None:
    scenario(app)
    events = log(app)
    seen = set()
    for e in events:
        data = public_data(e)
        check_json_native(data)
        check_json_native(e.actor)
        assert set(e.actor) == {"kind", "id"} and e.actor["kind"] in ("service", "citizen", "system")
        json.dumps(data)
        seen.add(type(e).TYPE)
    assert {"petition.threshold_reached", "ballot.vote_changed", "kindergarten.benefit_granted"} <= seen
    state = app.projections.public_state()
    app.rebuild_projections()
    assert app.projections.public_state() == state
    assert state["petitions"][next(iter(state["petitions"]))]["signatures"] == 3


def test_snapshots_for_queues() -> None:
    app = make_app()
    q = app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1", "k2"], at=T0)
    for i in range(420):
        app.register_kindergarten_entry(
            by=citizen(i), queue_id=q, child_key=f"c{i}", child_data={"n": str(i)}, birth_year=2023,
            institutions=["k1"], at=T0 + days(i / 1000),
        )  # fmt: skip
    assert app.snapshots is not None
    snaps = list(app.snapshots.get(q))
    assert [s.originator_version for s in snaps] == [200, 400]
    check_json_native(snaps[0].state["state"])
    from_snapshot = app.get_kindergarten_queue(q)
    full: KindergartenQueue | None = None
    for e in app.events.get(q):
        full = e.mutate(full)
    assert full is not None and full.state == from_snapshot.state and from_snapshot.version == 421


def test_erasing_a_subject_keeps_the_log_verifiable(app: CityApp) -> None:
    ids = scenario(app)
    q, (e0, e1, e2) = ids["queue"], ids["entries"]
    before = [
        (n.originator_id, n.originator_version, n.topic, n.state) for n in app.recorder.select_notifications(1, 10**6)
    ]
    queue = app.get_kindergarten_queue(q)
    c0 = queue.entry(e0)["child_commitment"]
    app.erase_personal_data(app.kindergarten_subject(e0), by=OPERATOR, reason="subject_request", at=T0 + days(10))
    after = [
        (n.originator_id, n.originator_version, n.topic, n.state) for n in app.recorder.select_notifications(1, 10**6)
    ]
    assert after[: len(before)] == before  # the log's events are untouched; the erasure is recorded after them
    [(stream, version, _, logged)] = after[len(before) :]
    assert (stream, version) == (erasure_stream(app.kindergarten_subject(e0)), 1)
    assert json.loads(logged)["subject"] == app.kindergarten_subject(e0)
    with pytest.raises(errors.SubjectErased):
        app.vault.open(app.kindergarten_subject(e0), c0)  # type: ignore[union-attr]
    c1 = queue.entry(e1)["child_commitment"]
    assert app.vault.open(app.kindergarten_subject(e1), c1).data == {"name": "child 1"}  # type: ignore[union-attr]
    # replaying the log still yields the same state and queue order
    state = app.projections.public_state()
    app.rebuild_projections()
    assert app.projections.public_state() == state
    assert [r["entry"] for r in app.kindergarten_list(q, "k1", 2023)] == [e2, e0, e1]
