"""`hromada demo`: a realistic city scenario written through the ledger, for tests, benchmarks and show.

Everything goes through `CityApp` commands (the same ones the HTTP API calls), on one monotonic simulated
clock so event times never go backwards: three petitions (one reaches its threshold and is answered, one is
rejected by moderation, the rest expire), a participatory budget with revotes, a kindergarten queue with
benefits, offers, declines, expiries and acceptances, and a housing register with priority lists, the annual
re-registration and a removal. The ledger's clock (domain/clock.py) runs a round each time the simulated clock
moves, as `hromada serve` does every few seconds: the petitions and the ballots close at their deadlines, and an
ignored offer expires and its place goes to the next child, as ``system:clock`` (so the demo's log audits clean of
the verifier's ``clock_missing``). The ledger integrates and signs checkpoints along the way; anchoring is the
caller's part (see hromada/cli/demo.py).

Many citizens act at once where they would on the API: the petition's signatures and the budget's votes are
submitted through a :class:`~hromada.pipeline.Pipeline` (``concurrency`` worker threads)
and committed by the ledger's group committer (ledger/groupcommit.py), the API's path. Their decisions keep the
scenario's order, so the log (its events, their times and order, the checkpoints' sizes) is the one the commands
would write one by one (``concurrency=1``), for a seed and size; tests/hromada/test_demo_pipeline.py compares them.
The commands on one queue or register (registrations, benefits, offers) are decided on that aggregate one at a
time, each after the previous one's commit, on the API as here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

from domain.app import CityApp
from domain.base import parse_rfc3339
from domain.clock import run_due
from domain.errors import DomainError
from domain.identity import Actor, CitizenIdentity
from domain.kinds import KINDS
from domain.petitions.rules import STATUTES, SUMY
from domain.statutes import shipped_statutes
from hromada.pipeline import Done, Pending, Pipeline
from ledger.groupcommit import GroupCommitter
from ledger.groupcommit import install as install_group_commit
from ledger.runtime import Ledger

OPERATOR = Actor.system("operator")
CITY = Actor.service("city.council")
EDU = Actor.service("city.education")
HOUSING = Actor.service("city.housing")
LEGAL = Actor.service("city.legal")
DISTRICTS = ("podil", "obolon")
#: Every shipped example rule set (domain/<kind>/statutes/), in the order the demo city publishes them.
ALL_STATUTES: tuple[dict[str, Any], ...] = tuple(shipped_statutes().values())
#: The rule sets the demo's queues and ballots name.
BUDGET_RULES, KINDERGARTEN_RULES, HOUSING_RULES = "budget-example", "kindergarten-example", "housing-example"


@dataclass
class Clock:
    """The simulated time. ``on_advance(now)`` runs each time it moves (the demo runs a round of the ledger's clock
    there, as a served ledger does every few seconds: what is due is appended before the next command)."""

    now: datetime
    on_advance: Callable[[datetime], None] | None = None

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        if self.on_advance is not None:
            self.on_advance(self.now)
        return self.now

    def jump_to(self, when: datetime) -> datetime:
        self.now = max(self.now, when)
        if self.on_advance is not None:
            self.on_advance(self.now)
        return self.now


@dataclass
class DemoReport:
    events: int = 0
    checkpoints: list[int] = field(default_factory=list)
    ids: dict[str, Any] = field(default_factory=dict)


def citizen(n: int, method: str = "diia", district: str | None = None) -> CitizenIdentity:
    return CitizenIdentity(subject=f"diia:demo-{n}", method=method, age=20 + n % 50, district=district)


def spread(usual: float, window: float, count: int) -> float:
    """The factor by which ``count`` steps of ``usual`` simulated seconds on average shrink to fit in ``window``
    seconds: 1 while they fit (a demo's log is unchanged for its size), less once they would overrun a petition's
    period, a ballot's window or a re-registration year (``--events 1000000`` wrote past them and was refused)."""
    return min(1.0, window / (usual * max(count, 1)))


class Demo:
    def __init__(
        self, ledger: Ledger, *, events: int, seed: int = 2026, start: datetime | None = None,
        progress: Callable[[int, int], None] | None = None, checkpoint_every: int | None = None,
        secret_ballot: bool = False, concurrency: int = 16,
    ) -> None:  # fmt: skip
        if not isinstance(ledger.app, CityApp):
            raise TypeError("the demo needs the city application")
        self.ledger = ledger
        self.app: CityApp = ledger.app
        self.target = max(events, 200)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
        self.clock = Clock(start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC), self._clock_round)
        self.progress = progress
        self.checkpoint_every = checkpoint_every or max(100, self.target // 8)
        self.report = DemoReport()
        self._since_checkpoint = 0
        #: also run the encrypted participatory budget (:meth:`secret_budget`)
        self.secret_ballot = secret_ballot
        #: citizens acting at once in the concurrent phases (1: one command after the other's commit)
        self.concurrency = concurrency
        self._pipeline: Pipeline | None = None
        self._due: tuple[str, datetime] = ("", datetime.min.replace(tzinfo=UTC))  # the next deadline, parsed

    # -- bookkeeping --------------------------------------------------------------------------------
    def _did(self, n: int = 1) -> None:
        self.report.events += n
        self._since_checkpoint += n
        if self._since_checkpoint >= self.checkpoint_every:
            self.checkpoint()
        if self.progress and self.report.events % 250 == 0:
            self.progress(self.report.events, self.target)

    def _clock_round(self, now: datetime) -> None:
        """The ledger's clock (domain/clock.py) at ``now``: closes, expiries (the place offered on), overdue
        responses, as ``system:clock``. A round with something due first waits for the commands in flight (it acts
        on what they stored, as after them one by one)."""
        due = self.app.projections.deadlines.next_due()
        if due is None:
            return
        if due != self._due[0]:  # parsed once per deadline, not formatting `now` on every tick of the clock
            self._due = (due, parse_rfc3339(due))
        if self._due[1] > now:  # RFC 3339 UTC text sorts as the instants it names
            return
        self._drain()
        fired = run_due(self.app, now)
        if fired:
            self._did(len(fired))

    def checkpoint(self) -> None:
        self._drain()  # the checkpoint covers every command counted so far
        cp = self.ledger.integrate_and_checkpoint()
        if cp is not None:
            self.report.checkpoints.append(cp.tree_size)
        self._since_checkpoint = 0

    def budget(self, share: float) -> int:
        return max(1, int(self.target * share))

    def _submit(self, command: Callable[[], Any], key: Any) -> Pending[Any]:
        """One citizen's command of a concurrent phase (``key``: the citizen): through the pipeline when there is one
        (it returns once the command is decided), else run now."""
        if self._pipeline is None:
            return Done(command)  # raises as the command does
        return self._pipeline.submit(command, key=key)

    def _drain(self) -> None:
        if self._pipeline is not None:
            self._pipeline.drain()

    # -- scenario -----------------------------------------------------------------------------------
    #: kind (domain.kinds.KINDS) -> the method writing its part of the scenario, run in registry order
    SCENARIOS: ClassVar[dict[str, str]] = {
        "services": "register_services",
        "rulesets": "publish_statutes",
        "petitions": "petitions",
        "ballots": "budget_ballot",
        "kindergarten": "kindergarten",
        "housing": "housing",
        "personal_data": "erasures",
    }

    def run(self) -> DemoReport:
        committer: GroupCommitter | None = None
        if self.concurrency > 1:
            if not isinstance(getattr(self.app.recorder.insert_events, "__self__", None), GroupCommitter):
                committer = install_group_commit(self.app, max_batch=max(256, self.concurrency))
            self._pipeline = Pipeline(self.app.sequencer, workers=self.concurrency)
        try:
            for kind in KINDS:
                if kind.name not in self.SCENARIOS:
                    raise NotImplementedError(f"the demo has no scenario for the kind {kind.name!r} (Demo.SCENARIOS)")
                getattr(self, self.SCENARIOS[kind.name])()
                if kind.name == "ballots" and self.secret_ballot:
                    self.secret_budget()
            self.close_expired()
        finally:
            if self._pipeline is not None:
                pipeline, self._pipeline = self._pipeline, None
                pipeline.close()
            if committer is not None:
                committer.stop()
        return self.report

    def register_services(self) -> None:
        t = self.clock.tick(0)
        for service, name, scopes in (
            (CITY, "Міська рада / City council", ["petition:*", "ballot:open", "ballot:close"]),
            (EDU, "Департамент освіти / Education", ["queue:kindergarten:*"]),
            (HOUSING, "Житловий відділ / Housing", ["queue:housing:*"]),
            (LEGAL, "Юридичне управління / Legal department", ["rules:admin"]),
        ):
            self.app.register_service(by=OPERATOR, service=service.id, name=name, scopes=scopes, at=t)
            self._did()

    def _named(self, applies_to: str, rule_set: str, **inline: Any) -> dict[str, Any]:
        """How the scenario opens a queue or ballot: naming ``rule_set`` once the city publishes rule sets for
        ``applies_to`` (the whole demo: :meth:`publish_statutes` runs first), else with ``inline`` rules, as a city
        without rule sets (a test running one scenario alone, e.g. on an envelope-format-1 ledger)."""
        return {"rule_set": rule_set} if self.app.projections.rule_sets_for(applies_to) else inline

    def publish_statutes(self) -> None:
        """The city's legal department publishes the shipped example statutes (domain/<kind>/statutes/): the
        petitions, the ballots and the queues then name them."""
        for doc in ALL_STATUTES:
            self.app.publish_rule_set(by=LEGAL, **doc, at=self.clock.tick(60))
            self._did()

    def close_expired(self) -> None:
        closed = self.app.close_expired_petitions(by=OPERATOR, at=self.clock.tick(120 * 86400))
        self._did(len(closed))
        self.checkpoint()
        if self.progress:
            self.progress(self.report.events, self.target)

    def petitions(self) -> None:
        app, clock = self.app, self.clock
        signatures = self.budget(0.38)
        # the answered petition reaches its threshold: Sumy's 250 when the demo is big enough, else Hradyzk's 100
        answered_rules = "sumy" if signatures >= 2 * (SUMY["threshold"] + 40) else "hradyzk"
        sumy = app.create_petition(
            by=citizen(1), title="Велодоріжка на Подолі", text="Прошу облаштувати велодоріжку.",
            rule_set=answered_rules, at=clock.tick(600),
        )  # fmt: skip
        kyiv = app.create_petition(
            by=citizen(2), title="Більше зелені у дворах", text="Висадити дерева у дворах.", rule_set="kyiv",
            at=clock.tick(600),
        )  # fmt: skip
        spam = app.create_petition(
            by=citizen(3), title="Реклама", text="Купуйте!", rule_set="hradyzk", at=clock.tick(600)
        )
        self._did(3)
        for pid in (sumy, kyiv):
            app.publish_petition(by=CITY, petition_id=pid, at=clock.tick(3600))
            self._did()
        app.reject_petition(by=CITY, petition_id=spam, reason="commercial advertising", at=clock.tick(60))
        self._did()
        threshold = STATUTES[answered_rules]["rules"]["threshold"]
        first = min(signatures, threshold + 40) if signatures >= threshold else signatures // 2
        pace = spread((1 + 40) / 2, 50 * 86400, signatures)  # uniform(1, 40) s apart; the periods are 60 days
        for i in range(signatures):  # many citizens at once
            pid = sumy if i < first else kyiv
            who = citizen(1000 + i, method=self.rng.choice(["diia", "bankid"]))
            at = clock.tick(self.rng.uniform(1, 40) * pace)
            self._submit(partial(app.sign_petition, by=who, petition_id=pid, at=at), key=who.subject)
            crossing = pid == sumy and i == threshold - 1
            if crossing:  # its threshold_reached sets the response's deadline: the clock must see it
                self._drain()
            self._did(2 if crossing else 1)
        self._drain()
        if app.get_petition(sumy).threshold_reached:
            app.respond_to_petition(
                by=CITY, petition_id=sumy, response="Велодоріжку включено до плану на 2027 рік.",
                at=clock.tick(5 * 86400),
            )  # fmt: skip
            self._did()
        self.report.ids["petitions"] = {"answered": str(sumy), "open": str(kyiv), "rejected": str(spam)}

    def budget_ballot(self) -> None:
        app, clock, rng = self.app, self.clock, self.rng
        votes = self.budget(0.30)
        options: list[dict[str, Any]] = [
            {"id": "park", "title": "Парк над Дніпром", "cost": 800_000_00, "district": "podil"},
            {"id": "gym", "title": "Спортмайданчик", "cost": 300_000_00, "district": "podil"},
            {"id": "library", "title": "Бібліотека-коворкінг", "cost": 400_000_00, "district": "podil"},
            {"id": "lights", "title": "Освітлення вулиць", "cost": 250_000_00, "district": "obolon"},
            {"id": "square", "title": "Сквер біля школи", "cost": 500_000_00, "district": "obolon"},
            {"id": "ramps", "title": "Пандуси", "cost": 150_000_00, "district": "obolon"},
        ]
        opens = clock.tick(3600)
        closes = opens + timedelta(days=14)
        bid = app.open_ballot(
            by=CITY, title="Громадський бюджет 2027", secrecy="open", options=options,
            method={"type": "budget", "budgets": {"podil": 1_000_000_00, "obolon": 800_000_00}},
            opens_at=opens, closes_at=closes, at=opens,
            **self._named("ballot", BUDGET_RULES, kind="participatory_budget",
                          eligibility={"identity_methods": ["diia", "bankid"], "min_age": 14}),
        )  # fmt: skip
        self._did()
        by_district = {d: [o for o in options if o["district"] == d] for d in DISTRICTS}
        voters = max(1, int(votes * 0.9))
        step = (14 * 86400 - 3600) / max(votes, 1)
        for i in range(votes):
            who = i if i < voters else rng.randrange(voters)  # the last 10% are revotes
            district = DISTRICTS[who % 2]
            budget = 1_000_000_00 if district == "podil" else 800_000_00
            picks = rng.sample(by_district[district], rng.randint(1, 3))
            selection: list[str] = []
            spent = 0
            for o in picks:
                if spent + o["cost"] <= budget:
                    selection.append(o["id"])
                    spent += o["cost"]
            voter = citizen(50_000 + who, district=district)
            command = partial(app.cast_vote, by=voter, ballot_id=bid, selection=selection, at=clock.tick(step))
            self._submit(command, key=voter.subject)  # many voters at once; a revote after the voter's vote
            self._did()
        self._drain()
        clock.jump_to(closes + timedelta(minutes=1))  # the clock closes it with its tally
        tally = app.get_ballot(bid).state["tally"]
        self.report.ids["ballot"] = {"id": str(bid), "tally": tally}

    def secret_budget(self) -> None:
        """An encrypted participatory budget (docs/voting.md): 3-of-5 trustees run the key ceremony with the
        trustee code, citizens' ballots are made by hromada/vote.py (some revote), voting ends, trustees 1, 2 and 4
        decrypt (3 and 5 absent) and the ballot closes with counts no one saw before."""
        from domain.ballots.crypto import ceremony as cer
        from domain.ballots.crypto import trustee as tr
        from hromada.vote import encrypt_ballot

        app, clock, rng = self.app, self.clock, self.rng
        t = clock.tick(60)
        trustees = [Actor.service(f"city.trustee.{i}") for i in range(1, 6)]
        for i, trustee in enumerate(trustees, start=1):
            app.register_service(by=OPERATOR, service=trustee.id, name=f"Trustee {i}", scopes=["ballot:trustee"], at=t)
            self._did()
        options: list[dict[str, Any]] = [
            {"id": "trees", "title": "Дерева на набережній", "cost": 200_000_00, "district": "podil"},
            {"id": "bikes", "title": "Велодоріжка", "cost": 600_000_00, "district": "podil"},
            {"id": "shelter", "title": "Укриття у школі", "cost": 500_000_00, "district": "obolon"},
            {"id": "benches", "title": "Лавки у парку", "cost": 100_000_00, "district": "obolon"},
        ]
        opens = clock.tick(3600)
        closes = opens + timedelta(days=14)
        bid = app.open_ballot(
            by=CITY, title="Таємний громадський бюджет 2027", options=options,
            method={"type": "budget", "budgets": {"podil": 800_000_00, "obolon": 600_000_00}},
            opens_at=opens, closes_at=closes, at=opens, trustees=[x.id for x in trustees], threshold=3,
            **self._named("ballot", BUDGET_RULES, kind="participatory_budget",
                          eligibility={"identity_methods": ["diia", "bankid"]}),
        )  # fmt: skip
        self._did()
        secrets = {i: cer.new_trustee(str(bid), i, 3) for i in range(1, 6)}
        for i in range(1, 6):
            app.join_ceremony(by=trustees[i - 1], ballot_id=bid, at=clock.tick(60), **tr.join_body(secrets[i]))
            self._did()
        public = app.get_ceremony(bid).state
        for i in range(1, 6):
            app.commit_ceremony(
                by=trustees[i - 1], ballot_id=bid, at=clock.tick(60), **tr.commit_body(secrets[i], public)
            )
            self._did()
        public = app.get_ceremony(bid).state
        for i in range(1, 6):
            if tr.first_bad_sender(secrets[i], public) is not None:  # pragma: no cover - honest trustees
                raise RuntimeError(f"trustee {i} found a bad share")
            app.verify_ceremony(by=trustees[i - 1], ballot_id=bid, at=clock.tick(60))
            self._did()
        app.open_encrypted(by=CITY, ballot_id=bid, at=clock.tick(60))
        self._did()
        ballot = app.get_ballot(bid)
        s = ballot.state
        manifest = {"id": str(bid), "secrecy": s["secrecy"], "opened": ballot.opened_data(),
                    "manifest_hash": s["manifest_hash"], "public_key": s["public_key"]}  # fmt: skip
        voters = max(6, self.budget(0.02))
        pace = spread(600, 14 * 86400 - 2 * 3600, voters + voters // 3)  # all in the 14 days of its window
        for n in range(voters + voters // 3):  # the last quarter are revotes
            who = citizen(70_000 + (n if n < voters else rng.randrange(voters)), district=DISTRICTS[n % 2])
            mine = [o["id"] for o in options if o["district"] == who.district]
            info = {"voter": app.voter_pseudonym(ballot, who.subject), "district": who.district, "ballot_options": mine}
            body, _ = encrypt_ballot(manifest, info, [rng.choice(mine)])
            # one after the other: through the pipeline the proofs' checks cost more CPU than the shared commits save
            # (measured: the phase 6.1 s alone, 6.7-7.9 s through it; docs/performance.md)
            app.cast_ballot(by=who, ballot_id=bid, body=body, at=clock.tick(600 * pace))
            self._did()
        clock.jump_to(closes + timedelta(minutes=1))  # the clock ends the voting (ballot.voting_ended)
        public = app.get_ceremony(bid).state
        for i in (1, 2, 4):
            shares = tr.decryption_body(secrets[i], public, app.get_ballot(bid).state)
            app.share_decryption(by=trustees[i - 1], ballot_id=bid, at=clock.tick(60), **shares)
            self._did()
        tally = app.close_ballot(by=CITY, ballot_id=bid, at=clock.tick(60))
        self._did()
        self.report.ids["secret_ballot"] = {"id": str(bid), "tally": tally}

    def kindergarten(self) -> None:
        app, clock, rng = self.app, self.clock, self.rng
        entries_n = self.budget(0.14)
        institutions = ["dnz-12", "dnz-47", "dnz-101"]
        q = app.create_kindergarten_queue(
            by=EDU, name="Дошкільні заклади Подолу", institutions=institutions, at=clock.tick(3600),
            **self._named("kindergarten", KINDERGARTEN_RULES),
        )  # fmt: skip
        self._did()
        entries: list[tuple[str, int, int]] = []
        # the registrations within a year, however many (a larger city registers more children a day): left to
        # grow with the queue (8 simulated years at a million), the clock's offers (never answered in the demo: each
        # expires after 30 days and passes its place on) went on expiring through all that time, which made the
        # log's size quadratic in --events
        pace = spread((60 + 3600) / 2, 365 * 86400, entries_n)  # uniform(60, 3600) s apart
        for i in range(entries_n):
            who = 200_000 + i
            year = rng.choice([2022, 2023, 2024])
            prefs = rng.sample(institutions, rng.randint(1, 3))
            entry = app.register_kindergarten_entry(
                by=citizen(who), queue_id=q, child_key=f"I-КВ {who}",
                child_data={"name": f"Дитина {who}", "born": f"{year}-0{1 + i % 9}-15"}, birth_year=year,
                institutions=prefs, at=clock.tick(rng.uniform(60, 3600) * pace),
            )  # fmt: skip
            entries.append((entry, who, year))
            self._did()
        for entry, _who, _year in rng.sample(entries, max(1, entries_n // 10)):
            app.grant_benefit(by=EDU, queue_id=q, entry=entry, code=rng.choice(["military_child", "large_family"]),
                              document={"certificate": f"№ {rng.randrange(10**6)}"}, at=clock.tick(600))  # fmt: skip
            self._did()
        owners = {entry: who for entry, who, _ in entries}
        places = max(1, entries_n // 8)
        # one admission year: an offer an hour after the last, most answered a day later (3600 + 0.85 x 86400 s on
        # average). Each ignored or declined place goes, through the clock, to the next child, whose offer expires
        # 30 days later and passes it on again, so the expiries grow with the simulated time: left to grow with the
        # queue (42 simulated years at --events 1000000) they made the log quadratic in the demo's size.
        pace = spread(3600 + 0.85 * 86400, 365 * 86400, places)
        for p in range(places):
            institution, year = rng.choice(institutions), rng.choice([2022, 2023, 2024])
            try:
                offer = app.issue_offer(by=EDU, queue_id=q, institution=institution, birth_year=year,
                                        place=f"{institution}/{year}/{p}", at=clock.tick(3600 * pace))  # fmt: skip
            except DomainError:  # nobody eligible waits for this group
                continue
            self._did()
            holder = app.kindergarten_offer(q, offer)["entry"]
            fate = rng.random()
            if fate < 0.6:
                app.accept_offer(by=citizen(owners[holder]), queue_id=q, offer=offer, at=clock.tick(86400 * pace))
                self._did()
            elif fate < 0.85:
                app.decline_offer(by=citizen(owners[holder]), queue_id=q, offer=offer, at=clock.tick(86400 * pace))
                self._did()
        expired = app.expire_due_offers(by=EDU, queue_id=q, at=clock.tick(31 * 86400))
        self._did(len(expired))
        state = app.get_kindergarten_queue(q).state["entries"]
        leaving = rng.choice([e for e, _, _ in entries if state[e]["status"] == "waiting"])
        app.withdraw_entry(by=citizen(owners[leaving]), queue_id=q, entry=leaving, at=clock.tick(600))
        self._did()
        self.report.ids["kindergarten"] = str(q)

    def housing(self) -> None:
        app, clock, rng = self.app, self.clock, self.rng
        n = self.budget(0.08)
        reg = app.open_housing_register(
            by=HOUSING, name="Квартирний облік", at=clock.tick(3600), **self._named("housing", HOUSING_RULES)
        )
        self._did()
        entries = []
        pace = spread((60 + 7200) / 2, 365 * 86400, n)  # within a year, as the kindergarten's registrations
        for i in range(n):
            entry = app.register_housing_entry(
                by=citizen(400_000 + i),
                register_id=reg,
                household_data={"address": f"вул. Демо, {i}", "members": 1 + i % 5},
                at=clock.tick(rng.uniform(60, 7200) * pace),
            )
            entries.append(entry)
            self._did()
        for entry in rng.sample(entries, max(1, n // 6)):
            app.include_in_list(
                by=HOUSING,
                register_id=reg,
                entry=entry,
                list_name="first_priority",
                code=rng.choice(["art45.combatant", "art45.large_family"]),
                document={"certificate": "посвідчення"},
                at=clock.tick(600),
            )
            self._did()
        # the annual re-registration: early next year, half re-register, the others get removal_proposed
        year = clock.now.year + 1
        clock.jump_to(datetime(year, 1, 15, 9, 0, tzinfo=UTC))
        rereg = entries[: max(1, n // 2)]
        pace = spread(600, 300 * 86400, len(rereg))  # within the year they re-register for
        for entry in rereg:
            app.reregister_housing_entry(by=HOUSING, register_id=reg, entry=entry, year=year, at=clock.tick(600 * pace))
            self._did()
        proposed = app.propose_housing_removals(by=HOUSING, register_id=reg, year=year, at=clock.tick(86400))
        self._did(len(proposed))
        if proposed:
            app.remove_housing_entry(by=HOUSING, register_id=reg, entry=proposed[0], reason_code="art40.2",
                                     at=clock.tick(86400))  # fmt: skip
            self._did()
        self.report.ids["housing"] = str(reg)

    def erasures(self) -> None:
        """The operator erases the personal data of the child whose kindergarten entry was withdrawn (its retention
        ended): ``personal_data.erased`` in the log, the data key destroyed in the vault."""
        queue = self.report.ids.get("kindergarten")
        if queue is None:
            return
        entries = self.app.get_kindergarten_queue(UUID(queue)).state["entries"]
        withdrawn = sorted(e for e, st in entries.items() if st["status"] == "withdrawn")
        if not withdrawn:
            return
        subject = self.app.kindergarten_subject(withdrawn[0])
        self.app.erase_personal_data(subject, by=OPERATOR, reason="retention_expired", at=self.clock.tick(86400))
        self._did()
        self.report.ids["erased"] = subject


def run_demo(ledger: Ledger, events: int, **kwargs: Any) -> DemoReport:
    return Demo(ledger, events=events, **kwargs).run()
