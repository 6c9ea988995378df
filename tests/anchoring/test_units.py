"""Fast unit tests: no anvil. The chain, where needed, is eth-tester (py-evm in process)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import Engine, create_engine
from web3 import Web3

from anchoring.anchorer import Anchorer, AnchorerConfig, checkpoints_source
from anchoring.chain import (
    ANCHOR_BATCH_SELECTOR,
    ANCHOR_SELECTOR,
    AnchorItem,
    ChainClient,
    ChainConfig,
    Fees,
    SenderKey,
    encode_anchor_call,
)
from anchoring.compile import TOOLS_DIR, check
from anchoring.contract import ANCHORED_TOPIC, load_artifact, log_id
from anchoring.errors import AnchorLockedError, ChainConfigError, ChainUnavailableError, redact_url
from anchoring.lock import AnchorLock
from anchoring.logs import ANCHORED_TOPIC as LOGS_TOPIC
from anchoring.logs import LogRangeError, RpcError, decode_anchor_log, get_anchor_logs
from hromada.settings import load
from tests.anchoring.conftest import ORIGIN, Clock, add_checkpoint

KEY = "11" * 32  # a throwaway test key, not anvil's


def test_log_id_is_sha256_of_origin() -> None:
    assert log_id("a.example/x") == hashlib.sha256(b"a.example/x").digest()
    with pytest.raises(ValueError):
        log_id("two\nlines")


def test_topic_and_selectors() -> None:
    assert ANCHORED_TOPIC == LOGS_TOPIC == "0x" + keccak(text="Anchored(bytes32,uint64,bytes32)").hex()
    assert keccak(text="anchor(bytes32,uint64,bytes32)")[:4] == ANCHOR_SELECTOR
    assert keccak(text="anchorBatch((bytes32,uint64,bytes32)[])")[:4] == ANCHOR_BATCH_SELECTOR
    names = {e["name"] for e in load_artifact().abi if e["type"] in ("function", "event", "error")}
    assert names == {"anchor", "anchorBatch", "owner", "Anchored", "NotOwner", "EmptyBatch"}
    one = encode_anchor_call([AnchorItem(b"\1" * 32, 5, b"\2" * 32)])
    assert one[:4] == ANCHOR_SELECTOR and len(one) == 4 + 96
    many = encode_anchor_call([AnchorItem(b"\1" * 32, i, b"\2" * 32) for i in range(3)])
    assert many[:4] == ANCHOR_BATCH_SELECTOR and len(many) == 4 + 64 + 3 * 96


@pytest.mark.skipif(shutil.which("node") is None, reason="node missing")
def test_artifact_reproduced_byte_for_byte() -> None:
    if not (TOOLS_DIR / "node_modules" / "solc").exists():
        pytest.fail("tools/node_modules missing: run `make node-deps`")
    check()  # raises ArtifactMismatchError with a diff


def test_sender_key_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    k = SenderKey.from_hex(KEY)
    assert KEY not in repr(k) and KEY not in str(k) and k.address in repr(k)
    p = tmp_path / "k"
    p.write_text(KEY)
    p.chmod(0o644)
    with pytest.raises(ChainConfigError) as ei:
        SenderKey.from_file(p)
    assert "chmod 600" in str(ei.value) and KEY not in str(ei.value)
    p.chmod(0o600)
    assert SenderKey.from_file(p).address == k.address
    with pytest.raises(ChainConfigError) as ei:
        SenderKey.from_hex("zz" + KEY[2:])
    assert KEY[2:] not in str(ei.value)
    g = SenderKey.generate_file(tmp_path / "new")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o600 and g.address


def test_chain_config_from_env() -> None:
    def from_env(env: dict[str, str]) -> ChainConfig | None:  # HROMADA_CHAIN_* through the settings tree
        return load(env).chain.config()

    assert from_env({}) is None
    url = "https://eth-sepolia.example/v2/SECRETAPIKEY"
    env = {"HROMADA_CHAIN_RPC_URL": url, "HROMADA_CHAIN_ID": "11155111", "HROMADA_CHAIN_KEY": KEY}
    cfg = from_env(env)
    assert cfg is not None and cfg.chain_id == 11155111
    assert "SECRETAPIKEY" not in repr(cfg) and KEY not in repr(cfg)
    assert cfg.load_key().address == SenderKey.from_hex(KEY).address
    with pytest.raises(ChainConfigError):
        from_env({"HROMADA_CHAIN_RPC_URL": url})
    with pytest.raises(ChainConfigError):
        from_env({**env, "HROMADA_CHAIN_KEY_FILE": "/x"})
    assert redact_url("https://user:pw@host.example:8545/key?x=1") == "https://host.example:8545/…"


def test_fee_bump_at_least_12_5_percent() -> None:
    old = Fees(100 * 10**9, 2 * 10**9)
    new = old.bumped(Fees(10 * 10**9, 1 * 10**9))
    assert new.max_fee >= old.max_fee * 1.125 and new.priority is not None and new.priority >= 2 * 10**9 * 1.125
    assert old.bumped(Fees(500 * 10**9, 9 * 10**9)).max_fee >= 500 * 10**9  # the market may ask more
    with pytest.raises(ValueError):
        old.bumped(old, 0.10)
    assert Fees(1000, None).bumped(Fees(10, None)).max_fee >= 1125


def _raw_log(size: int, block: int, idx: int = 0) -> dict[str, Any]:
    return {
        "address": "0x" + "ab" * 20,
        "topics": [ANCHORED_TOPIC, "0x" + log_id(ORIGIN).hex()],
        "data": "0x" + size.to_bytes(32, "big").hex() + "cd" * 32,
        "transactionHash": "0x" + "01" * 32,
        "blockNumber": hex(block),
        "blockHash": "0x" + "02" * 32,
        "logIndex": hex(idx),
        "removed": False,
    }


def test_get_logs_pages_and_halves_refused_ranges() -> None:
    events = {b: _raw_log(b, b) for b in (3, 500, 777, 2048, 4095)}
    calls: list[tuple[int, int]] = []

    def rpc(method: str, params: list[Any]) -> Any:
        if method == "eth_blockNumber":
            return hex(5000)
        f = params[0]
        lo, hi = int(f["fromBlock"], 16), int(f["toBlock"], 16)
        calls.append((lo, hi))
        if hi - lo + 1 > 300:
            raise RpcError(method, {"code": -32005, "message": "query exceeds max block range 300"})
        return [events[b] for b in events if lo <= b <= hi]

    got = get_anchor_logs(rpc, "0x" + "ab" * 20, log_id=log_id(ORIGIN), max_range=1000)
    assert [e.tree_size for e in got] == [3, 500, 777, 2048, 4095]
    assert got[0].root == b"\xcd" * 32 and got[0].block_number == 3
    # contiguous coverage of [0, 5000], no gaps, no overlaps among the successful windows
    ok = sorted((lo, hi) for lo, hi in calls if hi - lo + 1 <= 300)
    assert ok[0][0] == 0 and ok[-1][1] == 5000
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ok))

    def always_fail(method: str, params: list[Any]) -> Any:
        raise RpcError(method, {"code": -32000, "message": "boom"})

    with pytest.raises(LogRangeError):
        get_anchor_logs(always_fail, "0x" + "ab" * 20, from_block=0, to_block=8)


def test_decode_rejects_foreign_events() -> None:
    bad = _raw_log(1, 1)
    bad["topics"] = ["0x" + "00" * 32, bad["topics"][1]]
    with pytest.raises(ValueError):
        decode_anchor_log(bad)


def test_lock_one_anchorer_per_log(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    a, b = AnchorLock(engine, "ab" * 32, lock_dir=tmp_path), AnchorLock(engine, "ab" * 32, lock_dir=tmp_path)
    a.acquire()
    with pytest.raises(AnchorLockedError):
        b.acquire()
    AnchorLock(engine, "cd" * 32, lock_dir=tmp_path).acquire()  # another log is independent
    a.release()
    b.acquire()
    b.release()
    engine.dispose()


# -- eth-tester: the anchorer end to end in process ----------------------------------------------------------
@pytest.fixture
def tester_chain(tmp_path: Path) -> tuple[ChainClient, Web3]:
    from web3 import EthereumTesterProvider

    w3 = Web3(EthereumTesterProvider())
    key = SenderKey(os.urandom(32))
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": key.address, "value": 10**20})
    cfg0 = ChainConfig(rpc_url="http://eth-tester", chain_id=w3.eth.chain_id)
    address, block, _ = ChainClient(cfg0, key, w3=w3).deploy()
    cfg = ChainConfig(rpc_url="http://eth-tester", chain_id=w3.eth.chain_id, contract=address, deploy_block=block)
    client = ChainClient(cfg, key, w3=w3)
    client.check()
    return client, w3


def test_anchorer_on_eth_tester(engine: Engine, tester_chain: tuple[ChainClient, Web3], tmp_path: Path) -> None:
    client, w3 = tester_chain
    clock = Clock()
    cfg = AnchorerConfig(confirmations=2, finality="confirmations")
    a = Anchorer(engine, client, [checkpoints_source(engine, ORIGIN)], cfg, clock=clock, lock_dir=tmp_path)
    with pytest.raises(Exception, match="acquire"):
        a.tick()
    a.acquire()
    root = add_checkpoint(engine, 7)
    r = a.tick()
    assert r.submitted and r.broadcast
    r = a.tick()
    assert r.mined
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert a.tick().final
    assert client.config.contract is not None
    raw = w3.eth.get_logs(
        {"address": client.config.contract, "fromBlock": 0, "topics": [ANCHORED_TOPIC, "0x" + log_id(ORIGIN).hex()]}
    )
    logs = [decode_anchor_log(dict(r)) for r in raw]
    assert [(e.tree_size, e.root) for e in logs] == [(7, root)]
    st = a.status()
    assert st["latest_final"]["tree_size"] == 7 and st["counts"] == {"final": 1}
    a.release()


def test_wrong_owner_key_refused(tester_chain: tuple[ChainClient, Web3]) -> None:
    client, w3 = tester_chain
    other = ChainClient(client.config, SenderKey(os.urandom(32)), w3=w3)
    with pytest.raises(Exception, match="not HromadaAnchor owned by"):
        other.check()


def test_rpc_down_is_chain_unavailable_and_no_secret_in_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = ChainConfig(rpc_url="http://127.0.0.1:9/SECRET", chain_id=1, contract="0x" + "ab" * 20, request_timeout=2)
    client = ChainClient(cfg, SenderKey.from_hex(KEY))
    with pytest.raises(ChainUnavailableError) as ei:
        client.block_number()
    assert "SECRET" not in str(ei.value) and ei.value.rpc == "http://127.0.0.1:9/…"
    assert KEY not in caplog.text
