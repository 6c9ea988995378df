"""Rule violations through the REAL ledger (SQLite and PostgreSQL).

The realistic adversary is the operator: the domain would refuse the lawless command, so they write the
envelope for the next version of an existing stream straight into the events table, let the integrator put it
in the Merkle log and sign a checkpoint, and export a bundle with the ledger's own exporter. Steps 1 and 2 then
pass (the log is consistent and signed); steps 4/5 must name that event.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from domain.kindergarten.order import first_eligible, group_order
from hromada.demo import CITY, EDU, LEGAL, Demo, citizen
from ledger.config import Settings
from ledger.db.schema import checkpoints
from ledger.envelope import build_envelope, canonical_bytes
from ledger.export import write_bundle
from ledger.runtime import Ledger
from tests.verifier import factory
from verifier.audit import AuditReport, Finding, Status, run_audit
from verifier.note import parse_verifier_key
from verifier.rules.model import stream_id


@pytest.fixture
def city(database_url: str, tmp_path: Path) -> Iterator[tuple[Ledger, Demo]]:
    with Ledger(Settings(data_dir=tmp_path / "data", database_url=database_url)) as ledger:
        demo = Demo(ledger, events=200, seed=11)
        demo.run()
        yield ledger, demo


def export_and_audit(ledger: Ledger, out: Path, state: Callable[[int], dict[str, Any]] | None = None) -> AuditReport:
    ledger.integrate_and_checkpoint()
    write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ledger.settings.origin,
        verifier_key=ledger.signer.verifier_key,
        out=out,
        state=state or ledger.published_state,
    )
    report = run_audit(out, parse_verifier_key(ledger.signer.verifier_key), offline=True)
    steps = {s.number: s for s in report.steps}
    assert steps[1].status is Status.PASSED and steps[2].status is Status.PASSED, report.findings()
    return report


def findings(report: AuditReport, step: int) -> list[Finding]:
    return [f for s in report.steps if s.number == step for f in s.findings]


def append_lawless(
    ledger: Ledger, stream: str, etype: str, actor: dict[str, str], data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Write the next version of ``stream`` straight into the events table, as a rogue operator would."""
    ev = ledger.integrator.events
    sqlite = ledger.engine.dialect.name == "sqlite"
    sid = uuid.UUID(stream)
    key = sid.bytes if sqlite else sid
    with ledger.engine.begin() as conn:
        version = (
            conn.execute(select(func.max(ev.c.originator_version)).where(ev.c.originator_id == key)).scalar() or 0
        ) + 1
        topic = None
        for row in conn.execute(select(ev.c.topic, ev.c.state).order_by(ev.c.id.desc())):
            if json.loads(bytes(row.state))["type"] == etype:
                topic = row.topic
                break
        assert topic is not None, etype
        last_id = conn.execute(select(func.max(ev.c.id))).scalar_one()
        envelope = build_envelope(
            origin=ledger.settings.origin,
            stream=sid,
            version=version,
            event_type=etype,
            time=at,
            actor=actor,
            data=data,
        )
        conn.execute(
            ev.insert().values(
                id=last_id + 1,
                originator_id=key,
                originator_version=version,
                topic=topic,
                state=canonical_bytes(envelope),
            )
        )
    return envelope


def poll_rules(demo: Demo) -> str:
    """A ballot rule set for polls (the demo city publishes one for participatory budgets only, and from its first
    ballot rule set on every ballot names one): diia, any age."""
    if "poll-test" not in demo.app.projections.rule_sets:
        rules = {"kind": "poll", "eligibility": {"identity_methods": ["diia"], "min_age": None}}
        demo.app.publish_rule_set(
            by=LEGAL, ruleset="poll-test", version=1, applies_to="ballot", rules=rules, source="a test",
            at=demo.clock.tick(60),
        )  # fmt: skip
    return "poll-test"


def queue_state(demo: Demo) -> tuple[str, dict[str, Any]]:
    qid = demo.report.ids["kindergarten"]
    return qid, demo.app.get_kindergarten_queue(uuid.UUID(qid)).state


def group_with(state: dict[str, Any], n: int) -> tuple[str, int, list[str]]:
    groups: dict[tuple[str, int], list[str]] = {}
    for e in state["entries"].values():
        if e["status"] == "waiting":
            for inst in e["institutions"]:
                groups[(inst, e["birth_year"])] = []
    for inst, year in sorted(groups):
        eligible = [eid for eid in group_order(state, inst, year) if state["entries"][eid]["offer"] is None]
        if len(eligible) >= n:
            return inst, year, eligible
    raise AssertionError("no group large enough")


def offer_data(qid: str, state: dict[str, Any], entry: str, inst: str, year: int, at: datetime) -> dict[str, Any]:
    expires = at + timedelta(days=state["acceptance_days"])
    return {
        "offer": stream_id(qid, "offer", state["offers_issued"] + 1),
        "entry": entry,
        "institution": inst,
        "birth_year": year,
        "place": "rogue-1",
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


# --- the cases ----------------------------------------------------------------------------------------------------
def test_clean_demo_passes_steps_4_and_5(database_url: str, tmp_path: Path) -> None:
    with Ledger(Settings(data_dir=tmp_path / "data", database_url=database_url)) as ledger:
        Demo(ledger, events=400).run()
        report = export_and_audit(ledger, tmp_path / "b")
    steps = {s.number: s for s in report.steps}
    assert steps[4].status is Status.PASSED and steps[5].status is Status.PASSED, [
        f.describe() for f in report.findings()
    ]
    assert steps[4].stats["state_json"] == "equal to the replay"


def test_offer_out_of_turn(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    qid, state = queue_state(demo)
    inst, year, eligible = group_with(state, 2)
    at = demo.clock.tick(60)
    env = append_lawless(
        ledger, qid, "kindergarten.offer_issued", EDU.as_dict(), offer_data(qid, state, eligible[1], inst, year, at), at
    )
    report = export_and_audit(ledger, tmp_path / "b")
    [f] = findings(report, 4)
    assert (f.code, f.event_id, f.event_type, f.index) == (
        "offer_out_of_turn",
        env["id"],
        "kindergarten.offer_issued",
        report.events - 1,
    )
    assert f.expected["entry"] == first_eligible(state, inst, year) == eligible[0] and f.found["entry"] == eligible[1]
    assert findings(report, 5) == []


def test_priority_raised_without_basis(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    qid, state = queue_state(demo)
    entry = next(eid for eid, e in state["entries"].items() if e["status"] == "waiting" and not e["benefits"])
    at = demo.clock.tick(60)
    env = append_lawless(
        ledger,
        qid,
        "kindergarten.benefit_granted",
        EDU.as_dict(),
        {
            "entry": entry,
            "code": state["benefits"][0]["code"],
            "basis": "director's decision",
            "document_commitment": "sha256:" + "0" * 64,
        },
        at,
    )
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id, f.expected, f.found) == (
        "benefit_basis_mismatch",
        env["id"],
        state["benefits"][0]["statute"],
        "director's decision",
    )


def test_registered_at_changed(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    qid, state = queue_state(demo)
    _inst, _year, eligible = group_with(state, 2)
    last = eligible[-1]
    e = state["entries"][last]
    at = demo.clock.tick(60)
    data = {
        "entry": last,
        "applicant": e["applicant"],
        "child": e["child"],
        "child_commitment": e["child_commitment"],
        "birth_year": e["birth_year"],
        "institutions": e["institutions"],
        "registered_at": "2026-01-01T00:00:00.000000Z",
    }
    env = append_lawless(
        ledger, qid, "kindergarten.entry_registered", {"kind": "citizen", "id": e["applicant"]}, data, at
    )
    report = export_and_audit(ledger, tmp_path / "b")
    got = [(f.code, f.event_id, f.expected, f.found) for f in findings(report, 4)]
    assert got[0] == ("registered_at_changed", env["id"], e["registered_at"], "2026-01-01T00:00:00.000000Z")
    assert [g[0] for g in got] == ["registered_at_changed", "registered_at_mismatch"]


def test_second_counted_vote(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    app = demo.app
    opens = demo.clock.tick(60)
    bid = app.open_ballot(
        by=CITY,
        title="Poll",
        rule_set=poll_rules(demo),
        options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"},
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        at=opens,
    )
    vote = app.cast_vote(by=citizen(7), ballot_id=bid, selection=["a"], at=demo.clock.tick(60))
    voter = vote.voter
    at = demo.clock.tick(60)
    rogue_stream = str(uuid.uuid4())  # a second stream for the same voter: a second counted vote
    env = append_lawless(
        ledger,
        rogue_stream,
        "ballot.vote_cast",
        {"kind": "citizen", "id": voter},
        {"ballot": str(bid), "voter": voter, "selection": ["a"], "district": None, "identity_method": "diia"},
        at,
    )
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id, f.found) == ("vote_stream_mismatch", env["id"], rogue_stream)
    assert f.expected == stream_id("ballot", str(bid), "voter", voter)


def test_tally_differs_from_the_votes(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    app = demo.app
    opens = demo.clock.tick(60)
    bid = app.open_ballot(
        by=CITY,
        title="Poll",
        rule_set=poll_rules(demo),
        options=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        method={"type": "single"},
        opens_at=opens,
        closes_at=opens + timedelta(hours=1),
        at=opens,
    )
    for n, choice in ((1, "a"), (2, "a"), (3, "b")):
        app.cast_vote(by=citizen(n), ballot_id=bid, selection=[choice], at=demo.clock.tick(60))
    demo.clock.on_advance = None  # the operator stops the clock to write the close themselves
    at = demo.clock.tick(3600)
    env = append_lawless(
        ledger, str(bid), "ballot.closed", CITY.as_dict(), {"voters": 3, "counts": {"a": 1, "b": 2}, "funded": None}, at
    )
    [f] = findings(export_and_audit(ledger, tmp_path / "b"), 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("tally_mismatch", env["id"], 2, 1)
    assert "$.counts.a" in f.message


def test_signature_after_the_deadline(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    app = demo.app
    pid = app.create_petition(by=citizen(1), title="Trees", text="Plant trees", rule_set="kyiv", at=demo.clock.tick(60))
    app.publish_petition(by=CITY, petition_id=pid, at=demo.clock.tick(60))
    app.sign_petition(by=citizen(2), petition_id=pid, at=demo.clock.tick(60))
    deadline = app.get_petition(pid).state["deadline"]
    demo.clock.on_advance = None  # the operator stops the clock, so the petition is not closed at its deadline
    at = demo.clock.tick(61 * 86400)
    signer = app.pseudonymizer.citizen("diia:demo-3", 1)
    sig_stream = stream_id("petition", str(pid), "signature", signer)
    env = append_lawless(
        ledger,
        sig_stream,
        "petition.signed",
        {"kind": "citizen", "id": signer},
        {"petition": str(pid), "signer": signer, "identity_method": "diia"},
        at,
    )
    found = {f.code: f for f in findings(export_and_audit(ledger, tmp_path / "b"), 4)}
    assert sorted(found) == ["clock_missing", "signature_after_deadline"]  # and the stopped clock is named too
    f = found["signature_after_deadline"]
    assert (f.code, f.event_id, f.expected, f.found) == (
        "signature_after_deadline",
        env["id"],
        f"time < {deadline}",
        env["time"],
    )


def test_event_by_a_service_without_the_scope(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    qid, state = queue_state(demo)
    inst, year, eligible = group_with(state, 1)
    at = demo.clock.tick(60)
    env = append_lawless(
        ledger,
        qid,
        "kindergarten.offer_issued",
        CITY.as_dict(),  # the council holds petition/ballot scopes only
        offer_data(qid, state, eligible[0], inst, year, at),
        at,
    )
    report = export_and_audit(ledger, tmp_path / "b")
    assert findings(report, 4) == []
    [f] = findings(report, 5)
    assert (f.code, f.event_id, f.expected) == ("scope_missing", env["id"], "queue:kindergarten:offer")
    assert f.found == ["ballot:close", "ballot:open", "petition:*"]


def test_published_queue_order_differs(city: tuple[Ledger, Demo], tmp_path: Path) -> None:
    ledger, demo = city
    qid, state = queue_state(demo)
    inst, year, _eligible = group_with(state, 2)

    def doctored(size: int) -> dict[str, Any]:
        published = ledger.published_state(size)
        group = published["kindergarten"][qid][f"{inst}/{year}"]
        group[0], group[1] = group[1], group[0]
        return published

    report = export_and_audit(ledger, tmp_path / "b", state=doctored)
    [f] = findings(report, 4)
    assert f.code == "state_mismatch" and f.details["path"] == f'$.kindergarten["{qid}"]["{inst}/{year}"][0]'
    order = group_order(state, inst, year)
    assert (f.expected, f.found) == (order[0], order[1])
    assert findings(report, 5) == []


def copy_document_and_resign(ledger: Ledger, etype: str) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """The operator copies the document commitment of the first ``etype`` event onto the next one (another child's
    benefit, another household's inclusion), in the stored row, and re-signs every checkpoint beyond it with the
    log key. Returns (the original, the edited event, their indexes)."""
    ev = ledger.integrator.events
    with ledger.engine.begin() as conn:
        rows = conn.execute(select(ev.c.id, ev.c.state).order_by(ev.c.id))
        stored = [(int(row_id), json.loads(bytes(state))) for row_id, state in rows]
        i, j = [n for n, (_, e) in enumerate(stored) if e["type"] == etype][:2]
        original, target = stored[i][1], stored[j][1]
        assert original["data"]["entry"] != target["data"]["entry"]
        target["data"]["document_commitment"] = original["data"]["document_commitment"]
        conn.execute(update(ev).where(ev.c.id == stored[j][0]).values(state=canonical_bytes(target)))
        leaves = [factory.h_leaf(canonical_bytes(e)) for _, e in stored]
        sizes = [s for (s,) in conn.execute(select(checkpoints.c.tree_size)) if s > j]
        assert sizes
        for size in sizes:
            root = factory.mth(leaves[:size])
            body = f"{ledger.settings.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
            conn.execute(update(checkpoints).where(checkpoints.c.tree_size == size)
                         .values(root=root, note=ledger.signer.sign(body)))  # fmt: skip
    return original, target, i, j


@pytest.mark.parametrize("etype", ["kindergarten.benefit_granted", "housing.list_included"])
def test_a_document_commitment_copied_onto_another_entry(city: tuple[Ledger, Demo], tmp_path: Path, etype: str) -> None:
    """One child's benefit document on another child's benefit (one household's list document on another's),
    re-signed: steps 1 and 2 pass, step 4 names the copy and the event it was copied from."""
    ledger, _demo = city
    original, copied, i, j = copy_document_and_resign(ledger, etype)
    report = export_and_audit(ledger, tmp_path / "b")
    [f] = findings(report, 4)
    assert (f.code, f.index, f.event_id, f.event_type) == ("document_commitment_reused", j, copied["id"], etype)
    earlier = f.details["earlier event"]
    assert (earlier["index"], earlier["id"], earlier["entry"]) == (i, original["id"], original["data"]["entry"])
    assert f.details["later event"]["entry"] == copied["data"]["entry"]
    assert f.details["commitment"] == original["data"]["document_commitment"]
    assert findings(report, 5) == []
