"""The whole life of an anchor against a real anvil, including each failure of issue #4."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from anchoring.anchorer import read_back
from anchoring.contract import log_id
from anchoring.errors import ChainUnavailableError
from anchoring.logs import get_anchor_logs
from anchoring.schema import anchor_submissions, anchor_txs, anchors
from tests.anchoring.conftest import ORIGIN, Chain, Clock, add_checkpoint, make_anchorer, needs_anvil

pytestmark = [pytest.mark.slow, needs_anvil]


def _events(chain: Chain) -> list[tuple[int, bytes]]:
    assert chain.config.contract is not None
    logs = get_anchor_logs(chain.node.rpc, chain.config.contract, log_id=log_id(ORIGIN))
    return [(e.tree_size, e.root) for e in logs]


def _statuses(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in conn.execute(select(anchors.c.tree_size, anchors.c.status).order_by(anchors.c.id))
        ]


def _sub(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(select(anchor_submissions).order_by(anchor_submissions.c.id.desc()).limit(1)).one()
    return dict(row._mapping)


def test_happy_life_pending_sent_mined_final_and_read_back(engine: Engine, chain: Chain) -> None:
    clock = Clock()
    a = make_anchorer(engine, chain, clock)
    assert a.tick().created == []  # nothing signed yet
    root = add_checkpoint(engine, 10)
    r = a.tick()
    assert r.created and r.submitted and r.broadcast
    r = a.tick()
    assert r.mined
    assert _statuses(engine) == [(10, "mined")]
    sub = _sub(engine)
    assert sub["block_hash"] and sub["tx_hash"] and sub["block_number"]
    chain.node.mine(2)
    assert a.tick().final
    assert _statuses(engine) == [(10, "final")]
    # grown but not due: waits for the schedule (T = 600 s since the last anchor was sent)
    add_checkpoint(engine, 20)
    clock.advance(10)
    assert a.tick().created == []
    clock.advance(600)
    assert a.tick().created
    a.tick()
    # not grown: nothing new, even when due
    clock.advance(3600)
    assert a.tick().created == []
    assert _events(chain)[0] == (10, root)
    assert chain.config.contract is not None
    rb = read_back(chain.node.rpc, chain.config.contract, ORIGIN, {10: root}, from_block=chain.config.deploy_block)
    assert [e.tree_size for e in rb.matched] == [10] and not rb.mismatched
    assert [e.tree_size for e in rb.unknown_size] == [20]
    a.release()


def test_rpc_down_backlog_anchored_later(engine: Engine, chain: Chain) -> None:
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=1)
    add_checkpoint(engine, 5)
    a.tick()
    a.tick()
    port = chain.node.actual_port
    chain.node.stop()
    # the ledger keeps signing checkpoints while the chain is away
    add_checkpoint(engine, 6)
    last_root = add_checkpoint(engine, 7)
    clock.advance(601)
    with pytest.raises(ChainUnavailableError) as ei:
        a.tick()
    assert "unavailable" in str(ei.value) and ei.value.rpc.startswith("http://127.0.0.1")
    with pytest.raises(ChainUnavailableError):
        a.tick()
    chain.node.port = port or 0
    chain.node.actual_port = None
    chain.node.start()
    a.tick()
    a.tick()
    # the latest checkpoint covers the backlog: one anchor for size 7, none for 6
    assert _statuses(engine) == [(5, "final"), (7, "final")]
    assert _events(chain)[-1] == (7, last_root)
    assert [s for s, _ in _events(chain)] == [5, 7]


def test_stuck_transaction_replaced_with_same_nonce_and_higher_fees(engine: Engine, chain_no_mining: Chain) -> None:
    chain = chain_no_mining
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=1, stuck_after_seconds=60)
    add_checkpoint(engine, 3)
    r = a.tick()
    first = r.broadcast[0]
    assert a.tick().replaced == []  # not yet stuck
    clock.advance(61)
    r = a.tick()
    assert len(r.replaced) == 1
    second = r.replaced[0]
    with engine.connect() as conn:
        txs = conn.execute(select(anchor_txs).order_by(anchor_txs.c.created_ms)).all()
    assert [t.tx_hash for t in txs] == [first, second]
    assert txs[1].max_fee_per_gas >= txs[0].max_fee_per_gas * 1.125
    assert txs[1].max_priority_fee_per_gas >= txs[0].max_priority_fee_per_gas * 1.125
    chain.node.mine(1)
    r = a.tick()
    assert r.final
    sub = _sub(engine)
    assert sub["tx_hash"] == second
    assert [s for s, _ in _events(chain)] == [3]  # exactly one anchor on chain


def test_reorg_drops_anchor_detected_by_block_hash_and_reanchored(engine: Engine, chain: Chain) -> None:
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=3)
    root = add_checkpoint(engine, 8)
    a.tick()
    assert a.tick().mined
    before = _sub(engine)
    chain.node.reorg(1)  # the anchor's block is replaced by an empty one
    assert _events(chain) == []
    r = a.tick()
    assert r.reorged == [before["id"]]
    r = a.tick()  # automine: the re-broadcast transaction is in a new block
    after = _sub(engine)
    assert after["status"] == "mined"
    assert after["block_hash"] != before["block_hash"]
    assert after["dropped_block_hash"] == before["block_hash"]
    assert after["reorgs"] == 1
    assert after["tx_hash"] == before["tx_hash"]  # same signed transaction, same nonce: no duplicate
    chain.node.mine(3)
    assert a.tick().final
    assert _events(chain) == [(8, root)]


def test_restart_mid_flight_no_duplicate_no_loss(engine: Engine, chain_no_mining: Chain) -> None:
    chain = chain_no_mining
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=1)
    add_checkpoint(engine, 4)
    # crash between storing the signed transaction and broadcasting it
    real_send = a.chain.send_raw

    def crash(raw: bytes) -> str:
        raise KeyboardInterrupt("simulated crash")

    a.chain.send_raw = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        a.tick()
    a.chain.send_raw = real_send  # type: ignore[method-assign]
    a.release()
    assert _sub(engine)["status"] == "signed"
    # the node restarts too (its pool is lost) and a new anchorer process takes over
    chain.restart()
    b = make_anchorer(engine, chain, clock, confirmations=1)
    r = b.tick()
    assert r.broadcast and not r.submitted  # the stored transaction, not a new one
    # crash after broadcasting: restart again, the pool is lost again
    b.release()
    chain.restart()
    c = make_anchorer(engine, chain, clock, confirmations=1)
    assert c.tick().broadcast
    chain.node.mine(1)
    assert c.tick().final
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(anchor_submissions)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(anchor_txs)).scalar() == 1
    assert [s for s, _ in _events(chain)] == [4]


def test_nonce_consumed_elsewhere_abandons_and_reanchors(engine: Engine, chain_no_mining: Chain) -> None:
    chain = chain_no_mining
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=1)
    add_checkpoint(engine, 9)
    a.tick()
    sub = _sub(engine)
    # another process uses the same key at the same nonce with a higher fee; it is mined instead of ours
    client = chain.client()
    f = client.fees()
    raw, _ = chain.key.sign(
        {
            "chainId": chain.config.chain_id,
            "nonce": sub["nonce"],
            "to": chain.key.address,
            "value": 0,
            "gas": 21000,
            "type": 2,
            "maxFeePerGas": f.max_fee * 3,
            "maxPriorityFeePerGas": f.priority * 3,
        }  # type: ignore[operator]
    )
    client.send_raw(raw)
    chain.node.mine(1)
    r = a.tick()
    assert r.abandoned == [sub["id"]]
    assert r.submitted  # the same round re-anchors with a fresh nonce
    chain.node.mine(1)
    a.tick()
    assert _statuses(engine) == [(9, "final")]
    assert [s for s, _ in _events(chain)] == [9]


def test_local_chain_lost_state_final_anchor_reanchored(engine: Engine, chain: Chain, tmp_path: Path) -> None:
    clock = Clock()
    a = make_anchorer(engine, chain, clock, confirmations=1)
    add_checkpoint(engine, 2)
    a.tick()
    a.tick()
    assert _statuses(engine) == [(2, "final")]
    chain.node.reorg(1)  # the chain forgets the block (as a lost state file would)
    assert a.recheck_final()
    a.tick()
    a.tick()
    assert _statuses(engine) == [(2, "final")]
    assert [s for s, _ in _events(chain)] == [2]
