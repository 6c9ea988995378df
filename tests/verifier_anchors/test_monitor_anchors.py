"""`hromada-verify monitor URL --state DIR --key VKEY --rpc URL --contract ADDR` (verifier/monitor/anchors.py): the
monitor checks each anchor of its log as it appears on a real anvil chain, against its own tree.

One demo ledger for the module, checkpointed every 40 events and served on 127.0.0.1; a test follows it "as it grew"
by serving, through a client of its own, the ledger's real signed checkpoint of a chosen size at GET /checkpoint.
Every test anchors into a contract of its own (deployed on the module's chain), so no test sees another's anchors.
The clean case walks every path (an anchor at the new size, one inside the new entries, one of an older size proved
by the ledger's consistency proof, one beyond the checkpoint kept pending, restarts in between); then each check with
the one tampering it guards against: a fabricated root at a size the monitor signed off (the note contradicts the
chain: evidence), a fabricated root at an older size (the ledger's proof does not verify), an anchor for a size the
log never signed (the ledger cannot prove it), two roots anchored for one size, and another chain behind the RPC."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from hromada.demo import Demo
from ledger.checkpoints import all_checkpoints
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.ports import free_port
from tests.verifier_anchors.conftest import Chain, needs_anvil
from tests.witness.servers import serve_in_thread
from verifier.anchors import ChainAccess
from verifier.cli import app as verify_cli
from verifier.errors import NetworkError
from verifier.monitor.follow import Monitor, RoundResult
from verifier.monitor.state import load_state
from verifier.note import parse_verifier_key
from verifier.rpc import HttpRpc

pytestmark = [pytest.mark.slow, needs_anvil]


@dataclass
class City:
    url: str
    ledger: Ledger
    roots: dict[int, bytes]  # every signed size -> its root
    notes: dict[int, str]  # every signed size -> its note

    @property
    def key(self) -> str:
        return str(self.ledger.signer.verifier_key)

    @property
    def origin(self) -> str:
        return self.ledger.settings.origin

    @property
    def sizes(self) -> list[int]:
        return sorted(self.roots)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    data = tmp_path_factory.mktemp("city")
    ledger = Ledger(Settings(data_dir=data, database_url=f"sqlite:///{data / 'ledger.db'}", origin="anchored.test/log"))
    Demo(ledger, events=300, seed=3, checkpoint_every=40).run()
    ledger.integrate_and_checkpoint()
    with ledger.engine.connect() as conn:
        signed = all_checkpoints(conn)
    try:
        with serve_in_thread(create_app(ledger, settings=ApiSettings()), free_port()) as url:
            roots = {c.tree_size: c.root for c in signed}
            assert len(roots) >= 6, roots
            yield City(url, ledger, roots, {c.tree_size: c.note for c in signed})
    finally:
        ledger.close()


class View:
    """A client to the city that serves the ledger's own signed checkpoint of ``size`` at GET /checkpoint: the
    log as it was when it had ``size`` entries (its tiles and proofs are the live ledger's)."""

    def __init__(self, city: City, size: int) -> None:
        self.size = size
        inner = httpx.Client(base_url=city.url)

        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/checkpoint":
                return httpx.Response(200, content=city.notes[self.size].encode())
            answer = inner.get(request.url.raw_path.decode())
            return httpx.Response(answer.status_code, content=answer.content)

        self.client = httpx.Client(transport=httpx.MockTransport(handle))


@pytest.fixture
def contract(chain: Chain) -> Chain:
    """A HromadaAnchor of this test's own."""
    return chain.another_contract()


def monitor(city: City, state: Path, view: View, own: Chain) -> Monitor:
    rpc = HttpRpc(own.url)
    access = ChainAccess(rpc, rpc.display, own.contract)
    return Monitor(city.url, state, parse_verifier_key(city.key), client=view.client, rules=False, chain=access)


def round_at(city: City, state: Path, own: Chain, size: int) -> RoundResult:
    """One round of a fresh monitor process over ``state`` (a restart every time) seeing the log at ``size``."""
    return monitor(city, state, View(city, size), own).run_round()


def codes(result: RoundResult) -> list[str]:
    return [f.code for f in result.findings]


def test_anchors_checked_as_they_appear_new_size_new_range_older_size_pending(
    city: City, contract: Chain, tmp_path: Path
) -> None:
    s = city.sizes
    state = tmp_path / "state"
    origin = city.origin
    r1 = round_at(city, state, contract, s[0])  # nothing anchored yet
    assert r1.ok and r1.anchors is not None and r1.anchors["read"] == 0 and r1.anchors["checked"] == []
    contract.anchor(origin, s[0], city.roots[s[0]])  # the size the monitor holds
    contract.anchor(origin, s[2], city.roots[s[2]])  # inside the entries the next round brings
    contract.anchor(origin, s[3], city.roots[s[3]])  # the size the next round reaches
    r2 = round_at(city, state, contract, s[3])
    assert r2.ok, r2.findings
    assert r2.anchors is not None and (r2.anchors["read"], r2.anchors["checked"]) == (3, [s[0], s[2], s[3]])
    assert r2.requests == 1 + (s[3] - 1) // 256 - s[0] // 256 + 1  # no proof needed: it held all three roots
    contract.anchor(origin, s[1], city.roots[s[1]])  # late: an older size than the one kept
    contract.anchor(origin, s[5], city.roots[s[5]])  # beyond the checkpoint the monitor is shown
    r3 = round_at(city, state, contract, s[4])
    assert r3.ok, r3.findings
    assert r3.anchors is not None and (r3.anchors["checked"], r3.anchors["pending"]) == ([s[1]], [s[5]])
    assert r3.requests == 1 + (s[4] - 1) // 256 - s[3] // 256 + 1 + 1  # and the consistency proof from s[1]
    kept = load_state(state).chain
    assert kept is not None and [a.tree_size for a in kept.pending] == [s[5]] and kept.checked == 4
    r4 = round_at(city, state, contract, s[4])  # a restart, nothing new on chain: the pending one waits
    assert r4.ok and r4.anchors is not None and (r4.anchors["read"], r4.anchors["pending"]) == (0, [s[5]])
    r5 = round_at(city, state, contract, s[5])
    assert r5.ok and r5.anchors is not None, r5.findings
    assert (r5.anchors["checked"], r5.anchors["pending"], r5.anchors["largest_anchored_size"]) == ([s[5]], [], s[5])
    # the CLI: one JSON line with what the chain gave
    out = CliRunner().invoke(
        verify_cli,
        ["monitor", city.url, "--state", str(tmp_path / "cli"), "--key", city.key, "--no-rules", "--once",
         "--rpc", contract.url, "--contract", contract.contract],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    line = json.loads(out.output)
    assert line["ok"] and line["anchors"]["checked"] == [s[0], s[1], s[2], s[3], s[5]]
    assert line["anchors"]["chain_id"] == 31337 and line["anchors"]["contract"] == contract.contract.lower()


def test_a_fabricated_root_at_the_size_the_monitor_holds_contradicts_its_note(
    city: City, contract: Chain, tmp_path: Path
) -> None:
    s = city.sizes
    state = tmp_path / "state"
    assert round_at(city, state, contract, s[1]).ok
    kept = load_state(state)
    contract.anchor(city.origin, s[1], b"\x13" * 32)
    result = round_at(city, state, contract, s[2])
    assert codes(result) == ["anchor_root_mismatch", "checkpoint_contradicts_anchor"]
    mismatch, contradicts = result.findings
    assert mismatch.expected == (b"\x13" * 32).hex() and mismatch.found == city.roots[s[1]].hex()
    note, anchor = (Path(p) for p in contradicts.evidence or [])
    assert note.read_text() == city.notes[s[1]] and json.loads(anchor.read_text())["root"] == (b"\x13" * 32).hex()
    assert load_state(state) == kept  # not advanced: the next round reads the same blocks again
    out = CliRunner().invoke(
        verify_cli,
        ["monitor", city.url, "--state", str(state), "--key", city.key, "--no-rules", "--once",
         "--rpc", contract.url, "--contract", contract.contract],
    )  # fmt: skip
    assert out.exit_code == 1, out.output
    assert [f["code"] for f in json.loads(out.output)["findings"]] == [
        "anchor_root_mismatch", "checkpoint_contradicts_anchor"
    ]  # fmt: skip


def test_a_fabricated_root_at_an_older_size_is_not_consistent_with_the_tree(
    city: City, contract: Chain, tmp_path: Path
) -> None:
    s = city.sizes
    state = tmp_path / "state"
    assert round_at(city, state, contract, s[3]).ok
    contract.anchor(city.origin, s[1], b"\x21" * 32)  # an older size, a root of no tree of this log
    result = round_at(city, state, contract, s[3])
    assert codes(result) == ["anchor_root_mismatch"]
    assert "consistency proof" in result.findings[0].message and result.findings[0].expected == (b"\x21" * 32).hex()
    # the honest root at that size passes the same proof (another contract: nothing else anchored there)
    clean = contract.another_contract()
    clean.anchor(city.origin, s[1], city.roots[s[1]])
    again = round_at(city, tmp_path / "other", clean, s[3])
    assert again.ok and again.anchors is not None and again.anchors["checked"] == [s[1]]
    proved = round_at(city, tmp_path / "other", clean, s[3])
    assert proved.ok  # nothing new: no proof asked


def test_an_anchor_for_a_size_the_log_never_signed_is_unproved(city: City, contract: Chain, tmp_path: Path) -> None:
    s = city.sizes
    state = tmp_path / "state"
    assert round_at(city, state, contract, s[2]).ok
    never = s[0] + 1
    assert never not in city.roots
    contract.anchor(city.origin, never, b"\x31" * 32)
    result = round_at(city, state, contract, s[2])
    assert codes(result) == ["monitor_anchor_unproved"] and result.findings[0].found == "HTTP 422"


def test_two_roots_anchored_for_one_size_and_another_chain(city: City, contract: Chain, tmp_path: Path) -> None:
    s = city.sizes
    state = tmp_path / "state"
    contract.anchor(city.origin, s[3], city.roots[s[3]])
    contract.anchor(city.origin, s[3], b"\x41" * 32)
    result = round_at(city, state, contract, s[4])
    assert codes(result) == ["anchor_fork", "anchor_root_mismatch"]
    assert {result.findings[0].expected, result.findings[0].found} == {city.roots[s[3]].hex(), (b"\x41" * 32).hex()}
    # a state that read this contract on another chain: the RPC now serves chain 31337
    clean = contract.another_contract()
    assert round_at(city, state, clean, s[4]).ok
    doc = json.loads((state / "state.json").read_text())
    doc["anchors"]["chain_id"] = 1
    (state / "state.json").write_text(json.dumps(doc))
    moved = round_at(city, state, clean, s[4])
    assert [(f.code, f.expected, f.found) for f in moved.findings] == [("anchor_chain_mismatch", 1, 31337)]


def test_a_fork_is_named_even_when_the_chain_cannot_be_read(city: City, contract: Chain, tmp_path: Path) -> None:
    """The chain is read after the fork check: an RPC that is down (exit 2) never hides a fork (exit 1)."""
    s = city.sizes
    state = tmp_path / "state"
    assert round_at(city, state, contract, s[1]).ok
    down = HttpRpc(f"http://127.0.0.1:{free_port()}")
    view = View(city, s[1])
    watcher = Monitor(
        city.url, state, parse_verifier_key(city.key), client=view.client, rules=False,
        chain=ChainAccess(down, down.display, contract.contract),
    )  # fmt: skip
    with pytest.raises(NetworkError):
        watcher.run_round()  # nothing to name: the chain cannot be read
    forged = base64.b64encode(bytes([0x51]) * 32).decode()
    city.notes[-1] = city.ledger.signer.sign(f"{city.origin}\n{s[1]}\n{forged}\n")  # another root, the kept size
    view.size = -1
    try:
        assert codes(watcher.run_round()) == ["monitor_fork"]
    finally:
        del city.notes[-1]
