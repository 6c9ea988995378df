"""The tamper matrix end to end on the REAL ledger and its database (SQLite and PostgreSQL).

A city (the demo scenario, 344 events, checkpoints at 100, 200, 301 and 344; 341 before the demo published its
kindergarten, housing and ballot statutes) is written through the ledger and exported with the ledger's own
exporter; the independent verifier passes it. Then each case tampers directly in the database (or in the bundle,
where the case is about the bundle), and the verifier must fail with the right diagnosis, naming the right event,
range or size. The cases that need a chain (re-signed checkpoint for
an anchored size, dropped or altered anchors) run on SQLite with a real anvil (slow).

The rule-violation cases (queue jumps, double votes, tallies, ...) are in tests/verifier_rules/.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from sqlalchemy import Connection, delete, select, update
from typer.testing import CliRunner

from hromada.demo import Demo
from ledger.config import Settings
from ledger.export import ExportError, write_bundle
from ledger.runtime import Ledger
from ledger.selfaudit import StorageTampered, self_audit
from tests.verifier import factory
from verifier.anchors import ChainAccess
from verifier.audit import AuditReport, Finding, Status, run_audit
from verifier.cli import app as verify_app
from verifier.errors import NoTrustedContract, VerificationError
from verifier.note import parse_verifier_key
from verifier.receipt import verify_receipt
from verifier.rpc import HttpRpc
from verifier.rules.model import stream_id

SEED = 1  # fixed: the checkpoint sizes and the event positions used below depend on it
EVENTS = 300
CHECKPOINTS = [100, 200, 301, 344]


# --- helpers ---------------------------------------------------------------------------------------------------
def build_city(ledger: Ledger, demo_cls: type[Demo] = Demo) -> None:
    report = demo_cls(ledger, events=EVENTS, seed=SEED).run()
    assert report.checkpoints == CHECKPOINTS


def export(ledger: Ledger, out: Path, **kwargs: Any) -> Path:
    write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ledger.settings.origin,
        verifier_key=ledger.signer.verifier_key,
        out=out,
        rule_sets=ledger.rule_sets(),
        state=ledger.published_state,
        **kwargs,
    )
    return out


def audit(ledger: Ledger, bundle: Path, chain: ChainAccess | None = None) -> AuditReport:
    return run_audit(bundle, parse_verifier_key(ledger.signer.verifier_key), chain=chain, offline=chain is None)


def findings(report: AuditReport, step: int, code: str) -> list[Finding]:
    return [f for s in report.steps if s.number == step for f in s.findings if f.code == code]


def status(report: AuditReport, step: int) -> Status:
    return next(s.status for s in report.steps if s.number == step)


def rows(ledger: Ledger, conn: Connection) -> list[tuple[int, bytes]]:
    """(notification id, stored state) of every event row, in log order."""
    ev = ledger.integrator.events
    return [(int(r[0]), bytes(r[1])) for r in conn.execute(select(ev.c.id, ev.c.state).order_by(ev.c.id))]


def set_state(ledger: Ledger, conn: Connection, row_id: int, state: bytes) -> None:
    ev = ledger.integrator.events
    conn.execute(update(ev).where(ev.c.id == row_id).values(state=state))


def edited(state: bytes, **data: Any) -> bytes:
    """The same event with changed data, re-canonicalised (a valid, canonical line)."""
    event = json.loads(state)
    event["data"].update(data)
    return rfc8785.dumps(event)


def resign(ledger: Ledger, conn: Connection, from_index: int) -> None:
    """The operator's cover-up after editing event ``from_index``: every checkpoint beyond it re-signed with the log
    key over the roots of the edited log (the Merkle tiles are not in the bundle)."""
    from ledger.db.schema import checkpoints

    leaves = [factory.h_leaf(s) for _, s in rows(ledger, conn)]
    for size in (s for s in CHECKPOINTS if s > from_index):
        root = factory.mth(leaves[:size])
        body = f"{ledger.settings.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        conn.execute(update(checkpoints).where(checkpoints.c.tree_size == size)
                     .values(root=root, note=ledger.signer.sign(body)))  # fmt: skip


def replace_signer(ledger: Ledger, conn: Connection, index: int) -> None:
    """A lawful-looking rewrite: petition signature ``index`` now names a fabricated citizen (its pseudonym and
    its actor), so the rules still hold and the published counts still match."""
    row_id, state = rows(ledger, conn)[index]
    event = json.loads(state)
    assert event["type"] == "petition.signed"
    fake = "cit:v1:" + "ab" * 32
    event["data"]["signer"] = fake
    event["actor"]["id"] = fake
    event["stream"] = stream_id("petition", event["data"]["petition"], "signature", fake)  # one per signer
    event["id"] = str(uuid.uuid5(uuid.UUID(event["stream"]), str(event["version"])))
    set_state(ledger, conn, row_id, rfc8785.dumps(event))


def root_mismatch_at(report: AuditReport, size: int) -> Finding:
    return next(f for f in findings(report, 2, "root_mismatch") if f.details["size"] == size)


# The city is written once per backend and copied for each test (a file copy on SQLite, CREATE DATABASE ...
# TEMPLATE on PostgreSQL), together with its data directory (log key, pseudonym and vault keys).
_TEMPLATES: dict[str, tuple[Path, str]] = {}


def _pg_admin(url: str) -> tuple[str, str]:
    """(server URL for psycopg, database name) of a SQLAlchemy PostgreSQL URL."""
    base, name = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)
    return base + "/postgres", name


def _copy_city(database_url: str, data: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    if backend not in _TEMPLATES:
        tpl = tmp_path_factory.mktemp(f"city-{backend}")
        url = f"sqlite:///{tpl / 'ledger.db'}" if backend == "sqlite" else database_url
        with Ledger(Settings(data_dir=tpl / "data", database_url=url)) as ledger:
            build_city(ledger)
        if backend == "postgres":
            import psycopg

            server, name = _pg_admin(database_url)
            with psycopg.connect(server, autocommit=True) as conn:
                # the closed ledger's pools may still hold idle sessions; a template must have none
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(f'CREATE DATABASE "{name}_city" TEMPLATE "{name}"')
            url = f"{database_url}_city"
        _TEMPLATES[backend] = (tpl / "data", url)
        if backend == "postgres":
            shutil.copytree(tpl / "data", data)
            return  # this test's database is the one the city was written to
    tpl_data, tpl_url = _TEMPLATES[backend]
    shutil.copytree(tpl_data, data)
    if backend == "sqlite":
        copy_sqlite(Path(tpl_url.removeprefix("sqlite:///")), Path(database_url.removeprefix("sqlite:///")))
    else:
        import psycopg

        server, name = _pg_admin(database_url)
        _, template = _pg_admin(tpl_url)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


@pytest.fixture
def city(database_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    _copy_city(database_url, tmp_path / "data", tmp_path_factory)
    with Ledger(Settings(data_dir=tmp_path / "data", database_url=database_url)) as ledger:
        assert ledger.status().tree_size == CHECKPOINTS[-1]
        yield ledger


@pytest.fixture
def pristine(city: Ledger, tmp_path: Path) -> Path:
    """The honest bundle, verified before any tampering."""
    bundle = export(city, tmp_path / "pristine")
    report = audit(city, bundle)
    assert report.verified, [f.describe() for f in report.findings()]
    assert [status(report, n) for n in (1, 2)] == [Status.PASSED, Status.PASSED]
    return bundle


# --- database tampering (SQLite and PostgreSQL) ---------------------------------------------------------------
def test_edit_event_data(city: Ledger, pristine: Path, tmp_path: Path) -> None:
    with city.engine.begin() as conn:
        row_id, state = rows(city, conn)[120]
        set_state(city, conn, row_id, edited(state, petition_id=str(uuid.uuid4())))
    report = audit(city, export(city, tmp_path / "b"))
    assert not report.verified and status(report, 1) is Status.PASSED  # the line is a valid envelope
    first = root_mismatch_at(report, 200)
    assert first.details["changed range"] == "[100, 200)"  # event 120 is in it; checkpoint 100 still agrees
    assert {f.details["size"] for f in findings(report, 2, "root_mismatch")} == {200, 301, 344}
    with pytest.raises(StorageTampered, match="leaf 120"):
        self_audit(city.engine, events_table=city.integrator.events.name, origin=city.settings.origin)


def test_delete_event(city: Ledger, pristine: Path, tmp_path: Path) -> None:
    with city.engine.begin() as conn:
        all_rows = rows(city, conn)
        row_id, state = all_rows[250]  # a kindergarten queue event (its stream has ~58 versions)
        deleted = json.loads(state)
        conn.execute(delete(city.integrator.events).where(city.integrator.events.c.id == row_id))
    # the ledger's own checks refuse: the exporter counts, the self-audit compares with the stored leaves
    with pytest.raises(ExportError, match="found 343 stored events for a tree of 344"):
        export(city, tmp_path / "refused")
    with pytest.raises(StorageTampered, match="leaf 250"):
        self_audit(city.engine, events_table=city.integrator.events.name, origin=city.settings.origin)
    # the bundle as the database now holds it (what an exporter that does not count would write)
    bundle = tmp_path / "b"
    shutil.copytree(pristine, bundle)
    with city.engine.connect() as conn:
        (bundle / "events.jsonl").write_bytes(b"".join(s + b"\n" for _, s in rows(city, conn)))
    report = audit(city, bundle)
    count = findings(report, 1, "event_count")[0]
    assert (count.expected, count.found) == (344, 343) and "deleted" in count.message
    gap = findings(report, 1, "version_gap")[0]
    assert gap.index == 250 and gap.expected == deleted["version"]  # names the next event of the stream
    assert root_mismatch_at(report, 301).details["changed range"] == "[200, 301)"
    assert findings(report, 2, "checkpoint_beyond_events")


def test_insert_event(city: Ledger, pristine: Path, tmp_path: Path) -> None:
    """A row inserted in the middle of the log: every later row moves up one notification id."""
    ev = city.integrator.events
    with city.engine.begin() as conn:
        all_rows = rows(city, conn)
        at_id, template = all_rows[120]
        for row_id, _ in reversed(all_rows[120:]):
            conn.execute(update(ev).where(ev.c.id == row_id).values(id=row_id + 1))
        event = json.loads(template)
        stream = uuid.uuid4()
        event.update(stream=str(stream), version=1, id=str(uuid.uuid5(stream, "1")))
        sqlite = city.engine.dialect.name == "sqlite"
        topic = conn.execute(select(ev.c.topic).where(ev.c.id == at_id + 1)).scalar_one()
        conn.execute(
            ev.insert().values(id=at_id, originator_id=stream.bytes if sqlite else stream, originator_version=1,
                               topic=topic, state=rfc8785.dumps(event))
        )  # fmt: skip
    report = audit(city, export(city, tmp_path / "b"))  # the exporter still finds 344 rows up to the last leaf
    assert status(report, 1) is Status.PASSED  # a valid new stream, in time order
    assert root_mismatch_at(report, 200).details["changed range"] == "[100, 200)"
    assert {f.details["size"] for f in findings(report, 2, "root_mismatch")} == {200, 301, 344}
    with pytest.raises(StorageTampered, match="leaf 120"):
        self_audit(city.engine, events_table=city.integrator.events.name, origin=city.settings.origin)


def test_swap_two_events(city: Ledger, pristine: Path, tmp_path: Path) -> None:
    with city.engine.begin() as conn:
        all_rows = rows(city, conn)
        (a_id, a), (b_id, b) = all_rows[150], all_rows[160]
        set_state(city, conn, a_id, b)
        set_state(city, conn, b_id, a)
    report = audit(city, export(city, tmp_path / "b"))
    assert root_mismatch_at(report, 200).details["changed range"] == "[100, 200)"
    backwards = {f.index for f in findings(report, 1, "time_backwards")}
    # the later vote now sits at 150: every event after it up to the earlier vote (now at 160) looks older
    assert backwards == set(range(151, 161))
    assert json.loads(a)["id"] in {f.event_id for f in findings(report, 1, "time_backwards") if f.index == 160}


def test_resigned_history_offline_says_the_rewrite_was_not_checked(
    city: Ledger, pristine: Path, tmp_path: Path
) -> None:
    """An operator-rewritten, re-signed bundle passes every offline step: nothing in the bundle can tell. So the
    report must say, in the summary and in --json, that exactly this was not checked."""
    with city.engine.begin() as conn:
        replace_signer(city, conn, 120)
        resign(city, conn, 120)
    bundle = export(city, tmp_path / "b")
    report = audit(city, bundle)
    assert report.verified and [status(report, n) for n in (1, 2, 4, 5)] == [Status.PASSED] * 4, [
        f.describe() for f in report.findings()
    ]
    assert not report.rewrite.checked and "--offline" in (report.rewrite.reason or "")
    key = city.signer.verifier_key
    human = CliRunner().invoke(verify_app, ["audit", str(bundle), "--key", key, "--offline"])
    assert human.exit_code == 0 and "VERIFIED by steps 1, 2, 4, 5" in human.output, human.output
    assert "OPERATOR REWRITE NOT CHECKED" in human.output and "re-signed the whole log" in human.output
    doc = json.loads(CliRunner().invoke(verify_app, ["audit", str(bundle), "--key", key, "--offline", "--json"]).output)
    assert doc["exit_code"] == 0 and doc["operator_rewrite"]["checked"] is False
    assert any(w.startswith("OPERATOR REWRITE NOT CHECKED") for w in doc["warnings"])


def test_edit_tile_hash(city: Ledger, pristine: Path, tmp_path: Path, database_url: str) -> None:
    """The bundle carries no tiles: the operator's full check finds the edited hash, and a receipt whose
    inclusion proof goes through it fails in the verifier."""
    from hromada.cli import app as hromada
    from ledger.db.schema import merkle_tiles
    from ledger.receipts import build_receipt

    with city.engine.begin() as conn:
        where = (merkle_tiles.c.level == 0, merkle_tiles.c.idx == 0)
        tile = bytes(conn.execute(select(merkle_tiles.c.hashes).where(*where)).scalar_one())
        broken = bytearray(tile)
        broken[10 * 32] ^= 0x01  # leaf hash 10
        conn.execute(update(merkle_tiles).where(*where).values(hashes=bytes(broken)))
        event_11 = json.loads(rows(city, conn)[11][1])["id"]
    with pytest.raises(StorageTampered, match="leaf 10") as exc:
        self_audit(city.engine, events_table=city.integrator.events.name, origin=city.settings.origin)
    assert exc.value.found != exc.value.expected
    result = CliRunner().invoke(
        hromada,
        ["log", "verify", "--data-dir", str(city.settings.data_dir)],
        env={"HROMADA_DATABASE_URL": database_url},
    )
    assert result.exit_code == 1 and "TAMPERED" in result.output and "leaf 10" in result.output
    # the audit bundle is unaffected (the events and checkpoints are intact) ...
    assert audit(city, export(city, tmp_path / "b")).verified
    # ... but the ledger checks each proof it builds: no receipt goes out with a proof through the edited tile
    with city.engine.connect() as conn, pytest.raises(StorageTampered, match="leaf 11") as built:
        build_receipt(conn, events_table=city.integrator.events.name, event_id=uuid.UUID(event_11))
    assert built.value.expected != built.value.found


# --- with a chain (SQLite, a real anvil) ----------------------------------------------------------------------
def _anvil() -> bool:
    from anchoring.node import find_anvil_binary

    try:
        find_anvil_binary()
    except Exception:
        return False
    return True


def anchor_now(service: Any) -> None:
    """Anchor the latest checkpoint and follow it until the ledger records it as mined."""
    anchorer = service.anchorer
    for _ in range(100):
        anchorer.tick(force=True)
        if not anchorer.status()["in_flight_submissions"]:
            return
        time.sleep(0.05)
    raise AssertionError("anchor not mined")


def copy_sqlite(src: Path, dst: Path) -> None:
    for f in src.parent.glob(src.name + "*"):  # the database and any -wal/-shm companion
        shutil.copy(f, dst.parent / (dst.name + f.name[len(src.name) :]))


@pytest.fixture(scope="module")
def anchored_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, ChainAccess]]:
    """One anchored city per module (every checkpoint anchored on a real anvil that stays up for the module):
    (its directory, the verified pristine bundle, the chain access)."""
    from anchoring.anchorer import AnchorerConfig
    from anchoring.service import AnchoringService

    tpl = tmp_path_factory.mktemp("anchored-city")
    settings = Settings(data_dir=tpl / "data", database_url=f"sqlite:///{tpl / 'ledger.db'}")
    config = AnchorerConfig(every_seconds=0.0, poll_seconds=0.05, confirmations=1, finality="confirmations")
    with Ledger(settings) as ledger:
        service = AnchoringService(ledger.engine, origin=settings.origin, data_dir=settings.data_dir, config=config)
        service.start()
        try:
            service.anchorer.stop_background()  # type: ignore[union-attr]

            class AnchoringDemo(Demo):
                def checkpoint(self) -> None:
                    super().checkpoint()
                    anchor_now(service)

            build_city(ledger, AnchoringDemo)
            assert service.chain_config is not None
            with HttpRpc(service.chain_config.rpc_url) as rpc:
                chain = ChainAccess(rpc, rpc.display)
                bundle = export_anchored(ledger, tpl / "pristine")
                report = audit(ledger, bundle, chain)
                assert report.verified, [f.describe() for f in report.findings()]
                s3 = next(s for s in report.steps if s.number == 3)
                assert s3.status is Status.PASSED and s3.stats["anchored_sizes_matching"] == CHECKPOINTS
                yield tpl, bundle, chain
        finally:
            service.stop()


def export_anchored(ledger: Ledger, out: Path) -> Path:
    from anchoring.records import anchors_up_to, chain_info

    return export(ledger, out, anchors=anchors_up_to, chain=chain_info(ledger.settings.data_dir))


@pytest.fixture
def anchored_city(
    anchored_template: tuple[Path, Path, ChainAccess], tmp_path: Path
) -> Iterator[tuple[Ledger, Path, ChainAccess]]:
    """A copy of the anchored city (database and data directory); the chain is shared and never changed."""
    tpl, pristine, chain = anchored_template
    shutil.copytree(tpl / "data", tmp_path / "data")
    copy_sqlite(tpl / "ledger.db", tmp_path / "ledger.db")
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    with Ledger(settings) as ledger:
        yield ledger, pristine, chain


def with_chain(fn: Any) -> Any:
    """SQLite only (no database_url parameter), a real anvil, slow."""
    return pytest.mark.slow(pytest.mark.skipif(not _anvil(), reason="anvil missing: make node-deps")(fn))


@with_chain
def test_resigned_checkpoint_for_an_anchored_size(
    anchored_city: tuple[Ledger, Path, ChainAccess], tmp_path: Path
) -> None:
    """The operator edits event 150 and re-signs every later checkpoint with the log key: the bundle is
    consistent with its own signatures (step 2 passes), but the chain still holds the old roots."""
    ledger, _, chain = anchored_city
    with ledger.engine.begin() as conn:
        row_id, state = rows(ledger, conn)[150]
        set_state(ledger, conn, row_id, edited(state, selection=[]))
        resign(ledger, conn, 150)
    report = audit(ledger, export_anchored(ledger, tmp_path / "b"), chain)
    assert status(report, 2) is Status.PASSED and status(report, 3) is Status.FAILED
    mismatch = {f.details["size"]: f for f in findings(report, 3, "anchor_root_mismatch")}
    assert sorted(mismatch) == [200, 301, 344] and mismatch[200].details["changed range"] == "[100, 200)"
    contradicts = findings(report, 3, "checkpoint_contradicts_anchor")
    assert sorted(f.details["note"] for f in contradicts) == ["checkpoints/200", "checkpoints/301", "checkpoints/344"]


@with_chain
def test_resigned_history_without_chain_claims(anchored_city: tuple[Ledger, Path, ChainAccess], tmp_path: Path) -> None:
    """Issue #19: the operator rewrites signature 120, re-signs, and exports without any trace of the chain (no
    ``chain`` in log.json, no anchors.jsonl). With --rpc alone the audit refuses and shows the contract that does
    anchor this log; with the city's published contract it names the hidden anchoring and the rewrite."""
    ledger, pristine, chain = anchored_city
    contract = json.loads((pristine / "log.json").read_text())["chain"]["contract"]
    with ledger.engine.begin() as conn:
        replace_signer(ledger, conn, 120)
        resign(ledger, conn, 120)
    bundle = export(ledger, tmp_path / "b")  # the plain export: no chain, no anchors
    assert "chain" not in json.loads((bundle / "log.json").read_text())
    assert not (bundle / "anchors.jsonl").read_text().strip()
    with pytest.raises(NoTrustedContract) as exc:
        audit(ledger, bundle, chain)
    assert [c["contract"] for c in exc.value.candidates] == [contract.lower()]
    report = audit(ledger, bundle, dataclasses.replace(chain, contract=contract))
    assert status(report, 2) is Status.PASSED and status(report, 3) is Status.FAILED
    [claims] = findings(report, 3, "bundle_claims_no_anchors")
    assert claims.details["anchored sizes"] == CHECKPOINTS
    assert sorted(f.details["size"] for f in findings(report, 3, "anchor_root_mismatch")) == [200, 301, 344]
    assert len(findings(report, 3, "anchor_missing_from_bundle")) == len(CHECKPOINTS)
    assert report.rewrite.checked and report.rewrite.anchored_size == 344


@with_chain
def test_dropped_anchor(anchored_city: tuple[Ledger, Path, ChainAccess], tmp_path: Path) -> None:
    from anchoring.schema import anchors

    ledger, _, chain = anchored_city
    with ledger.engine.begin() as conn:
        conn.execute(delete(anchors).where(anchors.c.tree_size == 200))
    report = audit(ledger, export_anchored(ledger, tmp_path / "b"), chain)
    hidden = findings(report, 3, "anchor_missing_from_bundle")
    assert [f.details["size"] for f in hidden] == [200] and len(report.findings()) == 1


@with_chain
def test_altered_anchor(anchored_city: tuple[Ledger, Path, ChainAccess], tmp_path: Path) -> None:
    from anchoring.schema import anchors

    ledger, _, chain = anchored_city
    with ledger.engine.begin() as conn:
        conn.execute(update(anchors).where(anchors.c.tree_size == 301).values(root=b"\x07" * 32))
    report = audit(ledger, export_anchored(ledger, tmp_path / "b"), chain)
    differs = findings(report, 3, "anchor_root_differs_from_chain")
    assert [f.details["size"] for f in differs] == [301] and differs[0].found == "07" * 32
    assert [f.details["size"] for f in findings(report, 3, "anchor_missing_from_bundle")] == [301]


@with_chain
def test_bundle_lists_an_anchor_not_on_chain(anchored_city: tuple[Ledger, Path, ChainAccess], tmp_path: Path) -> None:
    ledger, pristine, chain = anchored_city
    bundle = tmp_path / "b"
    shutil.copytree(pristine, bundle)
    lines = (bundle / "anchors.jsonl").read_text().splitlines()
    forged = dict(json.loads(lines[-1]), tree_size=250, tx="0x" + "ab" * 32)
    (bundle / "anchors.jsonl").write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    report = audit(ledger, bundle, chain)
    assert [f.details["size"] for f in findings(report, 3, "anchor_not_on_chain")] == [250]


@with_chain
def test_ledger_receipt_confirmed_on_chain_and_a_swapped_anchor_tx(
    anchored_city: tuple[Ledger, Path, ChainAccess],
) -> None:
    """A receipt from the ledger (ledger.receipts + anchoring.records.anchor_covering) is confirmed on chain;
    pointing its anchor row at another anchor's transaction is caught only by the chain check."""
    from anchoring.records import anchor_covering
    from anchoring.schema import anchor_submissions, anchors
    from ledger.receipts import build_receipt

    ledger, _, chain = anchored_city
    key = parse_verifier_key(ledger.signer.verifier_key)
    with ledger.engine.connect() as conn:
        event_id = json.loads(rows(ledger, conn)[150][1])["id"]
        receipt = build_receipt(
            conn, events_table=ledger.integrator.events.name, event_id=uuid.UUID(event_id), anchors=anchor_covering
        )
    assert receipt["status"] == "anchored" and receipt["anchor"]["tree_size"] == 200
    report = verify_receipt(receipt, key, chain=chain)
    assert {c.name: c.status for c in report.checks}["anchor on chain"] == "passed"
    with ledger.engine.begin() as conn:  # the 200 anchor's submission now claims the 100 anchor's transaction
        subs = dict(conn.execute(select(anchors.c.tree_size, anchors.c.submission_id)).tuples().all())
        other = conn.execute(
            select(
                anchor_submissions.c.tx_hash, anchor_submissions.c.block_number, anchor_submissions.c.block_hash
            ).where(anchor_submissions.c.id == subs[100])
        ).one()
        conn.execute(
            update(anchor_submissions)
            .where(anchor_submissions.c.id == subs[200])
            .values(tx_hash=other[0], block_number=other[1], block_hash=other[2])
        )
        forged = build_receipt(
            conn, events_table=ledger.integrator.events.name, event_id=uuid.UUID(event_id), anchors=anchor_covering
        )
    assert verify_receipt(forged, key, offline=True).exit_code == 0  # offline, nothing is wrong
    with pytest.raises(VerificationError) as exc:
        verify_receipt(forged, key, chain=chain)
    assert exc.value.code == "anchor_log_mismatch" and "size 100" in str(exc.value.evidence.found)
