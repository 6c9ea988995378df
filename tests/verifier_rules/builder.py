"""Test-only history builder: lawful docs/domain.md histories written as audit bundles, written from the docs
(not from domain/), so a test can add exactly one lawless event and see the verifier name it.

Envelopes, checkpoints and log.json come from tests/verifier/factory.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.verifier import factory
from verifier.audit import AuditReport, CheckpointStep, EnvelopeStep, Finding, run_audit
from verifier.note import parse_verifier_key
from verifier.rules.model import stream_id
from verifier.rules.steps import AuthorisationStep, RuleReplayStep
from verifier.voting.hashing import manifest_hash

ORIGIN = factory.ORIGIN
NS = uuid.UUID("6f1c3a52-2d7e-5b8c-9a41-0e5b7c9d2f13")
SYSTEM = {"kind": "system", "id": "operator"}
RULES = {"kind": "system", "id": "rules"}
CALENDAR = {
    "name": "ua-martial-law",
    "weekend": [5, 6],
    "fixed": ["01-01", "03-08", "05-01", "05-08", "06-28", "07-15", "08-24", "10-01", "12-25"],
    "movable": ["easter", "trinity"],
    "weekend_transfer": True,
    "martial_law": True,
    "extra_holidays": [],
    "extra_working_days": [],
}
BENEFITS = [
    {"code": "military_child", "title": "Children of servicemen", "statute": "Law on servicemen, art. 13"},
    {"code": "large_family", "title": "Large families", "statute": "Law on childhood, art. 13"},
]
KG_REMOVAL = [{"code": "school_age", "title": "School age", "statute": "Law on preschool education"}]
HOUSING_REMOVAL = [{"code": "art40.2", "title": "Moved away", "statute": "Housing Code, art. 40 (2)"}]
LIST_BASES = {
    "first_priority": [{"code": "art45.combatant", "title": "Combatants", "statute": "Housing Code, art. 45"}],
    "out_of_turn": [{"code": "art46.orphan", "title": "Orphans", "statute": "Housing Code, art. 46"}],
}
#: The rules of the builder's queues and registers, as a rule set for them holds them (docs/domain.md "City-owned
#: rule sets"); a queue's ``acceptance_days`` is its own argument.
KG_RULES = {"benefits": BENEFITS, "removal_reasons": KG_REMOVAL, "acceptance_days": 7, "max_preferences": 3}
HOUSING_RULES = {"removal_reasons": HOUSING_REMOVAL, "list_bases": LIST_BASES}
BALLOT_RULES = {"kind": "poll", "eligibility": {"identity_methods": ["diia"], "min_age": 16}}


def svc(sid: str) -> dict[str, str]:
    return {"kind": "service", "id": sid}


def cit(pseudonym: str) -> dict[str, str]:
    return {"kind": "citizen", "id": pseudonym}


def pseudonym(prefix: str, n: int | str) -> str:
    return f"{prefix}:v1:" + uuid.uuid5(NS, f"{prefix}{n}").hex * 2


def commitment(n: int | str) -> str:
    return "sha256:" + uuid.uuid5(NS, f"c{n}").hex * 2


def instant(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class History:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 7, 0, tzinfo=UTC))  # a Monday, 09:00 Kyiv
    events: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    # -- raw ----------------------------------------------------------------------------------------------
    def emit(
        self, stream: str, etype: str, actor: dict[str, str], data: dict[str, Any], *, version: int | None = None
    ) -> dict[str, Any]:
        v = version if version is not None else self.versions.get(stream, 0) + 1
        self.versions[stream] = max(v, self.versions.get(stream, 0))
        env = factory.envelope(ORIGIN, stream, v, etype, self.now, actor, data)
        self.events.append(env)
        self.now += timedelta(milliseconds=1)
        return env

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def index_of(self, env: dict[str, Any]) -> int:
        return next(i for i, e in enumerate(self.events) if e["id"] == env["id"])

    def _next(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    # -- services -----------------------------------------------------------------------------------------
    def service(self, sid: str, scopes: Sequence[str]) -> dict[str, Any]:
        return self.emit(
            stream_id("service", sid),
            "service.registered",
            SYSTEM,
            {"service": sid, "name": sid, "scopes": sorted(scopes)},
        )

    def city(self) -> None:
        self.service("council", ["ballot:*", "petition:*"])
        self.service("education", ["queue:kindergarten:*"])
        self.service("housing", ["queue:housing:*"])

    # -- rule sets ----------------------------------------------------------------------------------------
    def legal(self) -> None:
        """The city's legal department (``rules:admin``), which publishes rule sets."""
        self.service("legal", ["rules:admin"])

    def rule_set(
        self, name: str, applies_to: str, rules: dict[str, Any], version: int = 1, *, stream: str | None = None
    ) -> dict[str, Any]:
        return self.emit(
            stream or stream_id("ruleset", name, str(version)),
            "ruleset.published",
            svc("legal"),
            {"ruleset": name, "version": version, "applies_to": applies_to, "rules": rules, "source": "a test"},
        )

    # -- petitions ----------------------------------------------------------------------------------------
    def petition(self, threshold: int = 3, period: dict[str, int] | None = None, author: int = 0) -> str:
        pid = str(uuid.uuid4())
        rules = {
            "city": "test",
            "threshold": threshold,
            "period": period or {"days": 10},
            "identity_methods": ["bankid", "diia"],
            "response_working_days": 10,
            "timezone": "Europe/Kyiv",
            "calendar": CALENDAR,
            "max_title_chars": 200,
            "max_text_chars": 10000,
            "source": "test",
        }
        a = pseudonym("cit", f"author{author}")
        self.emit(
            pid,
            "petition.created",
            cit(a),
            {"title": "Trees", "text": "Plant trees", "rules": rules, "pseudonym_key": 1, "author": a},
        )
        self.counters[pid + ":period"] = rules["period"].get("days", 0)
        return pid

    def publish(self, pid: str, deadline: str | None = None) -> dict[str, Any]:
        days = self.counters[pid + ":period"]
        return self.emit(
            pid,
            "petition.published",
            svc("council"),
            {"deadline": deadline or instant(self.now + timedelta(days=days))},
        )

    def sign(self, pid: str, n: int, *, stream: str | None = None, version: int = 1) -> dict[str, Any]:
        signer = pseudonym("cit", n)
        return self.emit(
            stream or stream_id("petition", pid, "signature", signer),
            "petition.signed",
            cit(signer),
            {"petition": pid, "signer": signer, "identity_method": "diia"},
            version=version,
        )

    def threshold(self, pid: str, signature: dict[str, Any], count: int, due_date: str) -> dict[str, Any]:
        self.now = datetime.strptime(signature["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return self.emit(
            pid,
            "petition.threshold_reached",
            RULES,
            {"count": count, "signature": signature["stream"], "due_date": due_date},
        )

    # -- ballots ------------------------------------------------------------------------------------------
    def ballot(
        self,
        method: dict[str, Any] | None = None,
        options: list[dict[str, Any]] | None = None,
        districts: list[str] | None = None,
        hours: int = 24,
        rule_set: dict[str, Any] | None = None,
    ) -> str:
        """A legacy open ballot (no ``secrecy``), or with ``rule_set`` a current one naming that rule set (its
        manifest hash computed as docs/voting.md §3 says)."""
        bid = str(uuid.uuid4())
        data: dict[str, Any] = {
            "title": "Park",
            "kind": "poll",
            "options": options or [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}],
            "method": method or {"type": "single"},
            "opens_at": instant(self.now),
            "closes_at": instant(self.now + timedelta(hours=hours)),
            "eligibility": {"identity_methods": ["diia"], "min_age": 16, "districts": districts},
            "pseudonym_key": 1,
        }
        if rule_set is not None:
            data.update(secrecy="open", trustees=[], threshold=None, public_key=None, rule_set=rule_set)
            data["manifest_hash"] = manifest_hash(bid, data).hex()
        self.emit(bid, "ballot.opened", svc("council"), data)
        return bid

    def vote(
        self,
        bid: str,
        n: int,
        selection: list[str],
        district: str | None = None,
        *,
        stream: str | None = None,
        etype: str | None = None,
    ) -> dict[str, Any]:
        voter = pseudonym("vot", n)
        s = stream or stream_id("ballot", bid, "voter", voter)
        t = etype or ("ballot.vote_cast" if s not in self.versions else "ballot.vote_changed")
        return self.emit(
            s,
            t,
            cit(voter),
            {"ballot": bid, "voter": voter, "selection": selection, "district": district, "identity_method": "diia"},
        )

    def close_ballot(self, bid: str, tally: dict[str, Any]) -> dict[str, Any]:
        return self.emit(bid, "ballot.closed", svc("council"), tally)

    # -- kindergarten -------------------------------------------------------------------------------------
    def queue(
        self,
        institutions: Sequence[str] = ("k1", "k2"),
        acceptance_days: int = 7,
        rule_set: dict[str, Any] | None = None,
    ) -> str:
        qid = str(uuid.uuid4())
        data: dict[str, Any] = {
            "kind": "kindergarten",
            "name": "Queue",
            "institutions": list(institutions),
            **KG_RULES,
            "acceptance_days": acceptance_days,
            "pseudonym_key": 1,
        }
        if rule_set is not None:
            data["rule_set"] = rule_set
        self.emit(qid, "queue.created", svc("education"), data)
        return qid

    def register_child(self, qid: str, n: int, institutions: Sequence[str] = ("k1",), birth_year: int = 2023) -> str:
        entry = stream_id(qid, "entry", self._next(qid + ":entry"))
        applicant = pseudonym("cit", f"parent{n}")
        self.emit(
            qid,
            "queue.entry_registered",
            cit(applicant),
            {
                "entry": entry,
                "applicant": applicant,
                "child": pseudonym("chd", n),
                "child_commitment": commitment(n),
                "birth_year": birth_year,
                "institutions": list(institutions),
                "registered_at": instant(self.now),
            },
        )
        return entry

    def grant(
        self,
        qid: str,
        entry: str,
        code: str = "military_child",
        basis: str | None = None,
        document: str | None = None,
    ) -> dict[str, Any]:
        statute = {b["code"]: b["statute"] for b in BENEFITS}.get(code, "?")
        return self.emit(
            qid,
            "queue.benefit_granted",
            svc("education"),
            {
                "entry": entry,
                "code": code,
                "basis": basis if basis is not None else statute,
                "document_commitment": document if document is not None else commitment(f"{entry}/{code}"),
            },
        )

    def revoke(self, qid: str, entry: str, code: str = "military_child", reason: str = "granted_in_error") -> None:
        self.emit(qid, "queue.benefit_revoked", svc("education"), {"entry": entry, "code": code, "reason": reason})

    def offer(
        self,
        qid: str,
        entry: str,
        institution: str = "k1",
        place: str = "p1",
        birth_year: int = 2023,
        days: int = 7,
        actor: dict[str, str] | None = None,
    ) -> str:
        oid = stream_id(qid, "offer", self._next(qid + ":offer"))
        self.emit(
            qid,
            "queue.offer_issued",
            actor or svc("education"),
            {
                "offer": oid,
                "entry": entry,
                "institution": institution,
                "birth_year": birth_year,
                "place": place,
                "expires_at": instant(self.now + timedelta(days=days)),
            },
        )
        return oid

    def answer(self, qid: str, oid: str, entry: str, etype: str, actor: dict[str, str]) -> dict[str, Any]:
        return self.emit(qid, etype, actor, {"offer": oid, "entry": entry})

    # -- housing ------------------------------------------------------------------------------------------
    def register(self, rule_set: dict[str, Any] | None = None) -> str:
        rid = str(uuid.uuid4())
        data: dict[str, Any] = {"name": "City", **HOUSING_RULES, "pseudonym_key": 1}
        if rule_set is not None:
            data["rule_set"] = rule_set
        self.emit(rid, "housing.register_opened", svc("housing"), data)
        return rid

    def register_household(self, rid: str, n: int) -> str:
        entry = stream_id(rid, "entry", self._next(rid + ":entry"))
        applicant = pseudonym("cit", f"household{n}")
        self.emit(
            rid,
            "housing.entry_registered",
            cit(applicant),
            {
                "entry": entry,
                "applicant": applicant,
                "household_commitment": commitment(f"h{n}"),
                "registered_at": instant(self.now),
            },
        )
        return entry

    def include(
        self, rid: str, entry: str, name: str = "first_priority", document: str | None = None
    ) -> dict[str, Any]:
        [basis] = LIST_BASES[name]
        return self.emit(
            rid,
            "housing.list_included",
            svc("housing"),
            {
                "entry": entry,
                "list": name,
                "code": basis["code"],
                "basis": basis["statute"],
                "document_commitment": document if document is not None else commitment(f"{entry}/{name}"),
            },
        )

    def exclude(self, rid: str, entry: str, name: str = "first_priority", reason: str = "granted_in_error") -> None:
        self.emit(rid, "housing.list_excluded", svc("housing"), {"entry": entry, "list": name, "reason": reason})

    # -- output -------------------------------------------------------------------------------------------
    def write(self, path: Path, state: dict[str, Any] | None = None) -> Path:
        factory.write_bundle(path, lines=[factory.jcs(e) for e in self.events])
        if state is not None:
            (path / "state.json").write_text(json.dumps(state), encoding="utf-8")
        return path


def audit(bundle: Path) -> AuditReport:
    return run_audit(
        bundle,
        parse_verifier_key(factory.make_signer(ORIGIN).verifier_key),
        offline=True,
        steps=[EnvelopeStep(), CheckpointStep(), RuleReplayStep(), AuthorisationStep()],
    )


def findings(report: AuditReport, step: int, code: str | None = None) -> list[Finding]:
    out = [f for s in report.steps if s.number == step for f in s.findings]
    return [f for f in out if code is None or f.code == code]


def codes(report: AuditReport, step: int) -> list[str]:
    return [f.code for f in findings(report, step)]
