"""Hypothesis state machines: random command sequences per aggregate, checked after every step against a
small independent model (counts, tallies, queue order, no offer out of turn)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import errors
from domain.base import rfc3339
from domain.kindergarten.rules import CHERNIVTSI_KINDERGARTEN_BENEFITS
from domain.petitions.rules import SUMY
from tests.domain.conftest import CITY, EDU, HOUSING, OPERATOR, T0, citizen, make_app

SETTINGS = settings(
    max_examples=30, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
minutes = st.integers(min_value=0, max_value=60 * 24 * 3)


class Clocked(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = make_app()
        self.now = T0

    def tick(self, m: int) -> None:
        self.now += timedelta(minutes=m)


# --- petitions ---------------------------------------------------------------------------------------
class PetitionMachine(Clocked):
    THRESHOLD = 4

    @initialize()
    def create(self) -> None:
        self.pid = self.app.create_petition(
            by=citizen("a"), title="t", text="x", rules=dict(SUMY, threshold=self.THRESHOLD, period={"days": 10}),
            at=self.now,
        )  # fmt: skip
        self.app.publish_petition(by=CITY, petition_id=self.pid, at=self.now)
        self.deadline = rfc3339(self.now + timedelta(days=10))
        self.signers: set[int] = set()
        self.closed = False
        self.responded = False

    @rule(who=st.integers(0, 9), m=minutes)
    def sign(self, who: int, m: int) -> None:
        self.tick(m)
        if self.closed:
            expected: type[Exception] | None = errors.PetitionNotOpen
        elif rfc3339(self.now) >= self.deadline:
            expected = errors.DeadlinePassed
        elif who in self.signers:
            expected = errors.DuplicateSignature
        else:
            expected = None
        try:
            self.app.sign_petition(by=citizen(who), petition_id=self.pid, at=self.now)
        except errors.DomainError as e:
            assert type(e) is expected, (e, expected)
        else:
            assert expected is None
            self.signers.add(who)

    @rule(m=minutes)
    def close(self, m: int) -> None:
        self.tick(m)
        try:
            self.app.close_expired_petitions(by=OPERATOR, at=self.now)
        except errors.DomainError as e:  # pragma: no cover - close_expired never fails
            raise AssertionError(e) from e
        if not self.closed and rfc3339(self.now) >= self.deadline:
            self.closed = True

    @rule(m=minutes)
    def respond(self, m: int) -> None:
        self.tick(m)
        try:
            self.app.respond_to_petition(by=CITY, petition_id=self.pid, response="ok", at=self.now)
        except errors.ThresholdNotReached:
            assert len(self.signers) < self.THRESHOLD
        except errors.AlreadyResponded:
            assert self.responded
        else:
            assert len(self.signers) >= self.THRESHOLD and not self.responded
            self.responded = True

    @invariant()
    def consistent(self) -> None:
        assert self.app.signature_count(self.pid) == len(self.signers)
        p = self.app.get_petition(self.pid)
        types = [type(e).TYPE for e in self.app.events.get(self.pid)]
        assert types.count("petition.threshold_reached") == (1 if len(self.signers) >= self.THRESHOLD else 0)
        assert p.status == ("closed" if self.closed else "published")
        if self.closed:
            assert list(self.app.events.get(self.pid))[types.index("petition.closed")].signatures <= len(self.signers)


# --- ballots -------------------------------------------------------------------------------------------
OPTIONS = ["a", "b", "c", "d"]
COST = {"a": 50, "b": 30, "c": 40, "d": 20}
DISTRICT = {"a": "n", "b": "n", "c": "s", "d": "s"}
BUDGET = {"n": 80, "s": 50}


class BallotMachine(Clocked):
    @initialize(method=st.sampled_from(["single", "approval", "budget"]))
    def open(self, method: str) -> None:
        self.method = method
        if method == "budget":
            options = [{"id": o, "title": o, "cost": COST[o], "district": DISTRICT[o]} for o in OPTIONS]
            spec: dict[str, Any] = {"type": "budget", "budgets": BUDGET}
        else:
            options = [{"id": o, "title": o} for o in OPTIONS]
            spec = {"type": "single"} if method == "single" else {"type": "approval", "max_choices": 2}
        self.bid = self.app.open_ballot(
            by=CITY, title="b", kind="poll", options=options, method=spec, opens_at=self.now,
            closes_at=self.now + timedelta(days=5), eligibility={"identity_methods": ["diia"]}, at=self.now,
        )  # fmt: skip
        self.closes = rfc3339(self.now + timedelta(days=5))
        self.last: dict[int, list[str]] = {}
        self.closed_tally: dict[str, Any] | None = None

    def valid(self, sel: list[str], district: str) -> bool:
        if not sel or len(set(sel)) != len(sel) or any(s not in OPTIONS for s in sel):
            return False
        if self.method == "single":
            return len(sel) == 1
        if self.method == "approval":
            return len(sel) <= 2
        return all(DISTRICT[s] == district for s in sel) and sum(COST[s] for s in sel) <= BUDGET[district]

    @rule(
        who=st.integers(0, 8),
        sel=st.one_of(
            st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2, unique=True),
            st.lists(st.sampled_from(["c", "d"]), min_size=1, max_size=2, unique=True),
            st.lists(st.sampled_from([*OPTIONS, "zz"]), max_size=3),
        ),
        district=st.sampled_from(["n", "s"]),
        m=minutes,
    )
    def vote(self, who: int, sel: list[str], district: str, m: int) -> None:
        self.tick(m)
        open_ = self.closed_tally is None and rfc3339(self.now) < self.closes
        ok = open_ and self.valid(sel, district)
        try:
            ev = self.app.cast_vote(by=citizen(who, district=district), ballot_id=self.bid, selection=sel, at=self.now)
        except errors.WindowClosed:
            assert not open_
        except errors.DomainError:
            assert open_ and not ok
        else:
            assert ok
            assert ("ballot.vote_changed" if who in self.last else "ballot.vote_cast") == type(ev).TYPE
            self.last[who] = sorted(sel, key=OPTIONS.index)

    @rule(m=minutes)
    def close(self, m: int) -> None:
        self.tick(m)
        try:
            tally = self.app.close_ballot(by=CITY, ballot_id=self.bid, at=self.now)
        except errors.WindowStillOpen:
            assert rfc3339(self.now) < self.closes
        except errors.WindowClosed:
            assert self.closed_tally is not None
        else:
            assert self.closed_tally is None
            self.closed_tally = tally
            assert tally == self.model_tally()

    def model_tally(self) -> dict[str, Any]:
        counts = {o: sum(o in s for s in self.last.values()) for o in OPTIONS}
        funded = None
        if self.method == "budget":
            funded = {}
            for d in sorted(BUDGET):
                left, chosen = BUDGET[d], []
                for o in sorted((o for o in OPTIONS if DISTRICT[o] == d), key=lambda o: (-counts[o], OPTIONS.index(o))):
                    if counts[o] and COST[o] <= left:
                        chosen.append(o)
                        left -= COST[o]
                funded[d] = chosen
        return {"voters": len(self.last), "counts": counts, "funded": funded}

    @invariant()
    def tally_matches_replay(self) -> None:
        assert self.app.projections.tally(str(self.bid)) == self.model_tally()


# --- kindergarten ------------------------------------------------------------------------------------------
CODES = [b["code"] for b in CHERNIVTSI_KINDERGARTEN_BENEFITS[:3]]
INSTS = ["k1", "k2"]
PLACES = ["p1", "p2", "p3"]


class KindergartenMachine(Clocked):
    @initialize()
    def create(self) -> None:
        self.q = self.app.create_kindergarten_queue(
            by=EDU, name="q", institutions=INSTS, acceptance_days=2, max_preferences=2, at=self.now
        )
        self.entries: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []  # registration order
        self.offers: dict[str, dict[str, Any]] = {}
        self.held: set[tuple[str, str]] = set()
        self.n = 0

    def key(self, eid: str) -> tuple[int, str, str]:
        e = self.entries[eid]
        rank = min((CODES.index(c) + 1 for c in e["benefits"]), default=len(CHERNIVTSI_KINDERGARTEN_BENEFITS) + 1)
        return (rank, e["registered_at"], eid)

    def group(self, inst: str, year: int) -> list[str]:
        ids = [
            i for i, e in self.entries.items() if e["status"] == "waiting" and e["year"] == year and inst in e["insts"]
        ]
        return sorted(ids, key=self.key)

    def pick(self, idx: int) -> str | None:
        return self.order[idx % len(self.order)] if self.order else None

    @rule(
        year=st.sampled_from([2022, 2023]),
        insts=st.lists(st.sampled_from(INSTS), min_size=1, max_size=2, unique=True),
        m=minutes,
    )
    def register(self, year: int, insts: list[str], m: int) -> None:
        self.tick(m)
        self.n += 1
        eid = self.app.register_kindergarten_entry(
            by=citizen(self.n), queue_id=self.q, child_key=f"c{self.n}", child_data={"n": self.n}, birth_year=year,
            institutions=insts, at=self.now,
        )  # fmt: skip
        self.entries[eid] = {
            "year": year, "insts": list(insts), "registered_at": rfc3339(self.now), "benefits": set(),
            "status": "waiting", "offer": None, "n": self.n,
        }  # fmt: skip
        self.order.append(eid)

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), code=st.sampled_from([*CODES, "bogus"]), m=minutes)
    def grant(self, idx: int, code: str, m: int) -> None:
        self.tick(m)
        eid = self.pick(idx)
        assert eid is not None
        e = self.entries[eid]
        try:
            self.app.grant_benefit(by=EDU, queue_id=self.q, entry=eid, code=code, document={"d": "x"}, at=self.now)
        except errors.EntryNotActive:
            assert e["status"] != "waiting"
        except errors.UnknownBenefitCode:
            assert code == "bogus"
        except errors.BenefitAlreadyGranted:
            assert code in e["benefits"]
        else:
            e["benefits"].add(code)

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), code=st.sampled_from(CODES), m=minutes)
    def revoke(self, idx: int, code: str, m: int) -> None:
        self.tick(m)
        eid = self.pick(idx)
        assert eid is not None
        e = self.entries[eid]
        try:
            self.app.revoke_benefit(by=EDU, queue_id=self.q, entry=eid, code=code, reason="status_ended", at=self.now)
        except errors.EntryNotActive:
            assert e["status"] != "waiting"
        except errors.BenefitNotGranted:
            assert code not in e["benefits"]
        else:
            e["benefits"].discard(code)

    @rule(inst=st.sampled_from(INSTS), year=st.sampled_from([2022, 2023]), place=st.sampled_from(PLACES), m=minutes)
    def offer(self, inst: str, year: int, place: str, m: int) -> None:
        self.tick(m)
        eligible = [i for i in self.group(inst, year) if self.entries[i]["offer"] is None]
        try:
            oid = self.app.issue_offer(
                by=EDU, queue_id=self.q, institution=inst, birth_year=year, place=place, at=self.now
            )
        except errors.PlaceUnavailable:
            assert (inst, place) in self.held
        except errors.NoEligibleEntry:
            assert (inst, place) not in self.held and not eligible
        else:
            assert (inst, place) not in self.held and eligible
            got = self.app.get_kindergarten_queue(self.q).offer(oid)["entry"]
            assert got == eligible[0], "offer out of turn"
            self.offers[oid] = {"entry": got, "inst": inst, "place": place, "status": "pending",
                                "expires": rfc3339(self.now + timedelta(days=2))}  # fmt: skip
            self.entries[got]["offer"] = oid
            self.held.add((inst, place))

    def close_offer(self, oid: str, status: str) -> None:
        o = self.offers[oid]
        o["status"] = status
        e = self.entries[o["entry"]]
        e["offer"] = None
        if status == "accepted":
            e["status"] = "placed"
        else:
            e["insts"] = [i for i in e["insts"] if i != o["inst"]]
            self.held.discard((o["inst"], o["place"]))

    @precondition(lambda self: self.offers)
    @rule(idx=st.integers(0, 50), action=st.sampled_from(["accept", "decline", "expire"]), m=minutes)
    def answer(self, idx: int, action: str, m: int) -> None:
        self.tick(m)
        oid = list(self.offers)[idx % len(self.offers)]
        o = self.offers[oid]
        who = citizen(self.entries[o["entry"]]["n"])
        expired = rfc3339(self.now) >= o["expires"]
        try:
            if action == "accept":
                self.app.accept_offer(by=who, queue_id=self.q, offer=oid, at=self.now)
            elif action == "decline":
                self.app.decline_offer(by=who, queue_id=self.q, offer=oid, at=self.now)
            else:
                self.app.expire_offer(by=OPERATOR, queue_id=self.q, offer=oid, at=self.now)
        except errors.OfferNotPending:
            assert o["status"] != "pending"
        except errors.OfferExpired:
            assert o["status"] == "pending" and expired and action != "expire"
        except errors.OfferNotExpired:
            assert o["status"] == "pending" and not expired and action == "expire"
        else:
            assert o["status"] == "pending" and (expired == (action == "expire"))
            self.close_offer(oid, {"accept": "accepted", "decline": "declined", "expire": "expired"}[action])

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), remove=st.booleans(), m=minutes)
    def leave(self, idx: int, remove: bool, m: int) -> None:
        self.tick(m)
        eid = self.pick(idx)
        assert eid is not None
        e = self.entries[eid]
        try:
            if remove:
                self.app.remove_entry(by=EDU, queue_id=self.q, entry=eid, reason_code="school_age", at=self.now)
            else:
                self.app.withdraw_entry(by=citizen(e["n"]), queue_id=self.q, entry=eid, at=self.now)
        except errors.EntryNotActive:
            assert e["status"] != "waiting"
        else:
            assert e["status"] == "waiting"
            if e["offer"] is not None:
                o = self.offers[e["offer"]]
                o["status"] = "cancelled"
                self.held.discard((o["inst"], o["place"]))
                e["offer"] = None
            e["status"] = "removed" if remove else "withdrawn"

    @invariant()
    def order_matches_model(self) -> None:
        state = self.app.get_kindergarten_queue(self.q).state
        for inst in INSTS:
            for year in (2022, 2023):
                got = [r["entry"] for r in self.app.kindergarten_list(self.q, inst, year)]
                assert got == self.group(inst, year)
        assert {tuple(k.split("#")) for k in state["held"]} == self.held
        assert all(state["entries"][e]["registered_at"] == m["registered_at"] for e, m in self.entries.items())


# --- housing -----------------------------------------------------------------------------------------------
class HousingMachine(Clocked):
    @initialize()
    def create(self) -> None:
        self.r = self.app.open_housing_register(by=HOUSING, name="h", at=self.now)
        self.entries: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.n = 0

    def model(self, name: str) -> list[str]:
        act = [e for e, m in self.entries.items() if m["status"] == "active"]
        if name == "general":
            return sorted(act, key=lambda e: (self.entries[e]["registered_at"], e))
        act = [e for e in act if name in self.entries[e]["lists"]]
        return sorted(act, key=lambda e: (self.entries[e]["lists"][name], e))

    @rule(m=minutes)
    def register(self, m: int) -> None:
        self.tick(m)
        self.n += 1
        eid = self.app.register_housing_entry(
            by=citizen(self.n), register_id=self.r, household_data={"n": 1}, at=self.now
        )
        self.entries[eid] = {"registered_at": rfc3339(self.now), "lists": {}, "status": "active"}
        self.order.append(eid)

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), lst=st.sampled_from(["first_priority", "out_of_turn"]), m=minutes)
    def include(self, idx: int, lst: str, m: int) -> None:
        self.tick(m)
        eid = self.order[idx % len(self.order)]
        code = "art45.disabled" if lst == "first_priority" else "art46.orphan"
        e = self.entries[eid]
        try:
            self.app.include_in_list(
                by=HOUSING, register_id=self.r, entry=eid, list_name=lst, code=code, document={"d": "1"}, at=self.now
            )
        except errors.EntryNotActive:
            assert e["status"] != "active"
        except errors.AlreadyInList:
            assert lst in e["lists"]
        else:
            e["lists"][lst] = rfc3339(self.now)

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), lst=st.sampled_from(["first_priority", "out_of_turn"]), m=minutes)
    def exclude(self, idx: int, lst: str, m: int) -> None:
        self.tick(m)
        eid = self.order[idx % len(self.order)]
        e = self.entries[eid]
        try:
            self.app.exclude_from_list(
                by=HOUSING, register_id=self.r, entry=eid, list_name=lst, reason="basis_ended", at=self.now
            )
        except errors.EntryNotActive:
            assert e["status"] != "active"
        except errors.NotInList:
            assert lst not in e["lists"]
        else:
            del e["lists"][lst]

    @precondition(lambda self: self.order)
    @rule(idx=st.integers(0, 50), m=minutes)
    def remove(self, idx: int, m: int) -> None:
        self.tick(m)
        eid = self.order[idx % len(self.order)]
        try:
            self.app.remove_housing_entry(by=HOUSING, register_id=self.r, entry=eid, reason_code="art40.1", at=self.now)
        except errors.EntryNotActive:
            assert self.entries[eid]["status"] != "active"
        else:
            self.entries[eid]["status"] = "removed"

    @rule(lst=st.sampled_from(["general", "first_priority", "out_of_turn"]), m=minutes)
    def allocate(self, lst: str, m: int) -> None:
        self.tick(m)
        expected = self.model(lst)
        try:
            got = self.app.allocate_dwelling(
                by=HOUSING, register_id=self.r, list_name=lst, dwelling=f"f{m}-{self.n}-{len(expected)}", at=self.now
            )
        except errors.NoEligibleEntry:
            assert not expected
        except errors.PlaceUnavailable:
            pass
        else:
            assert got == expected[0], "allocation out of turn"
            self.entries[got]["status"] = "allocated"

    @invariant()
    def lists_match(self) -> None:
        for name in ("general", "first_priority", "out_of_turn"):
            assert self.app.housing_list(self.r, name) == self.model(name)


TestPetition = PetitionMachine.TestCase
TestBallot = BallotMachine.TestCase
TestKindergarten = KindergartenMachine.TestCase
TestHousing = HousingMachine.TestCase
for _case in (TestPetition, TestBallot, TestKindergarten, TestHousing):
    _case.settings = SETTINGS
del _case
