"""Ballots (docs/domain.md "Ballots"): window, eligibility, selection per method, last vote counts, tally.

Per ballot the replay keeps its frozen rules and the running tally over the counted votes (O(options)); the
last valid selection of each voter stream (needed when the voter votes again) is in a spill map keyed by the
voter stream, which is unique per ballot and voter (:mod:`verifier.rules.store`).
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.rules.model import (
    Event,
    Malformed,
    Report,
    Violation,
    as_int,
    as_list,
    as_map,
    as_str,
    as_str_list,
    first_difference,
    pseudonym_problem,
    stream_id,
)
from verifier.rules.rulesets import frozen_rules
from verifier.rules.store import Scratch, SpillMap, pickle_codec
from verifier.voting.election import Election
from verifier.voting.hashing import manifest_hash

__all__ = ["BallotRules", "compute_tally"]

#: Encrypted-ballot events that name their ballot in ``data.ballot``.
_VOTING_BY_DATA = frozenset(
    f"ballot.{t}"
    for t in (
        "ceremony_started",
        "trustee_joined",
        "trustee_committed",
        "trustee_verified",
        "trustee_complained",
        "ballot_cast",
        "ballot_recast",
    )
)


@dataclass(slots=True)
class Ballot:
    options: list[str]
    position: dict[str, int]
    cost: dict[str, int]
    district_of: dict[str, str]
    method: str
    max_choices: int
    budgets: dict[str, int]
    opens_at: str
    closes_at: str
    identity_methods: frozenset[str]
    districts: frozenset[str] | None
    key: int = 1
    encrypted: bool = False
    status: str = "open"
    tally: Any = None
    counts: dict[str, int] = field(default_factory=dict)  # option -> counted votes selecting it
    voters: int = 0  # voter streams with a counted vote

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = dict.fromkeys(self.options, 0)


def compute_tally(b: Ballot) -> dict[str, Any]:
    """Tally over the counted votes (docs/domain.md "Closing"), greedy per-district budget rule."""
    counts = dict(b.counts)
    funded: dict[str, list[str]] | None = None
    if b.method == "budget":
        funded = {}
        for district in sorted(b.budgets):
            remaining = b.budgets[district]
            candidates = [o for o in b.options if b.district_of.get(o) == district and counts[o] > 0]
            candidates.sort(key=lambda o: (-counts[o], b.position[o]))
            chosen: list[str] = []
            for o in candidates:
                if b.cost[o] <= remaining:
                    chosen.append(o)
                    remaining -= b.cost[o]
            funded[district] = chosen
    return {"voters": b.voters, "counts": counts, "funded": funded}


class BallotRules:
    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report
        self.scratch = Scratch() if scratch is None else scratch
        self.ballots: dict[str, Ballot] = {}  # one header per ballot (a service opens them): in memory
        # voter stream S('ballot', B, 'voter', voter) -> the last valid selection (a tuple of option ids)
        self.votes: SpillMap[tuple[str, ...]] = self.scratch.map("ballot_votes", (marshal.dumps, marshal.loads))
        # encrypted ballots (verifier/voting/): ballot id -> its election; per voter stream the last counted
        # ciphertexts, per ballot's first ciphertext its event (to name a dropped or double-counted ballot)
        self.elections: dict[str, Election] = {}
        self.sealed: SpillMap[Any] = self.scratch.map("ballot_sealed", (marshal.dumps, marshal.loads))
        self.firsts: SpillMap[Any] = self.scratch.map("ballot_firsts", pickle_codec())
        #: The rule set checks of a ``ballot.opened`` (verifier/rules/rulesets.py), handed over by :meth:`read`.
        self.check_rule_set: Callable[..., Violation | None] | None = None

    def read(self, kind: str, rules: Any) -> None:
        """The rules of a kind the ballots ask (verifier.kinds ``reads``): the rule sets."""
        if kind == "rulesets":
            self.check_rule_set = rules.check_reference

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def _election(self, bid: Any, create: bool = False) -> Election | None:
        if type(bid) is not str:
            return None
        e = self.elections.get(bid)
        if e is None and create:
            e = self.elections[bid] = Election(bid, self.sealed, self.firsts)
        return e

    def _feed(self, e: Election, ev: Event) -> None:
        for v in e.feed(ev):
            self.report(v)

    def handle(self, ev: Event) -> None:
        t = ev.type
        if t in _VOTING_BY_DATA:
            e = self._election(ev.data.get("ballot"), create=t == "ballot.ceremony_started")
            if e is None:
                what = "ceremony" if t != "ballot.ballot_cast" and t != "ballot.ballot_recast" else "encrypted ballot"
                self.fail(
                    ev,
                    "voting.wrong_secrecy",
                    f"{ev.logged_type} for no {what} of an encrypted ballot",
                    None,
                    ev.data.get("ballot"),
                )
                return
            self._feed(e, ev)
            if t == "ballot.ceremony_started":
                self._ceremony_rules(ev)
        elif t in ("ballot.voting_ended", "ballot.decryption_shared"):
            e = self._election(ev.stream)
            if e is None:
                self.fail(
                    ev, "voting.wrong_secrecy", f"{ev.logged_type} in no encrypted ballot's stream", None, ev.stream
                )
                return
            self._feed(e, ev)
        elif t in ("ballot.vote_cast", "ballot.vote_changed"):
            e = self._election(ev.data.get("ballot"))
            if e is not None:  # a plaintext vote on an encrypted ballot: reported, never counted
                self._feed(e, ev)
                return
            self._vote(ev)
        elif t == "ballot.opened":
            self._opened(ev)
        elif t == "ballot.closed":
            self._closed(ev)
        else:
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a ballot.* type", t)

    def _ceremony_rules(self, ev: Event) -> None:
        """An encrypted ballot's rules are frozen by its ``ceremony_started`` (its ``spec`` and ``rule_set``): the
        rule set reference is checked there (its ``ballot.opened`` must repeat them: ``voting.spec_changed``)."""
        spec = ev.data.get("spec")
        if self.check_rule_set is not None and type(spec) is dict:  # else voting.bad_ceremony
            found = self.check_rule_set(ev, "ballot", frozen_rules("ballot", spec), "$.spec")
            if found is not None:
                self.report(found)

    def _opened(self, ev: Event) -> None:
        d = ev.data
        as_str(d, "title")
        as_str(d, "kind")
        key = as_int(d, "pseudonym_key")
        method = as_map(d, "method")
        mtype = as_str(method, "type")
        options: list[str] = []
        cost: dict[str, int] = {}
        district_of: dict[str, str] = {}
        for i, o in enumerate(as_list(d, "options")):
            if not isinstance(o, Mapping):
                raise Malformed(f"options[{i}]", "an object", o)
            oid = as_str(o, "id")
            if oid in cost or oid in options:
                self.fail(ev, "invalid_ballot", "option ids are unique", "unique ids", oid)
            options.append(oid)
            if mtype == "budget":
                cost[oid] = as_int(o, "cost")
                district_of[oid] = as_str(o, "district")
        budgets: dict[str, int] = {}
        max_choices = 0
        if mtype == "approval":
            max_choices = as_int(method, "max_choices")
        elif mtype == "budget":
            raw = as_map(method, "budgets")
            budgets = {k: as_int(raw, k) for k in raw}
        elif mtype != "single":
            raise Malformed("method.type", "single | approval | budget", mtype)
        elig = as_map(d, "eligibility")
        districts_raw = elig.get("districts")
        districts = None if districts_raw is None else frozenset(as_str_list(elig, "districts"))
        if mtype == "budget" and districts is None:
            self.fail(ev, "invalid_ballot", "budget ballots always set eligibility.districts", "a list", None)
        if ev.version != 1:
            self.fail(ev, "created_not_first", "ballot.opened opens its stream", "version 1", ev.version)
        election = self.elections.get(ev.stream)
        if self.check_rule_set is not None and (election is None or not election.started):
            found = self.check_rule_set(ev, "ballot", frozen_rules("ballot", d), "$")
            if found is not None:
                self.report(found)
        encrypted = self._secrecy(ev)
        self.ballots[ev.stream] = Ballot(
            options=options,
            position={o: i for i, o in enumerate(options)},
            cost=cost,
            district_of=district_of,
            method=mtype,
            max_choices=max_choices,
            budgets=budgets,
            opens_at=as_str(d, "opens_at"),
            closes_at=as_str(d, "closes_at"),
            identity_methods=frozenset(as_str_list(elig, "identity_methods")),
            districts=districts,
            key=key,
            encrypted=encrypted,
        )

    def _secrecy(self, ev: Event) -> bool:
        """Whether the ballot is encrypted (then its election checks the opening against its ceremony); a new open
        ballot's extra fields are checked here, a legacy one (no ``secrecy``) has none."""
        d = ev.data
        if "secrecy" not in d:
            if self._election(ev.stream) is not None:
                self.fail(ev, "voting.wrong_secrecy", "a ballot with a ceremony opens encrypted", "encrypted", None)
            return False
        secrecy = d["secrecy"]
        if secrecy == "encrypted":
            e = self._election(ev.stream, create=True)
            assert e is not None
            self._feed(e, ev)
            return True
        if secrecy != "open":
            raise Malformed("secrecy", "encrypted | open", secrecy)
        want: dict[str, Any] = {"trustees": [], "threshold": None, "public_key": None}
        got = {k: d.get(k) for k in want}
        if got != want or self._election(ev.stream) is not None:
            self.fail(
                ev,
                "voting.wrong_secrecy",
                "an open ballot has no trustees, threshold or key, nor a ceremony",
                want,
                got,
            )
        manifest = manifest_hash(ev.stream, d).hex()
        if d.get("manifest_hash") != manifest:
            self.fail(
                ev,
                "voting.bad_manifest",
                "manifest_hash is SHA-256(JCS({ballot, opened}))",
                manifest,
                d.get("manifest_hash"),
            )
        return False

    def _vote(self, ev: Event) -> None:
        d = ev.data
        bid = as_str(d, "ballot")
        voter = as_str(d, "voter")
        selection = as_str_list(d, "selection")
        method = as_str(d, "identity_method")
        district = d.get("district")
        if district is not None and not isinstance(district, str):
            raise Malformed("district", "a string or null", district)
        b = self.ballots.get(bid)
        if b is None:
            self.fail(ev, "unknown_ballot", "vote for a ballot not opened before it", None, bid)
            return
        errors: list[tuple[str, str, Any, Any]] = []
        expected_stream = stream_id("ballot", bid, "voter", voter)
        if ev.stream != expected_stream:
            errors.append(
                (
                    "vote_stream_mismatch",
                    f"a second vote stream for voter {voter}: each voter's votes are in "
                    "S('ballot', B, 'voter', voter), so a vote elsewhere would be counted twice",
                    expected_stream,
                    ev.stream,
                )
            )
        wrong = pseudonym_problem(voter, "vot", b.key)
        if wrong is not None:
            errors.append(("pseudonym_mismatch", "voter is a voter pseudonym of the ballot's key", wrong, voter))
        if ev.type == "ballot.vote_cast" and ev.version != 1:
            errors.append(
                (
                    "second_vote_cast",
                    "a voter's later votes are vote_changed (the first one counts no more)",
                    1,
                    ev.version,
                )
            )
        elif ev.type == "ballot.vote_changed" and ev.version < 2:
            errors.append(("vote_version", "vote_changed follows vote_cast in the voter stream", ">= 2", ev.version))
        if b.status == "closed":
            errors.append(("vote_after_close", "vote after ballot.closed", "before ballot.closed", "after"))
        elif not b.opens_at <= ev.time < b.closes_at:
            errors.append(
                (
                    "vote_outside_window",
                    "a vote is valid only at opens_at <= time < closes_at",
                    f"[{b.opens_at}, {b.closes_at})",
                    ev.time,
                )
            )
        if method not in b.identity_methods:
            errors.append(
                ("identity_method_not_allowed", "identity method not eligible", sorted(b.identity_methods), method)
            )
        if b.districts is not None:
            if district not in b.districts:
                errors.append(("district_not_eligible", "district not eligible", sorted(b.districts), district))
        elif district is not None:
            errors.append(
                ("district_unexpected", "district must be null when eligibility.districts is not set", None, district)
            )
        problem = self._selection_problem(b, selection, district)
        if problem is not None:
            errors.append(("selection_invalid", problem, f"a valid selection for method {b.method}", selection))
        for code, message, expected, found in errors:
            self.fail(ev, code, message, expected, found)
        if not errors:
            counts = b.counts
            old = self.votes.get(ev.stream)
            if old is None:
                b.voters += 1
            else:
                for oid in old:
                    counts[oid] -= 1
            for oid in selection:
                counts[oid] += 1
            self.votes[ev.stream] = tuple(selection)

    @staticmethod
    def _selection_problem(b: Ballot, selection: list[str], district: str | None) -> str | None:
        if not selection:
            return "selection is empty"
        if len(set(selection)) != len(selection):
            return "an option is selected twice"
        unknown = [o for o in selection if o not in b.position]
        if unknown:
            return f"unknown options {unknown}"
        if [b.position[o] for o in selection] != sorted(b.position[o] for o in selection):
            return "selection is not in option order"
        if b.method == "single" and len(selection) != 1:
            return "single choice: exactly one option"
        if b.method == "approval" and len(selection) > b.max_choices:
            return f"approval: at most {b.max_choices} options"
        if b.method == "budget":
            if any(b.district_of[o] != district for o in selection):
                return f"budget: every option must be of the vote's district {district}"
            total = sum(b.cost[o] for o in selection)
            limit = b.budgets.get(district or "", 0)
            if total > limit:
                return f"budget: cost {total} exceeds the district budget {limit}"
        return None

    def _closed(self, ev: Event) -> None:
        b = self.ballots.get(ev.stream)
        if b is None:
            self.fail(ev, "unknown_ballot", "ballot.closed for a stream that holds no ballot.opened", None, ev.stream)
            return
        d = ev.data
        recorded = {"voters": as_int(d, "voters"), "counts": as_map(d, "counts"), "funded": d.get("funded")}
        e = self.elections.get(ev.stream)
        if b.encrypted and e is not None:
            self._closed_encrypted(ev, b, e, recorded)
            return
        if "decrypted_by" in d:
            self.fail(
                ev, "voting.wrong_secrecy", "only an encrypted ballot's close has decrypted_by", None, d["decrypted_by"]
            )
        if b.status == "closed":
            self.fail(ev, "ballot_closed_twice", "ballot.closed happens once", "once", "again")
            b.tally = dict(d)
            return
        if ev.time < b.closes_at:
            self.fail(
                ev, "closed_before_window_end", "ballot.closed only at time >= closes_at", f">= {b.closes_at}", ev.time
            )
        replay = compute_tally(b)
        diff = first_difference(replay, recorded)
        if diff is not None:
            path, exp, found = diff
            self.fail(
                ev,
                "tally_mismatch",
                f"the published tally differs from the replay of the counted votes at {path}",
                exp,
                found,
            )
        b.status = "closed"
        b.tally = dict(d)

    def _closed_encrypted(self, ev: Event, b: Ballot, e: Election, recorded: dict[str, Any]) -> None:
        """The counts the trustees' shares decrypt, and the tally they imply, against the published one."""
        if ev.time < b.closes_at:
            self.fail(
                ev, "closed_before_window_end", "ballot.closed only at time >= closes_at", f">= {b.closes_at}", ev.time
            )
        decrypted, found = e.close(ev)
        for v in found:
            self.report(v)
        if decrypted is not None:
            counts, voters = decrypted
            b.counts, b.voters = counts, voters
            diff = first_difference(compute_tally(b), recorded)
            if diff is not None:
                path, exp, found = diff
                self.fail(
                    ev,
                    "voting.tally_mismatch",
                    f"the published tally differs from the decrypted aggregate at {path}",
                    exp,
                    found,
                )
        b.status = "closed"
        # state.json publishes the tally (voters, counts, funded) without decrypted_by (docs/domain.md)
        b.tally = {k: v for k, v in ev.data.items() if k != "decrypted_by"}

    def state_items(self) -> Iterator[tuple[str, Any]]:
        """``state.json``'s ``ballots`` part, in key order."""
        for bid, b in sorted(self.ballots.items()):
            yield bid, {"status": b.status, "tally": b.tally}
