"""`hromada-verify audit URL`: a running ledger audited through its checkpoint and entry tiles (verifier/remote.py),
on SQLite and PostgreSQL; the tile paths and entry bundles against the shared C2SP vectors; a tampered stored event
and an unreachable ledger."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from hromada.demo import Demo
from ledger.config import Settings
from ledger.db.schema import merkle_tiles
from ledger.export import write_bundle
from ledger.runtime import Ledger
from tests.ports import free_port
from tests.verifier import factory
from tests.witness.servers import serve_in_thread
from verifier import remote
from verifier.audit import AuditReport, Status, Step, default_steps, run_audit
from verifier.cli import app as verify_cli
from verifier.errors import UnreadableInput
from verifier.note import parse_verifier_key
from verifier.remote import LedgerSource, _TileCheck, encode_index, entries_path, parse_entry_bundle
from verifier.steps.defaults import rule_steps  # the real ones: conftest.py skips them for factory bundles

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / ".." / "shared" / "testvectors" / "tlog_tiles.json").read_text()
)


def test_index_paths_are_the_spec_examples() -> None:
    for ex in VECTORS["index_path_examples"]:
        assert encode_index(ex["index"]) == ex["encoded"]
    tree = VECTORS["eight_leaf_tree"]
    assert entries_path(0, 8) == tree["entry_bundle_path"]
    assert entries_path(1234067) == "tile/entries/x001/x234/067"


def test_entry_bundle_of_the_spec_tree() -> None:
    data = bytes.fromhex(VECTORS["eight_leaf_tree"]["entry_bundle_hex"])
    entries = parse_entry_bundle(data, 8)
    assert entries[0] == b"" and entries[1] == b"\x00" and entries[7] == bytes(range(0x60, 0x70))


def test_hash_tiles_recomputed_are_the_spec_tiles() -> None:
    """The 8-leaf tree's level-0 tile, recomputed from its entry bundle; a served tile that differs is named at
    its first differing hash."""
    tree = VECTORS["eight_leaf_tree"]
    entries = parse_entry_bundle(bytes.fromhex(tree["entry_bundle_hex"]), 8)
    leaves = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    good = bytes.fromhex(tree["level0_tile_hex"])
    for served, problems in ((good, []), (good[:96] + bytes(32) + good[128:], [(tree["level0_tile_path"], 3)])):
        check = _TileCheck(lambda path, served=served: served)
        check.add_leaves(leaves)
        check.finish()
        assert [(p.path, p.index) for p in check.problems] == problems
        assert check.checked == 1


@pytest.mark.parametrize("size", [70000, 256])
def test_the_tiles_compared_are_the_spec_geometry(size: int) -> None:
    """Every full tile and the partial tiles of the spec's examples, at every level, and nothing else."""
    asked: list[str] = []
    check = _TileCheck(lambda path: asked.append(path))  # returns None: "not served"
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    for at in range(0, size, 256):
        check.add_leaves(leaves[at : at + 256])
    check.finish()
    expected = set()
    for level in VECTORS["tiles_for_tree_size"][str(size)]:
        expected |= {f"tile/{level['level']}/{encode_index(n)}" for n in range(level["full_tiles"])}
        if level["partial_path"]:
            expected.add(level["partial_path"])
    assert sorted(asked) == sorted(expected) and len(asked) == len(expected)
    assert {p.path for p in check.problems} == expected


@pytest.mark.parametrize(
    ("data", "width"),
    [(b"\x00\x01a\x00", 1), (b"\x00\x05ab", 1), (b"\x00\x01a", 2), (b"\x00\x01a\x00\x01b", 1)],
    ids=["cut length", "short entry", "too few", "too many"],
)
def test_a_malformed_entry_bundle_is_refused(data: bytes, width: int) -> None:
    with pytest.raises(ValueError):
        parse_entry_bundle(data, width)


@pytest.fixture
def served(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A demo city of 600 events (3 entry bundles: two full, one partial), integrated, checkpointed and served."""
    monkeypatch.setenv("HROMADA_DATA_DIR", str(tmp_path / "data"))
    ledger = Ledger(Settings(data_dir=tmp_path / "data", database_url=database_url))
    Demo(ledger, events=600, seed=5).run()
    ledger.integrate_and_checkpoint()
    try:
        with serve_in_thread(create_app(ledger, settings=ApiSettings()), free_port()) as url:
            yield {"url": url, "ledger": ledger}
    finally:
        ledger.close()


def _statuses(report: AuditReport) -> dict[int, Status]:
    return {s.number: s.status for s in report.steps}


def _domain_steps() -> list[Step]:
    """Steps 1-5 with the rules replayed: the demo city is a domain history."""
    return [*default_steps(rules=False)[:3], *rule_steps(rules=True)]


def test_a_ledger_url_audits_like_its_bundle(served: dict[str, Any], tmp_path: Path) -> None:
    ledger: Ledger = served["ledger"]
    key = parse_verifier_key(ledger.signer.verifier_key)
    remote = run_audit(served["url"], key, offline=True, steps=_domain_steps())
    assert remote.verified, remote.findings()
    with LedgerSource(served["url"]) as source:
        size = source.tree_size
    assert remote.events == size > 512  # two full entry bundles and a partial one
    write_bundle(
        ledger.engine,
        events_table=ledger.integrator.events.name,
        origin=ledger.settings.origin,
        verifier_key=ledger.signer.verifier_key,
        out=tmp_path / "bundle",
        tree_size=size,
    )
    local = run_audit(tmp_path / "bundle", key, offline=True, steps=_domain_steps())
    assert _statuses(remote) == _statuses(local)
    assert _statuses(remote)[4] == _statuses(remote)[5] == Status.PASSED
    for n in (1, 4, 5):  # the same events checked, replayed and authorised
        assert remote.steps[n - 1].stats == local.steps[n - 1].stats
    assert remote.steps[1].stats["checkpoints_verified"] == 1
    assert remote.steps[1].stats["hash_tiles_checked"] == 4  # level 0: 2 full + 1 partial; level 1: 1 partial
    # the rule worker gets its lines from this process's download (spawned here: the server runs in a thread)
    shared = run_audit(served["url"], key, offline=True, steps=_domain_steps(), rule_worker=True)
    assert [s.to_json() for s in shared.steps] == [s.to_json() for s in remote.steps]
    assert shared.steps[3].stats["events_replayed"] == local.steps[3].stats["events_replayed"] > 0


def test_an_event_changed_in_the_database_is_caught_through_the_url(served: dict[str, Any]) -> None:
    ledger: Ledger = served["ledger"]
    events = ledger.integrator.events
    with ledger.engine.begin() as conn:  # a data field added to event 300, still canonical JSON
        row = conn.execute(select(events.c.id, events.c.state).order_by(events.c.id).offset(300).limit(1)).one()
        env = json.loads(bytes(row.state))
        env["data"] = {**env["data"], "~added": True}  # "~" sorts last: the line stays canonical
        changed = json.dumps(env, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        conn.execute(update(events).where(events.c.id == row.id).values(state=changed))
    report = run_audit(served["url"], parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert not report.verified
    step2 = report.steps[1].findings
    assert [f.code for f in step2 if f.code != "tile_mismatch"] == ["root_mismatch"], report.findings()
    # the tiles it serves were made from the original event: the changed leaf's tile and the one above it
    assert {f.details["tile"] for f in step2 if f.code == "tile_mismatch"} == {"tile/0/001", "tile/1/000.p/2"}


def test_a_hash_tile_changed_in_the_database_is_caught(served: dict[str, Any]) -> None:
    """The entries are intact, so the recomputed tree matches the checkpoint; the level-0 tile the ledger serves
    (what a tlog client builds proofs from) no longer does."""
    ledger: Ledger = served["ledger"]
    with ledger.engine.begin() as conn:
        hashes = conn.execute(
            select(merkle_tiles.c.hashes).where(merkle_tiles.c.level == 0, merkle_tiles.c.idx == 1)
        ).scalar_one()
        hashes = hashes[:64] + bytes(32) + hashes[96:]
        conn.execute(
            update(merkle_tiles).where(merkle_tiles.c.level == 0, merkle_tiles.c.idx == 1).values(hashes=hashes)
        )
    report = run_audit(served["url"], parse_verifier_key(ledger.signer.verifier_key), offline=True)
    assert not report.verified
    [f] = report.steps[1].findings
    assert (f.code, f.details["tile"], f.found) == ("tile_mismatch", "tile/0/001", "00" * 32)
    assert "hash 2" in f.message and report.steps[0].status is Status.PASSED


def test_cli_exit_codes(served: dict[str, Any]) -> None:
    key = served["ledger"].signer.verifier_key
    ok = CliRunner().invoke(verify_cli, ["audit", served["url"], "--key", key, "--offline", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["verified"] is True
    down = CliRunner().invoke(verify_cli, ["audit", f"http://127.0.0.1:{free_port()}", "--key", key, "--offline"])
    assert down.exit_code == 2, down.output
    assert "GET http://127.0.0.1" in down.output
    # the ledger names no anchor contract: --rpc needs yours (refused before anything is read from the chain)
    rpc = f"http://127.0.0.1:{free_port()}"
    no_contract = CliRunner().invoke(verify_cli, ["audit", served["url"], "--key", key, "--rpc", rpc])
    assert no_contract.exit_code == 2 and "is a ledger URL, which names no anchor contract" in no_contract.output
    assert "--contract ADDR" in no_contract.output
    no_rpc = CliRunner().invoke(verify_cli, ["audit", served["url"], "--key", key, "--json"])
    doc = json.loads(no_rpc.output)
    assert no_rpc.exit_code == 0 and doc["operator_rewrite"]["checked"] is False
    [step3] = [s for s in doc["not_run"] if s["number"] == 3]
    assert "no --rpc URL given" in step3["reason"] and "bundle claims" not in step3["reason"]


def _mock_ledger(
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None] | None = None,
    before: Callable[[str], None] | None = None,
) -> LedgerSource:
    """A ledger of 300 factory events (entry bundles 000 and 001.p/44) served by an in-process transport;
    ``before(path)`` runs at each request, in the thread that made it."""
    info = factory.write_bundle(tmp_path / "b", n=300, exotic=False)
    lines = factory.read_lines(info.path)
    leaves = info.leaves
    routes = {
        "/checkpoint": (info.path / "checkpoints" / "300").read_bytes(),
        "/v1/log": json.dumps({"verifier_key": info.key}).encode(),
        "/tile/entries/000": b"".join(len(x).to_bytes(2, "big") + x for x in lines[:256]),
        "/tile/entries/001.p/44": b"".join(len(x).to_bytes(2, "big") + x for x in lines[256:]),
        "/tile/0/000": b"".join(leaves[:256]),
        "/tile/0/001.p/44": b"".join(leaves[256:]),
        "/tile/1/000.p/1": factory.mth(leaves[:256]),
    }
    if change is not None:
        change(routes)

    def answer(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(request.url.path)
        body = routes.get(request.url.path)
        return httpx.Response(404) if body is None else httpx.Response(200, content=body)

    return LedgerSource("http://ledger.test", client=httpx.Client(transport=httpx.MockTransport(answer)))


def _audit(source: LedgerSource, key: str) -> AuditReport:
    try:
        return run_audit(source, parse_verifier_key(key), offline=True, steps=default_steps(rules=False))
    finally:
        source.close()


def test_a_served_log_with_every_tile_right_verifies(tmp_path: Path) -> None:
    source = _mock_ledger(tmp_path)
    report = _audit(source, json.loads(source.read_small("log.json") or b"{}")["verifier_key"])
    assert report.verified, report.findings()
    assert report.events == 300 and report.steps[1].stats["hash_tiles_checked"] == 3


def test_the_next_bundles_are_requested_while_one_is_read(tmp_path: Path) -> None:
    """A remote ledger's round trips overlap: both entry bundles (and both level-0 tiles) must be in flight at
    once to pass their barriers, which one request at a time never does (it would wait out the timeout)."""
    barriers = {"entries": threading.Barrier(2, timeout=30), "0": threading.Barrier(2, timeout=30)}
    requested: list[str] = []

    def before(path: str) -> None:
        requested.append(path)
        barrier = barriers.get(path.split("/")[2]) if path.startswith("/tile/") else None
        if barrier is not None:
            barrier.wait()

    source = _mock_ledger(tmp_path, before=before)
    report = _audit(source, json.loads(source.read_small("log.json") or b"{}")["verifier_key"])
    assert report.verified, report.findings()
    entries, tiles = ["/tile/entries/000", "/tile/entries/001.p/44"], ["/tile/0/000", "/tile/0/001.p/44"]
    expected = ["/checkpoint", "/v1/log", "/v1/log/handovers", *entries, *tiles, "/tile/1/000.p/1"]
    assert sorted(requested) == sorted(expected)
    # each once: a tile fetched ahead is not fetched again when compared
    assert not any(b.broken for b in barriers.values())


def test_with_no_fetching_ahead_requests_are_made_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FETCH_AHEAD = 0 (the benchmark's sequential peer): every request from the audit's own thread, in order."""
    monkeypatch.setattr(remote, "FETCH_AHEAD", 0)
    requested: list[tuple[str, str]] = []
    source = _mock_ledger(tmp_path, before=lambda path: requested.append((threading.current_thread().name, path)))
    report = _audit(source, json.loads(source.read_small("log.json") or b"{}")["verifier_key"])
    assert report.verified, report.findings()
    assert {name for name, _ in requested} == {threading.current_thread().name}
    assert [path for _, path in requested][2:] == [
        "/v1/log/handovers",  # none: the mock answers 404, as a ledger from before rotations would
        "/tile/entries/000",
        "/tile/0/000",
        "/tile/entries/001.p/44",
        "/tile/0/001.p/44",
        "/tile/1/000.p/1",
    ]


def test_closing_a_ledger_source_stops_its_fetching(tmp_path: Path) -> None:
    source = _mock_ledger(tmp_path)
    with source.open_member("events.jsonl") as f:
        assert f.readline().startswith(b'{"actor"')  # the first bundle read, the next requested
        assert source._pool is not None
        threads = list(source._pool._threads)
    assert threads and source._ahead
    source.close()
    assert source._pool is None and not source._ahead
    assert not any(t.is_alive() for t in threads)


def test_a_tile_not_served_is_a_finding(tmp_path: Path) -> None:
    source = _mock_ledger(tmp_path, lambda routes: routes.pop("/tile/1/000.p/1"))
    report = _audit(source, json.loads(source.read_small("log.json") or b"{}")["verifier_key"])
    [f] = report.steps[1].findings
    assert (f.code, f.found, f.details["tile"]) == ("tile_mismatch", "not served", "tile/1/000.p/1")


@pytest.mark.parametrize("damage", ["newline in an entry", "an entry too few", "a length cut off"])
def test_a_malformed_entry_bundle_stops_the_audit(tmp_path: Path, damage: str) -> None:
    def change(routes: dict[str, bytes]) -> None:
        bundle = routes["/tile/entries/001.p/44"]
        if damage == "newline in an entry":
            n = int.from_bytes(bundle[:2], "big")
            routes["/tile/entries/001.p/44"] = (n + 1).to_bytes(2, "big") + bundle[2 : 2 + n] + b"\n" + bundle[2 + n :]
        elif damage == "an entry too few":
            n = int.from_bytes(bundle[:2], "big")
            routes["/tile/entries/001.p/44"] = bundle[2 + n :]
        else:
            routes["/tile/entries/001.p/44"] = bundle + b"\x00"

    source = _mock_ledger(tmp_path, change)
    with pytest.raises(UnreadableInput, match=r"001\.p/44"):
        _audit(source, json.loads(source.read_small("log.json") or b"{}")["verifier_key"])


@pytest.mark.parametrize("args", [[], ["--key", "KEY"], ["--key", "KEY", "--offline"]])
def test_a_url_audit_speaks_of_the_ledger_not_of_a_bundle(served: dict[str, Any], args: list[str]) -> None:
    """#17 item 5: the auditor of a URL never saw a ``log.json`` or a bundle; every message names the ledger's parts."""
    key = served["ledger"].signer.verifier_key
    argv = ["audit", served["url"], *(key if a == "KEY" else a for a in args)]
    result = CliRunner().invoke(verify_cli, argv, terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "log.json" not in text and "bundle" not in text.lower(), text
    if not args:
        assert "TRUSTING THE LEDGER'S OWN KEY" in text and "the ledger's GET /v1/log" in text


def test_a_url_audit_names_the_ledger_in_findings(served: dict[str, Any]) -> None:
    """A key the ledger serves that is not yours: the finding names GET /v1/log, not log.json."""
    other = factory.make_signer(served["ledger"].signer.name).verifier_key
    report = run_audit(served["url"], parse_verifier_key(other), offline=True)
    messages = [f.message for s in report.steps for f in s.findings]
    assert any("the ledger's GET /v1/log names a different verifier key" in m for m in messages), messages
    assert not any("log.json" in m or "bundle" in m for m in messages), messages


@pytest.mark.parametrize(
    "answer",
    [b"not json", b'{"handovers": [{"tree_size": "1", "new_key": "a+b+c", "note": "x"}]}', b'{"handovers": 1}'],
    ids=["not json", "a size as text", "no list"],
)
def test_a_malformed_list_of_hand_overs_stops_the_audit(tmp_path: Path, answer: bytes) -> None:
    with pytest.raises(UnreadableInput, match="list of hand-overs"):
        _mock_ledger(tmp_path, lambda routes: routes.__setitem__("/v1/log/handovers", answer))


def test_listed_hand_overs_are_the_bundle_s_hand_over_checkpoints(tmp_path: Path) -> None:
    listed = {"handovers": [{"tree_size": 100, "new_key": "o+0a0b0c0d+AAAA", "note": "note\n"},
                            {"tree_size": 10**6, "new_key": "o+01020304+AAAA", "note": "later\n"}]}  # fmt: skip
    source = _mock_ledger(tmp_path, lambda routes: routes.__setitem__("/v1/log/handovers", json.dumps(listed).encode()))
    try:
        assert source.checkpoint_names() == ["checkpoints/100.handover-0a0b0c0d", "checkpoints/300"]
        assert source.read_small("checkpoints/100.handover-0a0b0c0d") == b"note\n"
        assert source.has("checkpoints/100.handover-0a0b0c0d") and not source.has(
            "checkpoints/1000000.handover-01020304"
        )
    finally:
        source.close()
