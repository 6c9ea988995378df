"""Encrypted ballots in the domain (docs/voting.md): a 3-of-5 ceremony, casts and a revote with every proof checked,
voting_ended with the aggregate of each voter's last ballot, shares checked, the close by Lagrange; and each guard
refusing exactly what it guards, writing nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from domain.ballots.aggregate import Ballot
from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto import trustee as tr
from domain.ballots.crypto.group import decode_point
from domain.base import public_data
from domain.identity import Actor, CitizenIdentity
from tests.domain.conftest import CITY, OPERATOR, T0, citizen, days

ELIG = {"identity_methods": ["diia", "bankid"]}
TRUSTEES = [f"trustee.{i}" for i in range(1, 6)]
OPTIONS = [
    {"id": "park", "title": "Парк", "cost": 600, "district": "podil"},
    {"id": "gym", "title": "Спортмайданчик", "cost": 300, "district": "podil"},
    {"id": "lib", "title": "Бібліотека", "cost": 500, "district": "podil"},
    {"id": "ramps", "title": "Пандуси", "cost": 100, "district": "obolon"},
]
METHOD = {"type": "budget", "budgets": {"podil": 1000, "obolon": 200}}


def trustee(i: int) -> Actor:
    return Actor.service(TRUSTEES[i - 1])


def start(app: CityApp, **kw: Any) -> UUID:
    for s in TRUSTEES:
        app.register_service(by=OPERATOR, service=s, name=s, scopes=["ballot:trustee"], at=T0)
    args: dict[str, Any] = dict(
        by=CITY, title="Бюджет", kind="participatory_budget", options=OPTIONS, method=METHOD, opens_at=T0,
        closes_at=T0 + days(7), eligibility=ELIG, at=T0, trustees=TRUSTEES, threshold=3,
    )  # fmt: skip
    args.update(kw)
    return app.open_ballot(**args)


def ceremony(app: CityApp, bid: UUID) -> dict[int, cer.TrusteeSecrets]:
    secrets = {i: cer.new_trustee(str(bid), i, 3) for i in range(1, 6)}
    for i in (3, 1, 5, 2, 4):
        app.join_ceremony(by=trustee(i), ballot_id=bid, at=T0, **tr.join_body(secrets[i]))
    state = app.get_ceremony(bid).state
    for i in (2, 5, 1, 4, 3):
        app.commit_ceremony(by=trustee(i), ballot_id=bid, at=T0, **tr.commit_body(secrets[i], state))
    state = app.get_ceremony(bid).state
    for i in range(1, 6):
        assert tr.first_bad_sender(secrets[i], state) is None
        app.verify_ceremony(by=trustee(i), ballot_id=bid, at=T0)
    return secrets


def encrypt(app: CityApp, bid: UUID, who: CitizenIdentity, selection: list[str]) -> dict[str, Any]:
    b = app.get_ballot(bid)
    s = b.state
    voter = app.voter_pseudonym(b, who.subject)
    opened = bal.encrypt(
        ballot_id=str(bid), manifest=bytes.fromhex(s["manifest_hash"]), public_key=decode_point(s["public_key"]),
        st=bal.statement(s, who.district), voter=voter, district=who.district, selection=selection,
    )  # fmt: skip
    return {k: opened.body[k] for k in ("ciphertexts", "proofs", "tracker")}


def voter(n: int, district: str = "podil") -> CitizenIdentity:
    return citizen(n, district=district)


@pytest.fixture
def opened(app: CityApp) -> tuple[UUID, dict[int, cer.TrusteeSecrets]]:
    bid = start(app)
    secrets = ceremony(app, bid)
    app.open_encrypted(by=CITY, ballot_id=bid, at=T0)
    return bid, secrets


def test_a_whole_encrypted_budget_with_one_trustee_absent(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]
) -> None:
    bid, secrets = opened
    ballot = app.get_ballot(bid)
    assert ballot.state["secrecy"] == "encrypted" and ballot.state["threshold"] == 3
    casts = [(1, ["park", "gym"]), (2, ["gym", "lib"]), (3, ["lib"]), (1, ["park"])]  # voter 1 revotes
    events = [app.cast_ballot(by=voter(n), ballot_id=bid, body=encrypt(app, bid, voter(n), sel), at=T0 + days(1))
              for n, sel in casts]  # fmt: skip
    assert [type(e).TYPE for e in events] == ["ballot.ballot_cast"] * 3 + ["ballot.ballot_recast"]
    obolon = voter(9, "obolon")
    app.cast_ballot(by=obolon, ballot_id=bid, body=encrypt(app, bid, obolon, ["ramps"]), at=T0 + days(1))
    with pytest.raises(errors.WindowStillOpen):
        app.end_voting(by=CITY, ballot_id=bid, at=T0 + days(6))
    ended = app.end_voting(by=Actor.system("clock"), ballot_id=bid, at=T0 + days(7))
    assert ended["voters"] == 4 and all(p is not None for p in ended["aggregate"])
    with pytest.raises(errors.WindowClosed):  # no ballot after voting ended
        app.cast_ballot(by=voter(5), ballot_id=bid, body=encrypt(app, bid, voter(5), ["gym"]), at=T0 + days(7))
    with pytest.raises(errors.NotEnoughShares):
        app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    state = app.get_ceremony(bid).state
    for i in (4, 1, 2):  # trustees 3 and 5 absent; 4 of them decrypt... only 3 needed
        body = tr.decryption_body(secrets[i], state, app.get_ballot(bid).state)
        app.share_decryption(by=trustee(i), ballot_id=bid, at=T0 + days(7), **body)
    tally = app.close_ballot(by=CITY, ballot_id=bid, at=T0 + days(7))
    assert tally["counts"] == {"park": 1, "gym": 1, "lib": 2, "ramps": 1}
    assert tally["voters"] == 4 and tally["decrypted_by"] == [1, 2, 4]
    assert tally["funded"] == {"obolon": ["ramps"], "podil": ["lib", "gym"]}  # park (600) no longer fits
    closed = app.get_ballot(bid).state
    assert closed["status"] == "closed" and closed["decrypted_by"] == [1, 2, 4]


def test_no_count_exists_before_the_close(app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]) -> None:
    bid, _ = opened
    app.cast_ballot(by=voter(1), ballot_id=bid, body=encrypt(app, bid, voter(1), ["park"]), at=T0 + days(1))
    published = app.projections.public_state()["ballots"]
    assert published == {str(bid): {"status": "open", "tally": None}}
    assert "counts" not in app.get_ballot(bid).state and "selection" not in str(app.projections.cast)


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        (lambda b: b["proofs"]["options"][1]["s"].reverse(), "proofs.options[1]"),
        (lambda b: b["proofs"]["count"]["c"].reverse(), "proofs.count"),
        (lambda b: b["proofs"]["budget"]["bit_proofs"][0]["c"].reverse(), "proofs.budget.bit_proofs[0]"),
        (lambda b: b.__setitem__("tracker", "0" * 64), "tracker"),
        (lambda b: b["ciphertexts"].pop(), "ciphertexts"),
    ],
)
def test_a_ballot_with_one_broken_proof_is_refused_naming_it_and_nothing_is_stored(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]], tamper: Any, where: str
) -> None:
    bid, _ = opened
    body = encrypt(app, bid, voter(1), ["park", "gym"])
    before = app.recorder.max_notification_id()
    tamper(body)
    with pytest.raises(errors.InvalidProof) as e:
        app.cast_ballot(by=voter(1), ballot_id=bid, body=body, at=T0 + days(1))
    assert e.value.proof == where
    assert app.recorder.max_notification_id() == before


def test_the_proofs_are_checked_outside_the_decision_and_the_window_is_still_reported_first(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ~2 ms of proof checks run before the sequencer is taken, so other commands are not held behind them; the
    errors are the same as when they ran inside: a broken ballot after the window is WindowClosed, an ineligible
    voter's is NotEligible, and only an eligible voter in the window hears InvalidProof."""
    from domain.ballots import encrypted

    bid, _ = opened
    held: list[bool] = []
    check = encrypted.check_cast

    def spy(*args: Any, **kw: Any) -> Any:
        held.append(bool(getattr(app.sequencer._local, "active", False)))
        return check(*args, **kw)

    monkeypatch.setattr(encrypted, "check_cast", spy)
    app.cast_ballot(by=voter(1), ballot_id=bid, body=encrypt(app, bid, voter(1), ["park"]), at=T0 + days(1))
    assert held == [False]
    broken = encrypt(app, bid, voter(2), ["gym"])
    broken["tracker"] = "0" * 64
    with pytest.raises(errors.NotEligible):
        app.cast_ballot(by=citizen(2, district="podil", method="gov.ua"), ballot_id=bid, body=broken, at=T0 + days(1))
    with pytest.raises(errors.InvalidProof):
        app.cast_ballot(by=voter(2), ballot_id=bid, body=broken, at=T0 + days(1))
    with pytest.raises(errors.WindowClosed):
        app.cast_ballot(by=voter(2), ballot_id=bid, body=broken, at=T0 + days(8))


def test_a_ballot_made_for_another_voter_fails_its_proofs(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]
) -> None:
    bid, _ = opened
    body = encrypt(app, bid, voter(1), ["park"])
    with pytest.raises(errors.InvalidProof):
        app.cast_ballot(by=voter(2), ballot_id=bid, body=body, at=T0 + days(1))


def test_secrecy_is_frozen_and_plaintext_votes_are_refused(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]
) -> None:
    bid, _ = opened
    with pytest.raises(errors.WrongSecrecy):
        app.cast_vote(by=voter(1), ballot_id=bid, selection=["park"], at=T0 + days(1))
    poll = app.open_ballot(
        by=CITY, title="Опитування", kind="poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"}, opens_at=T0, closes_at=T0 + days(7), eligibility=ELIG, at=T0,
    )  # fmt: skip
    s = app.get_ballot(poll).state
    assert (s["secrecy"], s["trustees"], s["threshold"], s["public_key"]) == ("open", [], None, None)
    assert len(s["manifest_hash"]) == 64
    with pytest.raises(errors.WrongSecrecy):
        app.end_voting(by=CITY, ballot_id=poll, at=T0 + days(7))
    app.cast_vote(by=voter(1), ballot_id=poll, selection=["a"], at=T0 + days(1))
    tally = app.close_ballot(by=CITY, ballot_id=poll, at=T0 + days(7))
    assert "decrypted_by" not in tally
    events = list(app.events.get(poll))
    assert "decrypted_by" not in vars(events[-1])


def test_the_ceremony_runs_in_order_only_named_trustees_take_part_and_proofs_are_checked(app: CityApp) -> None:
    bid = start(app)
    secrets = {i: cer.new_trustee(str(bid), i, 3) for i in range(1, 6)}
    app.register_service(by=OPERATOR, service="intruder", name="x", scopes=["ballot:trustee"], at=T0)
    with pytest.raises(errors.NotATrustee):
        app.join_ceremony(by=Actor.service("intruder"), ballot_id=bid, at=T0, **tr.join_body(secrets[1]))
    with pytest.raises(errors.MissingScope):
        app.join_ceremony(by=CITY, ballot_id=bid, at=T0, **tr.join_body(secrets[1]))
    bad = tr.join_body(secrets[2])  # trustee 1 posts trustee 2's key: its proof names trustee 2
    with pytest.raises(errors.InvalidProof):
        app.join_ceremony(by=trustee(1), ballot_id=bid, at=T0, **bad)
    app.join_ceremony(by=trustee(1), ballot_id=bid, at=T0, **tr.join_body(secrets[1]))
    with pytest.raises(errors.CeremonyOutOfOrder):
        app.join_ceremony(by=trustee(1), ballot_id=bid, at=T0, **tr.join_body(secrets[1]))
    with pytest.raises(errors.CeremonyOutOfOrder):  # commits wait until all joined
        app.commit_ceremony(by=trustee(1), ballot_id=bid, at=T0, commitments=[], proof={}, shares=[])
    with pytest.raises(errors.CeremonyOutOfOrder):
        app.open_encrypted(by=CITY, ballot_id=bid, at=T0)
    for i in range(2, 6):
        app.join_ceremony(by=trustee(i), ballot_id=bid, at=T0, **tr.join_body(secrets[i]))
    state = app.get_ceremony(bid).state
    body = tr.commit_body(secrets[1], state)
    body["shares"] = body["shares"][1:]  # trustee 2 gets no share
    with pytest.raises(errors.InvalidProof):
        app.commit_ceremony(by=trustee(1), ballot_id=bid, at=T0, **body)
    for i in range(1, 6):
        app.commit_ceremony(by=trustee(i), ballot_id=bid, at=T0, **tr.commit_body(secrets[i], state))
    app.complain_ceremony(by=trustee(2), ballot_id=bid, about=1, reason="share does not open", at=T0)
    assert app.get_ceremony(bid).status == "dead"
    with pytest.raises(errors.CeremonyOutOfOrder):
        app.verify_ceremony(by=trustee(3), ballot_id=bid, at=T0)


def test_a_forged_decryption_share_is_refused(app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]) -> None:
    bid, secrets = opened
    app.cast_ballot(by=voter(1), ballot_id=bid, body=encrypt(app, bid, voter(1), ["park"]), at=T0 + days(1))
    with pytest.raises(errors.CeremonyOutOfOrder):  # not before voting ended
        app.share_decryption(by=trustee(1), ballot_id=bid, shares=[], at=T0 + days(1))
    app.end_voting(by=CITY, ballot_id=bid, at=T0 + days(7))
    state = app.get_ceremony(bid).state
    body = tr.decryption_body(secrets[2], state, app.get_ballot(bid).state)  # trustee 2's shares posted by 1
    with pytest.raises(errors.InvalidProof) as e:
        app.share_decryption(by=trustee(1), ballot_id=bid, at=T0 + days(7), **body)
    assert e.value.proof == "shares[0]"
    app.share_decryption(by=trustee(2), ballot_id=bid, at=T0 + days(7), **body)
    with pytest.raises(errors.CeremonyOutOfOrder):
        app.share_decryption(by=trustee(2), ballot_id=bid, at=T0 + days(7), **body)


def test_legacy_open_ballots_still_load(app: CityApp) -> None:
    """A ``ballot.opened`` of an older log lacks the secrecy fields: its data is the legacy set, it folds as open."""
    bid = app.open_ballot(
        by=CITY, title="t", kind="poll", options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"}, opens_at=T0, closes_at=T0 + days(7), eligibility=ELIG, at=T0,
    )  # fmt: skip
    event = next(iter(app.events.get(bid)))
    for k in ("secrecy", "trustees", "threshold", "public_key", "manifest_hash"):
        del event.__dict__[k]  # as the mapper loads an older row (ledger/envelope.py)
    data = public_data(event)
    assert set(data) == {"title", "kind", "options", "method", "opens_at", "closes_at", "eligibility", "pseudonym_key"}
    state: dict[str, Any] = {}
    Ballot.fold(state, "ballot.opened", "t", {}, data)
    assert (state["secrecy"], state["trustees"], state["public_key"], state["status"]) == ("open", [], None, "open")


def test_the_clock_ends_an_encrypted_ballots_voting_and_leaves_the_close_to_the_trustees(
    app: CityApp, opened: tuple[UUID, dict[int, cer.TrusteeSecrets]]
) -> None:
    from domain.clock import run_due

    bid, _ = opened
    app.cast_ballot(by=voter(1), ballot_id=bid, body=encrypt(app, bid, voter(1), ["park"]), at=T0 + days(1))
    assert run_due(app, T0 + days(6)) == []  # nothing before closes_at
    assert app.get_ballot(bid).state["status"] == "open"
    fired = run_due(app, T0 + days(7))
    assert len(fired) == 1
    state = app.get_ballot(bid).state
    assert state["status"] == "ended" and state.get("tally") is None  # no count: the trustees decrypt it
    assert run_due(app, T0 + days(8)) == []  # exactly once


def test_the_rule_set_is_checked_when_the_ceremony_freezes_the_rules(app: CityApp) -> None:
    """An encrypted ballot's kind and eligibility are frozen by ``ballot.ceremony_started``: the rule set reference
    is checked there (as the verifier does), and ``open_encrypted`` repeats what the ceremony froze. A ceremony
    started with inline rules before the city's first ballot rule set still opens after it is published."""
    bid = start(app)  # inline: the city has no ballot rule set yet
    legal = Actor.service("city.legal")
    app.register_service(by=OPERATOR, service=legal.id, name="Legal", scopes=["rules:admin"], at=T0)
    rules = {"kind": "participatory_budget", "eligibility": {"identity_methods": ["bankid", "diia"], "min_age": 16}}
    app.publish_rule_set(by=legal, ruleset="budgets", version=1, applies_to="ballot", rules=rules, source="a test",
                         at=T0)  # fmt: skip
    ceremony(app, bid)
    app.open_encrypted(by=CITY, ballot_id=bid, at=T0)
    assert "rule_set" not in app.get_ballot(bid).opened_data()
    base: dict[str, Any] = dict(
        by=CITY, title="Бюджет", options=OPTIONS, method=METHOD, opens_at=T0, closes_at=T0 + days(7), at=T0,
        trustees=TRUSTEES, threshold=3,
    )  # fmt: skip
    with pytest.raises(errors.CustomRulesRefused):
        app.open_ballot(**base, kind="participatory_budget", eligibility=ELIG)
    with pytest.raises(errors.RuleSetNotPublished):
        app.open_ballot(**base, rule_set="budgets", rule_set_version=2)
    named = app.open_ballot(**base, rule_set="budgets")
    started = app.get_ceremony(named).state
    assert started["rule_set"] == {"name": "budgets", "version": 1}
    assert started["spec"]["eligibility"]["min_age"] == 16
