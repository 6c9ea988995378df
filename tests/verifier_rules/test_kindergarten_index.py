"""The kindergarten queue's ordered index (kept in the spill store) gives exactly the brute-force first eligible
entry and group orders, on random histories that include lawless events (out-of-turn offers, answers to stale
offers, changes of a placed entry), with caches so small that entries are evicted to disk and read back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.verifier_rules.builder import BENEFITS, KG_REMOVAL, commitment, pseudonym
from verifier.rules.kindergarten import KindergartenRules, Queue
from verifier.rules.model import Event, Violation, stream_id
from verifier.rules.store import Scratch

INSTITUTIONS = ["k1", "k2", "k3"]
YEARS = [2022, 2023]


def brute_force(q: Queue, institution: str, year: int) -> str | None:
    keys = [
        (e.rank, e.registered_at, eid)
        for eid, e in q.entries.items()
        if e.status == "waiting" and e.offer is None and e.birth_year == year and institution in e.institutions
    ]
    return min(keys)[2] if keys else None


def brute_orders(q: Queue) -> dict[str, list[str]]:
    groups: dict[tuple[str, int], list[str]] = {}
    for eid, e in q.entries.items():
        if e.status == "waiting":
            for inst in e.institutions:
                groups.setdefault((inst, e.birth_year), []).append(eid)
    return {f"{i}/{y}": sorted(ids, key=q.key) for (i, y), ids in sorted(groups.items())}


@pytest.mark.parametrize("seed", range(12))
def test_index_agrees_with_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    violations: list[Violation] = []
    scratch = Scratch(cache_items=rng.choice([1, 3, 10_000]))
    rules = KindergartenRules(violations.append, scratch)
    qid = "0e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
    now = datetime(2026, 1, 5, tzinfo=UTC)
    version = 0

    def emit(etype: str, data: dict[str, Any]) -> None:
        nonlocal now, version
        version += 1
        now += timedelta(minutes=rng.randint(1, 600))
        t = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rules.handle(Event(version, "id", etype, qid, version, t, {"kind": "system", "id": "x"}, data))
        scratch.maintain()  # as the replay does between events

    emit(
        "kindergarten.created",
        {
            "kind": "kindergarten",
            "name": "Q",
            "institutions": INSTITUTIONS,
            "benefits": BENEFITS,
            "removal_reasons": KG_REMOVAL,
            "acceptance_days": 7,
            "max_preferences": 3,
            "pseudonym_key": 1,
        },
    )
    q = rules.queues[qid]
    for step in range(400):
        entries = list(q.entries)
        op = rng.random()
        if op < 0.3 or not entries:
            n = len(entries) + 1
            emit(
                "kindergarten.entry_registered",
                {
                    "entry": stream_id(qid, "entry", n),
                    "applicant": pseudonym("cit", n),
                    "child": pseudonym("chd", n),
                    "child_commitment": commitment(n),
                    "birth_year": rng.choice(YEARS),
                    "institutions": rng.sample(INSTITUTIONS, rng.randint(1, 3)),
                    "registered_at": "x",
                },
            )
        elif op < 0.4:
            code = rng.choice(BENEFITS)["code"]
            emit(
                "kindergarten.benefit_granted",
                {"entry": rng.choice(entries), "code": code, "basis": "b", "document_commitment": commitment(step)},
            )
        elif op < 0.45:
            e = rng.choice(entries)
            if q.entries[e].benefits:
                emit(
                    "kindergarten.benefit_revoked",
                    {"entry": e, "code": sorted(q.entries[e].benefits)[0], "reason": "status_ended"},
                )
        elif op < 0.5:
            emit(
                "kindergarten.preferences_changed",
                {"entry": rng.choice(entries), "institutions": rng.sample(INSTITUTIONS, rng.randint(1, 3))},
            )
        elif op < 0.75:
            inst, year = rng.choice(INSTITUTIONS), rng.choice(YEARS)
            first = brute_force(q, inst, year)
            target = first if first is not None and rng.random() < 0.8 else rng.choice(entries)
            emit(
                "kindergarten.offer_issued",
                {
                    "offer": stream_id(qid, "offer", q.offers_issued + 1),
                    "entry": target,
                    "institution": inst,
                    "birth_year": year,
                    "place": f"p{step}",
                    "expires_at": "2030-01-01T00:00:00.000000Z",
                },
            )
        elif op < 0.95 and q.offers:
            oid = rng.choice(list(q.offers))
            etype = rng.choice(
                ["kindergarten.offer_accepted", "kindergarten.offer_declined", "kindergarten.offer_expired"]
            )
            emit(etype, {"offer": oid, "entry": q.offers[oid].entry})
        else:
            emit(
                rng.choice(["kindergarten.entry_withdrawn", "kindergarten.entry_removed"]),
                {"entry": rng.choice(entries), "reason_code": "school_age"},
            )
        for inst in INSTITUTIONS:
            for year in YEARS:
                assert q.first_eligible(inst, year) == brute_force(q, inst, year), (seed, step, inst, year)
        if step % 50 == 0:
            assert q.orders() == brute_orders(q), (seed, step)
    assert q.orders() == brute_orders(q)
    assert any(v.code == "offer_out_of_turn" for v in violations)
    scratch.close()
