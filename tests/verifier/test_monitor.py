# ruff: noqa: F811 (the `served` fixture, imported from test_remote, is each test's parameter)
"""`hromada-verify monitor URL --state DIR --key VKEY` (verifier/monitor/): a served demo ledger followed round by
round. Failure cases first: a forked checkpoint (re-signed by the log key: same size, another root) alerts with both
notes in DIR/evidence and exit 1, and the webhook gets the round's JSON; a root the entries do not make, a shrunk
log, a note not signed by the key, an unreachable ledger (exit 2). Then: round 1 catches up, round 2 after new
writes fetches only the new entry bundles, a restart resumes from state.json."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from hromada.demo import Demo
from ledger.note import generate_signer
from ledger.runtime import Ledger
from tests.ports import free_port
from tests.verifier.test_remote import served  # noqa: F401 - the fixture: a demo city of 600 events, served
from tests.verifier_rules.test_ledger_tamper import append_lawless
from tests.witness.servers import serve_in_thread
from verifier.cli import app as verify_cli
from verifier.errors import NetworkError, UnreadableInput
from verifier.merkle import TreeBuilder
from verifier.monitor.follow import Monitor
from verifier.monitor.state import MonitorState, load_state, save_state
from verifier.note import parse_checkpoint_body, parse_note, parse_verifier_key
from verifier.remote import TILE_WIDTH
from verifier.witness.policy import policy_from_options
from witness.keys import WitnessKey


def _rewriting(url: str, rewrite: Callable[[bytes], bytes] | None) -> httpx.Client:
    """A client to the served ledger whose GET /checkpoint answer passes through ``rewrite``; it counts requests."""
    inner = httpx.Client(base_url=url)

    def handle(request: httpx.Request) -> httpx.Response:
        handle.paths.append(request.url.path)  # type: ignore[attr-defined]
        answer = inner.get(request.url.path)
        body = answer.content
        if request.url.path == "/checkpoint" and rewrite is not None and answer.status_code == 200:
            body = rewrite(body)
        return httpx.Response(answer.status_code, content=body)

    handle.paths = []  # type: ignore[attr-defined]
    client = httpx.Client(transport=httpx.MockTransport(handle))
    client.paths = handle.paths  # type: ignore[attr-defined]
    return client


def _resigned(ledger: Ledger, *, size_delta: int = 0, root: bytes = b"\x42" * 32) -> Callable[[bytes], bytes]:
    """A checkpoint the operator re-signs with the log key: another root (and optionally another size)."""

    def rewrite(note: bytes) -> bytes:
        cp = parse_checkpoint_body(parse_note(note).text)
        body = f"{cp.origin}\n{cp.size + size_delta}\n{base64.b64encode(root).decode()}\n"
        return ledger.signer.sign(body).encode()

    return rewrite


def _key(served: dict[str, Any]) -> str:
    return str(served["ledger"].signer.verifier_key)


def _monitor(served: dict[str, Any], state: Path, rewrite: Callable[[bytes], bytes] | None = None) -> Monitor:
    return Monitor(served["url"], state, parse_verifier_key(_key(served)), client=_rewriting(served["url"], rewrite))


def test_a_fork_alerts_with_both_notes_and_the_webhook_gets_the_json(served: dict[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = _key(served)
    first = CliRunner().invoke(verify_cli, ["monitor", served["url"], "--state", str(state), "--key", key, "--once"])
    assert first.exit_code == 0, first.output
    kept = load_state(state)
    # the same size, another root, signed by the log key (a split view): served through a rewriting client
    forked = _monitor(served, state, _resigned(served["ledger"]))
    result = forked.run_round()
    assert not result.ok
    [finding] = result.findings
    assert finding.code == "monitor_fork" and finding.found == (b"\x42" * 32).hex()
    kept_note, new_note = _pair(finding.evidence)
    assert kept_note.read_text() == kept.checkpoint
    assert parse_checkpoint_body(parse_note(new_note.read_text()).text).root == b"\x42" * 32
    assert load_state(state) == kept  # a round with a finding does not advance the state
    # the CLI: exit 1 and the webhook receives the round's JSON (the fork is served by a tiny proxy on 127.0.0.1)
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        return Response("", status_code=204)

    proxy = _proxy(served, _resigned(served["ledger"]))
    with (
        serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), free_port()) as hook_url,
        serve_in_thread(proxy, free_port()) as proxy_url,
    ):
        cli = CliRunner().invoke(
            verify_cli,
            ["monitor", proxy_url, "--state", str(state), "--key", key, "--webhook", f"{hook_url}/hook"],
        )
    assert cli.exit_code == 1, cli.output
    line = json.loads(cli.output.strip().splitlines()[-1])
    assert line["ok"] is False and [f["code"] for f in line["findings"]] == ["monitor_fork"]
    assert received == [line]
    # the same forked note seen again: the same two files (named by round, code and the new note's hash)
    assert sorted(p.name for p in (state / "evidence").iterdir()) == sorted(p.name for p in (kept_note, new_note))


def _pair(evidence: list[str] | None) -> tuple[Path, Path]:
    assert evidence is not None and len(evidence) == 2
    [kept] = [Path(p) for p in evidence if p.endswith("-kept.note")]
    [new] = [Path(p) for p in evidence if p.endswith("-new.note")]
    return kept, new


def _proxy(served: dict[str, Any], rewrite: Callable[[bytes], bytes]) -> Starlette:
    """A tiny reverse proxy to the served ledger, rewriting its /checkpoint."""
    client = _rewriting(served["url"], rewrite)

    async def forward(request: Request) -> Response:
        answer = client.get(f"http://ledger{request.url.path}")
        return Response(answer.content, status_code=answer.status_code)

    return Starlette(routes=[Route("/{path:path}", forward)])


def test_entries_that_do_not_make_the_root_are_a_root_mismatch(served: dict[str, Any], tmp_path: Path) -> None:
    result = _monitor(served, tmp_path / "s", _resigned(served["ledger"])).run_round()
    [finding] = result.findings
    assert finding.code == "monitor_root_mismatch" and finding.expected == (b"\x42" * 32).hex()
    assert len(finding.evidence or []) == 1  # nothing kept yet: only the new note
    assert not (tmp_path / "s" / "state.json").exists()


def test_a_shrunk_log_a_note_not_signed_by_the_key_and_another_origin(served: dict[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "s"
    assert _monitor(served, state).run_round().ok
    shrunk = _monitor(served, state, _resigned(served["ledger"], size_delta=-1)).run_round()
    assert [f.code for f in shrunk.findings] == ["monitor_size_decreased"]
    assert len(shrunk.findings[0].evidence or []) == 2

    def tamper(note: bytes) -> bytes:  # one more leaf claimed, under the log's original signature
        text = note.decode()
        origin, size, rest = text.split("\n", 2)
        return f"{origin}\n{int(size) + 1}\n{rest}".encode()

    unsigned = _monitor(served, state, tamper).run_round()
    assert [f.code for f in unsigned.findings] == ["monitor_checkpoint_invalid"]

    def other_log(note: bytes) -> bytes:  # the log key signs a checkpoint of another origin
        cp = parse_checkpoint_body(parse_note(note).text)
        ledger: Ledger = served["ledger"]
        return ledger.signer.sign(cp.body.replace(cp.origin, "elsewhere.example/log", 1)).encode()

    moved = _monitor(served, state, other_log).run_round()
    assert [(f.code, f.found) for f in moved.findings] == [("monitor_origin_changed", "elsewhere.example/log")]


def test_an_unreachable_ledger_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    key = generate_signer("monitor.test").verifier_key()  # a well-formed key: the network is what fails
    out = CliRunner().invoke(verify_cli, ["monitor", url, "--state", str(tmp_path / "s"), "--key", key, "--once"])
    assert out.exit_code == 2, out.output
    assert json.loads(out.output.strip())["error"]["code"] == "network_error"
    with pytest.raises(NetworkError):
        Monitor(url, tmp_path / "s", parse_verifier_key(key)).run_round()


def test_rpc_without_a_contract_to_trust_exits_2(tmp_path: Path) -> None:
    """A ledger names no anchor contract, and the monitor picks none itself: --rpc needs --contract."""
    key = generate_signer("monitor.test").verifier_key()
    args = ["monitor", f"http://127.0.0.1:{free_port()}", "--state", str(tmp_path / "s"), "--key", key, "--once"]
    out = CliRunner().invoke(verify_cli, [*args, "--rpc", f"http://127.0.0.1:{free_port()}"])
    assert out.exit_code == 2, out.output
    doc = json.loads(out.output.strip())
    assert doc["exit_code"] == 2 and "--rpc needs --contract" in doc["error"]["message"]
    out = CliRunner().invoke(verify_cli, [*args, "--contract", "0x" + "11" * 20])
    assert out.exit_code == 2 and "--contract needs --rpc" in out.output, out.output
    assert not (tmp_path / "s").exists()


def test_catch_up_then_only_new_entries_then_a_restart_resumes(served: dict[str, Any], tmp_path: Path) -> None:
    ledger: Ledger = served["ledger"]
    state = tmp_path / "state"
    first = _monitor(served, state)
    r1 = first.run_round()
    assert r1.ok, r1.findings
    size1 = r1.size
    assert r1.new == size1 > 2 * TILE_WIDTH
    assert r1.requests == 1 + (size1 + TILE_WIDTH - 1) // TILE_WIDTH  # the checkpoint and every entry bundle
    # nothing new: only the checkpoint
    r2 = first.run_round()
    assert (r2.ok, r2.new, r2.requests) == (True, 0, 1)
    # writes happen: more petitions and signatures, after the first city's last event (its services are registered)
    Demo(ledger, events=200, seed=9, start=datetime(2036, 1, 7, 8, 0, tzinfo=UTC)).petitions()
    ledger.integrate_and_checkpoint()
    r3 = first.run_round()
    assert r3.ok, r3.findings
    assert r3.size > size1 and r3.new == r3.size - size1
    bundles = (r3.size - 1) // TILE_WIDTH - size1 // TILE_WIDTH + 1  # from the kept edge's partial bundle on
    assert r3.requests == 1 + bundles < 1 + (r3.size + TILE_WIDTH - 1) // TILE_WIDTH
    fetched = [p for p in first._client.paths if p.startswith("/tile/entries/")]  # type: ignore[attr-defined]
    assert fetched[-bundles:][0].startswith(f"/tile/entries/00{size1 // TILE_WIDTH}")
    # a restart resumes from state.json: the kept size, the frontier, the round count
    kept = load_state(state)
    assert (kept.size, kept.rounds) == (r3.size, 3)
    restarted = _monitor(served, state)
    r4 = restarted.run_round()
    assert (r4.round, r4.ok, r4.new, r4.requests) == (4, True, 0, 1)
    cli = CliRunner().invoke(
        verify_cli, ["monitor", served["url"], "--state", str(state), "--key", _key(served), "--once"]
    )
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output) == {
        "round": 5, "size": r3.size, "new": 0, "ok": True, "requests": 1, "findings": []
    }  # fmt: skip


def test_a_frontier_resumes_the_tree_and_a_bad_state_file_is_refused(tmp_path: Path) -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(13)]
    whole = TreeBuilder()
    for leaf in leaves:
        whole.append(leaf)
    half = TreeBuilder()
    for leaf in leaves[:6]:
        half.append(leaf)
    resumed = TreeBuilder.resume(6, half.frontier())
    for leaf in leaves[6:]:
        resumed.append(leaf)
    assert resumed.root() == whole.root() and resumed.size == 13
    with pytest.raises(ValueError):
        TreeBuilder.resume(7, half.frontier())  # 7 has three set bits: the frontier of 6 has two hashes
    save_state(tmp_path, MonitorState("o", 6, "note", half.frontier(), 1))
    assert load_state(tmp_path).tree().root() == half.root()
    doc = json.loads((tmp_path / "state.json").read_text())
    (tmp_path / "state.json").write_text(json.dumps({**doc, "size": 7}))
    with pytest.raises(UnreadableInput):
        load_state(tmp_path)


def test_the_witness_policy_is_checked_on_each_new_checkpoint(served: dict[str, Any], tmp_path: Path) -> None:
    """Witness a has cosigned the served checkpoint, witness b has not: 2 of 2 fails, 1 of 2 passes."""
    a, b = WitnessKey("witness-a.test", bytes(range(32))), WitnessKey("witness-b.test", bytes(range(1, 33)))

    def cosigned_by_a(note: bytes) -> bytes:
        body = parse_note(note).text
        return note + a.cosign(body, 1_800_000_000).encode()

    named = [f"a={a.verifier_key()}", f"b={b.verifier_key()}"]
    key = parse_verifier_key(_key(served))
    client = _rewriting(served["url"], cosigned_by_a)
    both = Monitor(served["url"], tmp_path / "s2", key, policy_from_options(named, 2), client=client).run_round()
    assert [f.code for f in both.findings] == ["witness_cosignatures_insufficient"]
    assert "b" in both.findings[0].message and not (tmp_path / "s2" / "state.json").exists()
    one = Monitor(served["url"], tmp_path / "s1", key, policy_from_options(named, 1), client=client).run_round()
    assert one.ok, one.findings


def _signature(ledger: Ledger) -> dict[str, Any]:
    """The last petition.signed envelope the ledger holds."""
    ev = ledger.integrator.events
    with ledger.engine.connect() as conn:
        for (state,) in conn.execute(select(ev.c.state).order_by(ev.c.id.desc())):
            env: dict[str, Any] = json.loads(bytes(state))
            if env["type"] == "petition.signed":
                return env
    raise AssertionError("no signature in the demo city")


def _last_time(ledger: Ledger) -> datetime:
    ev = ledger.integrator.events
    with ledger.engine.connect() as conn:
        state = conn.execute(select(ev.c.state).order_by(ev.c.id.desc()).limit(1)).scalar_one()
    return datetime.strptime(json.loads(bytes(state))["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_a_restarted_monitor_finds_a_duplicate_signature_whose_first_copy_it_saw_in_an_earlier_run(
    served: dict[str, Any], tmp_path: Path
) -> None:
    """Round 1 sees the city (and its signatures); the process ends. The operator then writes a second signature
    by the same pseudonym for the same petition straight into the events table (version 2 of the signature's
    stream) and lets the ledger sign it. A new monitor process over the same --state names exactly that event,
    duplicate_signature (and signature_after_closure): it knew the petition and the stream's version 1 from
    rules.db (without them it would say unknown_petition and version_gap); the round is not committed, so the
    next run names it again."""
    ledger: Ledger = served["ledger"]
    state = tmp_path / "state"
    first = _monitor(served, state)
    assert first.run_round().ok
    first.close()
    assert (state / "rules.db").exists()
    original = _signature(ledger)
    rogue = append_lawless(
        ledger,
        original["stream"],
        "petition.signed",
        original["actor"],
        original["data"],
        _last_time(ledger) + timedelta(minutes=1),
    )
    ledger.integrate_and_checkpoint()
    for _ in range(2):
        restarted = _monitor(served, state)
        result = restarted.run_round()
        codes = [(f.code, f.index, f.found) for f in result.findings]
        # the petition also closed in round 1's part of the log: two rules that need the old state
        assert codes == [
            ("duplicate_signature", result.size - 1, 2), ("signature_after_closure", result.size - 1, "closed")
        ], codes  # fmt: skip
        assert rogue["version"] == 2 and load_state(state).size == result.size - 1
    # without the rule state (--no-rules) the round passes: the rogue event is a well-formed, signed entry
    plain = Monitor(served["url"], tmp_path / "plain", parse_verifier_key(_key(served)), rules=False)
    assert plain.run_round().ok and not (tmp_path / "plain" / "rules.db").exists()


def test_rules_db_ahead_of_state_json_is_taken_and_behind_is_refused(served: dict[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert _monitor(served, state).run_round().ok
    committed = load_state(state)
    # the process died after rules.db's commit and before state.json's: state.json still says the empty state
    (state / "state.json").unlink()
    assert _monitor(served, state).state == committed
    assert load_state(state) == committed  # and state.json is rewritten from rules.db
    (state / "rules.db").unlink()
    with pytest.raises(UnreadableInput, match="rules cannot resume"):
        _monitor(served, state)
