"""Test-only: a lawful encrypted ballot as audit-bundle events (tests/verifier_rules/builder.py's History), made
with the ledger's crypto (domain/ballots/crypto/) so the verifier's independent code checks real ceremonies,
ballots and shares. ``tamper`` hooks change one event's data on its way into the log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from domain.ballots.crypto import ballot as bal
from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import decode_point, point_sum
from domain.ballots.crypto.hashing import manifest_hash
from domain.ballots.crypto.proofs import prove_decryption
from tests.verifier_rules.builder import History, cit, instant, pseudonym, svc
from verifier.rules.model import stream_id

Hook = Callable[[dict[str, Any]], dict[str, Any]]
SIX = [{"id": f"o{i}", "title": f"Option {i}"} for i in range(6)]
APPROVAL = {"type": "approval", "max_choices": 3}


@dataclass
class Encrypted:
    """One encrypted ballot in ``h``: ``run`` emits its ceremony, ballots (``votes``: voter number -> list of
    selections, the last counts), end, shares of ``decrypt_by`` and close."""

    h: History
    trustees: int = 3
    threshold: int = 2
    options: list[dict[str, Any]] = field(default_factory=lambda: list(SIX))
    method: dict[str, Any] = field(default_factory=lambda: dict(APPROVAL))
    districts: list[str] | None = None
    tamper: dict[str, Hook] = field(default_factory=dict)
    #: The ballot rule set ceremony_started names (ballot.opened repeats it); None: its rules written inline.
    rule_set: dict[str, Any] | None = None
    #: Called right after ceremony_started (e.g. to publish a rule set while the ceremony runs).
    during_ceremony: Callable[[], Any] | None = None
    bid: str = field(default_factory=lambda: str(uuid.uuid4()))
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _emit(self, name: str, stream: str, etype: str, actor: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        hook = self.tamper.get(name)
        env = self.h.emit(stream, etype, actor, hook(data) if hook else data)
        self.events[name] = env
        return env

    @property
    def _reference(self) -> dict[str, Any]:
        return {} if self.rule_set is None else {"rule_set": self.rule_set}

    def run(
        self,
        votes: Mapping[int, Sequence[Sequence[str]]],
        districts_of: dict[int, str] | None = None,
        decrypt_by: Sequence[int] = (1, 2),
    ) -> dict[str, Any]:
        h, bid, n, k = self.h, self.bid, self.trustees, self.threshold
        for i in range(1, n + 1):
            h.service(f"trustee.{i}", ["ballot:trustee"])
        ceremony = stream_id("ballot", bid, "ceremony")
        spec = {
            "kind": "participatory_budget" if self.method["type"] == "budget" else "local_vote",
            "options": self.options,
            "method": self.method,
            "opens_at": instant(h.now),
            "closes_at": instant(h.now + timedelta(hours=1)),
            "eligibility": {"identity_methods": ["diia"], "min_age": 16, "districts": self.districts},
        }
        trustees = [{"index": i, "service": f"trustee.{i}"} for i in range(1, n + 1)]
        self._emit(
            "started",
            ceremony,
            "ballot.ceremony_started",
            svc("council"),
            {"ballot": bid, "title": "Park", "spec": spec, "trustees": trustees, "threshold": k, **self._reference},
        )
        if self.during_ceremony is not None:
            self.during_ceremony()
        secrets = {i: cer.new_trustee(bid, i, k) for i in range(1, n + 1)}
        keys = {}
        for i, s in secrets.items():
            joined = cer.make_joined(s)
            keys[i] = decode_point(joined["encryption_key"])
            data = {"ballot": bid, "trustee": i, "encryption_key": joined["encryption_key"], "proof": joined["proof"]}
            self._emit(f"joined:{i}", ceremony, "ballot.trustee_joined", svc(f"trustee.{i}"), data)
        commitments = {}
        for i, s in secrets.items():
            c = cer.make_committed(s, keys)
            commitments[i] = [decode_point(x) for x in c["commitments"]]
            data = {"ballot": bid, "trustee": i, **{f: c[f] for f in ("commitments", "proof", "shares")}}
            self._emit(f"committed:{i}", ceremony, "ballot.trustee_committed", svc(f"trustee.{i}"), data)
        for i in secrets:
            self._emit(
                f"verified:{i}", ceremony, "ballot.trustee_verified", svc(f"trustee.{i}"), {"ballot": bid, "trustee": i}
            )
        public_key = cer.joint_key(commitments)
        opened = {
            "title": "Park",
            **spec,
            "pseudonym_key": 1,
            "secrecy": "encrypted",
            "trustees": trustees,
            "threshold": k,
            "public_key": public_key.hex(),
            **self._reference,
        }
        manifest = manifest_hash(bid, opened)
        opened["manifest_hash"] = manifest.hex()
        self._emit("opened", bid, "ballot.opened", svc("council"), opened)
        # casting: the last ballot of each voter counts
        sums: list[list[tuple[Any, Any]]] = [[] for _ in self.options]
        chosen: dict[str, int] = {o["id"]: 0 for o in self.options}
        position = {o["id"]: p for p, o in enumerate(self.options)}
        for voter_n, selections in votes.items():
            voter = pseudonym("vot", voter_n)
            district = (districts_of or {}).get(voter_n)
            st = bal.statement(opened, district)
            last = None
            for m, selection in enumerate(selections):
                made = bal.encrypt(
                    ballot_id=bid,
                    manifest=manifest,
                    public_key=public_key,
                    st=st,
                    voter=voter,
                    district=district,
                    selection=selection,
                )
                data = {**made.body, "identity_method": "diia"}
                etype = "ballot.ballot_cast" if m == 0 else "ballot.ballot_recast"
                stream = stream_id("ballot", bid, "voter", voter)
                self._emit(f"cast:{voter_n}:{m}", stream, etype, cit(voter), data)
                last = (made, st, selection)
            assert last is not None
            made, st, selection = last
            for oid, ct in zip(st.options, made.body["ciphertexts"], strict=True):
                sums[position[oid]].append((decode_point(ct["a"]), decode_point(ct["b"])))
            for oid in selection:
                chosen[oid] += 1
        h.wait(hours=1)
        aggregate = [
            None if not s else {"a": point_sum(a for a, _ in s).hex(), "b": point_sum(b for _, b in s).hex()}
            for s in sums
        ]
        self._emit("ended", bid, "ballot.voting_ended", svc("council"), {"voters": len(votes), "aggregate": aggregate})
        aggregate = self.events["ended"]["data"].get("aggregate", aggregate)  # the trustees decrypt what is logged
        for j in decrypt_by:
            received = {
                i: cer.decrypt_share(bid, i, j, secrets[j].encryption_secret, sealed)
                for i in secrets
                if i != j
                for sealed in self.events[f"committed:{i}"]["data"]["shares"]
                if sealed["to"] == j
            }
            s_j = cer.secret_share(secrets[j], received)
            shares = [
                None
                if agg is None
                else prove_decryption(manifest, public_key, j, [f"option/{o}"], decode_point(agg["a"]), s_j)
                for o, agg in enumerate(aggregate)
            ]
            self._emit(
                f"share:{j}", bid, "ballot.decryption_shared", svc(f"trustee.{j}"), {"trustee": j, "shares": shares}
            )
        funded: dict[str, list[str]] | None = None
        if self.method["type"] == "budget":
            funded = {}
            for district in sorted(self.method["budgets"]):
                left = self.method["budgets"][district]
                cands = [o for o in self.options if o["district"] == district and chosen[o["id"]] > 0]
                cands.sort(key=lambda o: (-chosen[o["id"]], position[o["id"]]))
                funded[district] = []
                for o in cands:
                    if o["cost"] <= left:
                        funded[district].append(o["id"])
                        left -= o["cost"]
        closed = {"voters": len(votes), "counts": chosen, "funded": funded, "decrypted_by": sorted(decrypt_by)[:k]}
        return self._emit("closed", bid, "ballot.closed", svc("council"), closed)
