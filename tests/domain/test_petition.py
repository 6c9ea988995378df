from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain import errors
from domain.app import CityApp
from domain.petitions.aggregate import Petition
from domain.petitions.rules import HRADYZK, KYIV, SUMY, add_period, response_due, validate_petition_rules
from tests.domain.conftest import CITY, EDU, OPERATOR, T0, citizen, days


def published(app: CityApp, **overrides: object) -> object:
    rules = dict(SUMY, **overrides)
    pid = app.create_petition(by=citizen("author"), title="Сквер", text="Облаштувати сквер", rules=rules, at=T0)
    app.publish_petition(by=CITY, petition_id=pid, at=T0)
    return pid


def events_of(app: CityApp, stream: object) -> list[str]:
    return [type(e).TYPE for e in app.events.get(stream)]  # type: ignore[arg-type]


def test_example_rule_sets_are_valid() -> None:
    assert validate_petition_rules(KYIV)["threshold"] == 6000 and KYIV["period"] == {"days": 60}
    assert validate_petition_rules(SUMY)["threshold"] == 250 and SUMY["period"] == {"days": 45}
    assert validate_petition_rules(HRADYZK)["threshold"] == 100 and HRADYZK["period"] == {"months": 3}


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 0},
        {"threshold": True},
        {"period": {"weeks": 2}},
        {"period": {"days": 0}},
        {"identity_methods": []},
        {"identity_methods": ["diia", "diia"]},
        {"timezone": "Mars/Olympus"},
        {"response_working_days": 0},
        {"max_text_chars": 50_000},
    ],
)
def test_malformed_rules_refused(app: CityApp, bad: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidInput):
        app.create_petition(by=citizen(1), title="t", text="x", rules=dict(SUMY, **bad), at=T0)


def test_rules_frozen_at_creation(app: CityApp) -> None:
    rules = dict(SUMY)
    pid = app.create_petition(by=citizen(1), title="t", text="x", rules=rules, at=T0)
    rules["threshold"] = 1
    assert app.get_petition(pid).threshold == 250


def test_months_period_clamps_to_month_end() -> None:
    start = datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert add_period(start, {"months": 3}) == datetime(2027, 2, 28, 10, tzinfo=UTC)
    assert add_period(start, {"days": 45}) == datetime(2027, 1, 14, 10, tzinfo=UTC)


def test_create_validates_text_and_identity(app: CityApp) -> None:
    with pytest.raises(errors.InvalidInput):
        app.create_petition(by=citizen(1), title=" ", text="x", rules=SUMY, at=T0)
    with pytest.raises(errors.InvalidInput):
        app.create_petition(by=citizen(1), title="t", text="x" * 10_001, rules=SUMY, at=T0)
    with pytest.raises(errors.InvalidInput):
        app.create_petition(by=citizen(1), title="t", text="bad\x00", rules=SUMY, at=T0)
    with pytest.raises(errors.IdentityMethodNotAllowed):
        app.create_petition(by=citizen(1, method="password"), title="t", text="x", rules=SUMY, at=T0)
    with pytest.raises(errors.NotAuthorised):
        app.create_petition(by=CITY, title="t", text="x", rules=SUMY, at=T0)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        app.create_petition(by=citizen(1), title="t", text="x", rules=SUMY, at=datetime(2026, 1, 1))  # naive
    assert app.projections.of_kind("petition") == {}


def test_moderation(app: CityApp) -> None:
    pid = app.create_petition(by=citizen(1), title="t", text="x", rules=SUMY, at=T0)
    with pytest.raises(errors.PetitionNotOpen):
        app.sign_petition(by=citizen(2), petition_id=pid, at=T0)
    with pytest.raises(errors.MissingScope):
        app.publish_petition(by=EDU, petition_id=pid, at=T0)
    with pytest.raises(errors.InvalidInput):
        app.reject_petition(by=CITY, petition_id=pid, reason="", at=T0)
    app.reject_petition(by=CITY, petition_id=pid, reason="Не належить до компетенції ради", at=T0)
    assert app.get_petition(pid).status == "rejected"
    with pytest.raises(errors.PetitionNotOpen):
        app.publish_petition(by=CITY, petition_id=pid, at=T0)
    with pytest.raises(errors.NotFound):
        app.publish_petition(by=CITY, petition_id=EDU_ID, at=T0)


EDU_ID = __import__("uuid").UUID(int=7)


def test_deadline_is_publication_plus_period(app: CityApp) -> None:
    pid = published(app)
    assert app.get_petition(pid).state["deadline"] == "2026-04-16T09:00:00.000000Z"  # T0 + 45 days


def test_one_signature_per_pseudonym(app: CityApp) -> None:
    pid = published(app)
    ev = app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    assert ev.signer == app.pseudonymizer.citizen("diia:1", 1) and ev.actor == {"kind": "citizen", "id": ev.signer}
    with pytest.raises(errors.DuplicateSignature) as info:
        app.sign_petition(by=citizen(1, method="bankid"), petition_id=pid, at=T0 + days(2))
    assert info.value.evidence["signer"] == ev.signer
    assert app.signature_count(pid) == 1


def test_signing_rules(app: CityApp) -> None:
    pid = published(app)
    with pytest.raises(errors.IdentityMethodNotAllowed):
        app.sign_petition(by=citizen(1, method="password"), petition_id=pid, at=T0)
    deadline = app.get_petition(pid).state["deadline"]
    with pytest.raises(errors.DeadlinePassed) as info:
        app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(45))
    assert info.value.evidence["deadline"] == deadline
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(45) - days(1 / 86400))
    with pytest.raises(errors.NotAuthorised):
        app.sign_petition(by=CITY, petition_id=pid, at=T0)  # type: ignore[arg-type]


def test_threshold_reached_once_in_the_same_save(app: CityApp) -> None:
    pid = published(app, threshold=3)
    for i in range(5):
        app.sign_petition(by=citizen(i), petition_id=pid, at=T0 + days(1))
    types = events_of(app, pid)
    assert types == ["petition.created", "petition.published", "petition.threshold_reached"]
    p = app.get_petition(pid)
    reached = list(app.events.get(pid))[-1]
    assert reached.count == 3 and reached.actor == {"kind": "system", "id": "rules"}
    # the triggering signature is the third petition.signed in log order and directly precedes it
    log = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100)]
    idx = next(i for i, e in enumerate(log) if type(e).TYPE == "petition.threshold_reached")
    assert str(log[idx - 1].originator_id) == reached.signature
    assert sum(1 for e in log[:idx] if type(e).TYPE == "petition.signed") == 3
    assert p.state["due_date"] == "2026-03-17"


def test_response_due_counts_working_days_and_holidays() -> None:
    rules = validate_petition_rules(dict(SUMY, calendar={"name": "ua", "fixed": ["03-08"], "martial_law": False}))
    # reached Friday 2027-03-05 (Kyiv); 8 March 2027 is a Monday holiday; 10 working days -> 2027-03-22
    assert response_due(rules, "2027-03-05T10:00:00.000000Z") == "2027-03-22"
    # a UTC evening that is already the next day in Kyiv
    assert response_due(rules, "2027-03-04T22:30:00.000000Z") == "2027-03-22"


def test_response(app: CityApp) -> None:
    pid = published(app, threshold=1)
    with pytest.raises(errors.ThresholdNotReached):
        app.respond_to_petition(by=CITY, petition_id=pid, response="ні", at=T0)
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    with pytest.raises(errors.MissingScope):
        app.respond_to_petition(by=EDU, petition_id=pid, response="ні", at=T0 + days(1))
    with pytest.raises(errors.InvalidInput):
        app.respond_to_petition(by=CITY, petition_id=pid, response="x" * 16_001, at=T0 + days(1))
    app.respond_to_petition(by=CITY, petition_id=pid, response="Підтримано", at=T0 + days(30))
    last = list(app.events.get(pid))[-1]
    assert last.on_time is False and last.due_date == "2026-03-17"
    with pytest.raises(errors.AlreadyResponded):
        app.respond_to_petition(by=CITY, petition_id=pid, response="ще", at=T0 + days(31))


def test_response_on_time(app: CityApp) -> None:
    pid = published(app, threshold=1)
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    app.respond_to_petition(by=CITY, petition_id=pid, response="Так", at=T0 + days(15))
    assert list(app.events.get(pid))[-1].on_time is True


def test_close_expired(app: CityApp) -> None:
    pid = published(app)
    other = published(app, period={"days": 90})
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    with pytest.raises(errors.DeadlineNotPassed):
        app.close_petition(by=CITY, petition_id=pid, at=T0 + days(44))
    with pytest.raises(errors.NotAuthorised):
        app.close_petition(by=EDU, petition_id=pid, at=T0 + days(50))
    assert app.close_expired_petitions(by=OPERATOR, at=T0 + days(45)) == [pid]
    closed = list(app.events.get(pid))[-1]
    assert type(closed).TYPE == "petition.closed" and closed.signatures == 1
    assert app.get_petition(other).status == "published"
    with pytest.raises(errors.PetitionNotOpen):
        app.sign_petition(by=citizen(2), petition_id=pid, at=T0 + days(46))
    with pytest.raises(errors.PetitionNotOpen):
        app.close_petition(by=CITY, petition_id=pid, at=T0 + days(50))
    assert app.close_expired_petitions(by=OPERATOR, at=T0 + days(46)) == []


def test_threshold_race_is_retried(app: CityApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two signers both see count+1 == threshold: the second save conflicts on the petition stream, is
    re-decided on fresh state and saves only its signature."""
    pid = published(app, threshold=2)
    app.sign_petition(by=citizen(1), petition_id=pid, at=T0 + days(1))
    stale = app.get_petition(pid)
    real_get = app._get
    calls = {"n": 0}

    def get_once_stale(aggregate_id, cls, what):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            # meanwhile, another process reaches the threshold
            other = real_get(aggregate_id, cls, what)
            other.reach_threshold(count=2, signature=aggregate_id, at=T0 + days(1), actor={"kind": "system", "id": "x"})
            app.save(other)
            return stale
        return real_get(aggregate_id, cls, what)

    monkeypatch.setattr(app, "_get", get_once_stale)
    app.sign_petition(by=citizen(2), petition_id=pid, at=T0 + days(1))
    assert calls["n"] == 2
    assert events_of(app, pid).count("petition.threshold_reached") == 1
    assert app.signature_count(pid) == 2


def test_petition_aggregate_refuses_second_threshold() -> None:
    p = Petition.create(
        petition_id=EDU_ID,
        title="t",
        text="x",
        rules=SUMY,
        pseudonym_key=1,
        author="a",
        at=T0,
        actor={"kind": "citizen", "id": "a"},
    )
    p.publish(at=T0, actor={"kind": "service", "id": "s"})
    with pytest.raises(errors.ThresholdNotReached):
        p.reach_threshold(count=1, signature=EDU_ID, at=T0, actor={"kind": "system", "id": "rules"})
    p.reach_threshold(count=250, signature=EDU_ID, at=T0, actor={"kind": "system", "id": "rules"})
    with pytest.raises(errors.InvalidState):
        p.reach_threshold(count=251, signature=EDU_ID, at=T0, actor={"kind": "system", "id": "rules"})
