"""The anchorer: puts the latest signed checkpoint of each log on chain and follows it until final.

State machine (durable in anchoring.schema; every step is one short DB transaction):

    checkpoint grew and T elapsed (or `anchor now`)
        -> anchors row `pending`
        -> sign tx (nonce = sender's pending nonce), store submission `signed` + raw tx   [commit]
        -> broadcast -> `sent`
        -> receipt seen, block canonical -> `mined` (tx hash, block number, block hash)
        -> N confirmations / 'finalized' tag -> `final`
    sent too long without receipt (stuck): sign a replacement with the SAME nonce and >= 12.5% higher fees,
        store it, broadcast; any of the submission's transactions may be the one that gets mined.
    mined, then its receipt is gone or the block hash at its height changed (reorg):
        `dropped` (old block hash kept as evidence) -> re-broadcast the stored raw tx -> `sent` -> ...
    the nonce was consumed by someone else, or lost with the chain: `abandoned`, anchors `pending` again.
    receipt with status 0: `failed` (TransactionFailedError; e.g. the key is not the contract's owner).

Restart safety: a transaction is stored before it is broadcast, and a new nonce is only taken when no
submission is in flight, so a crash at any point leads to re-broadcasting the same bytes (same hash) or to
recognising the receipt: no duplicate and no lost anchor. RPC failures raise ChainUnavailableError; `run`
backs off exponentially while the ledger keeps accepting events; the latest checkpoint, which commits to all
earlier ones, is anchored when the chain is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError

from anchoring.chain import AnchorItem, ChainClient, Fees, Finality, Receipt, SendOutcome
from anchoring.contract import log_id as make_log_id
from anchoring.errors import (
    AnchoringError,
    AnchorMismatchError,
    ChainUnavailableError,
    TransactionFailedError,
)
from anchoring.lock import AnchorLock
from anchoring.logs import AnchorLog, get_anchor_logs
from anchoring.node import LOCAL_CHAIN_WARNING
from anchoring.schema import IN_FLIGHT, anchor_submissions, anchor_txs, anchors

log = logging.getLogger("hromada.anchoring")


def _pk(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class CheckpointRef:
    tree_size: int
    root: bytes


@dataclass(frozen=True)
class LogSource:
    """One log to anchor: its origin and a function returning its latest signed checkpoint."""

    origin: str
    latest: Callable[[], CheckpointRef | None]

    @property
    def log_id(self) -> bytes:
        return make_log_id(self.origin)


def checkpoints_source(engine: Engine, origin: str) -> LogSource:
    """The ledger's `checkpoints` table (one log per database) as a LogSource."""
    from ledger.db.schema import checkpoints

    def latest() -> CheckpointRef | None:
        with engine.connect() as conn:
            row = conn.execute(
                select(checkpoints.c.tree_size, checkpoints.c.root).order_by(checkpoints.c.tree_size.desc()).limit(1)
            ).first()
        return None if row is None else CheckpointRef(int(row.tree_size), bytes(row.root))

    return LogSource(origin, latest)


@dataclass(frozen=True)
class AnchorerConfig:
    """Policy. Settings: HROMADA_ANCHOR_<FIELD> (anchoring.config.AnchorerSettings builds it)."""

    every_seconds: float = 600.0  # anchor at most this often, and only when the tree grew
    poll_seconds: float = 5.0  # how often in-flight transactions are followed
    confirmations: int = 12
    finality: Finality = "auto"  # auto: the 'finalized' tag when the chain has it, else confirmations
    stuck_after_seconds: float = 180.0  # replace a transaction not mined after this long
    fee_bump: float = 0.125  # replacement fee increase (>= 12.5%)
    max_fee_cap: int | None = None  # never offer more than this many wei per gas (None: no cap)
    backoff_initial: float = 1.0
    backoff_max: float = 300.0


@dataclass
class TickReport:
    """What one round did (for logs, tests and `anchor now`)."""

    created: list[int] = field(default_factory=list)  # anchor row ids
    submitted: list[int] = field(default_factory=list)  # submission ids
    broadcast: list[str] = field(default_factory=list)  # tx hashes
    replaced: list[str] = field(default_factory=list)  # new tx hashes of fee bumps
    mined: list[int] = field(default_factory=list)
    final: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class Anchorer:
    """Anchors `sources` through `chain`, keeping its state in `engine`'s anchoring tables."""

    def __init__(
        self,
        engine: Engine,
        chain: ChainClient,
        sources: Sequence[LogSource],
        config: AnchorerConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lock_dir: Any = None,
    ) -> None:
        if not sources:
            raise ValueError("no log to anchor")
        if chain.config.contract is None:
            raise AnchoringError("the chain configuration has no contract address")
        self.engine = engine
        self.chain = chain
        self.sources = list(sources)
        self.config = config or AnchorerConfig()
        self.clock = clock
        self.chain_id = chain.config.chain_id
        self.contract: str = chain.config.contract
        self._locks = [AnchorLock(engine, s.log_id.hex(), lock_dir=lock_dir) for s in self.sources]
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._force = False
        self.last_error: str | None = None

    # -- locking ----------------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the per-log locks (AnchorLockedError if another anchorer holds one)."""
        taken: list[AnchorLock] = []
        try:
            for lk in self._locks:
                lk.acquire()
                taken.append(lk)
        except BaseException:
            for lk in taken:
                lk.release()
            raise

    def release(self) -> None:
        for lk in self._locks:
            lk.release()

    def __enter__(self) -> Anchorer:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_background()
        self.release()

    def _require_lock(self) -> None:
        if not all(lk.held for lk in self._locks):
            raise AnchoringError("call acquire() before acting: only the lock holder may anchor")

    # -- one round --------------------------------------------------------------------------------------
    def tick(self, *, force: bool = False) -> TickReport:
        """Follow in-flight submissions, then start a new one when due (or forced) and nothing is in flight."""
        self._require_lock()
        report = TickReport()
        for sub_id in self._in_flight_ids():
            self._advance(sub_id, report)
        if not self._in_flight_ids():
            self._enqueue(force, report)
            self._submit(report)
        return report

    def _in_flight_ids(self) -> list[int]:
        with self.engine.connect() as conn:
            return [
                int(r[0])
                for r in conn.execute(
                    select(anchor_submissions.c.id)
                    .where(
                        anchor_submissions.c.status.in_(IN_FLIGHT),
                        anchor_submissions.c.chain_id == self.chain_id,
                        anchor_submissions.c.contract == self.contract,
                    )
                    .order_by(anchor_submissions.c.nonce)
                )
            ]

    # new anchors ---------------------------------------------------------------------------------------
    def _enqueue(self, force: bool, report: TickReport) -> None:
        now_ms = int(self.clock() * 1000)
        for src in self.sources:
            cp = src.latest()
            if cp is None or cp.tree_size == 0:  # the empty log's checkpoint: nothing to anchor
                continue
            lid = src.log_id
            with self.engine.begin() as conn:
                last = conn.execute(
                    select(func.max(anchors.c.tree_size)).where(
                        self._mine(anchors), anchors.c.log_id == lid, anchors.c.status != "failed"
                    )
                ).scalar()
                if last is not None and cp.tree_size <= int(last):
                    continue
                if not force and last is not None:
                    last_sent = conn.execute(
                        select(func.max(anchor_txs.c.created_ms))
                        .select_from(anchor_txs.join(anchors, anchors.c.submission_id == anchor_txs.c.submission_id))
                        .where(self._mine(anchors), anchors.c.log_id == lid)
                    ).scalar()
                    if last_sent is not None and now_ms - int(last_sent) < self.config.every_seconds * 1000:
                        continue
                try:
                    with conn.begin_nested():
                        res = conn.execute(
                            insert(anchors).values(
                                chain_id=self.chain_id,
                                contract=self.contract,
                                log_id=lid,
                                origin=src.origin,
                                tree_size=cp.tree_size,
                                root=cp.root,
                                status="pending",
                                created_at=_now_iso(),
                            )
                        )
                except IntegrityError:
                    continue  # idempotent by (chain, contract, log, size)
                new_id = _pk(res)
                # Older anchors of this log never sent are covered by this one (the new root commits to them).
                conn.execute(
                    update(anchors)
                    .where(
                        self._mine(anchors),
                        anchors.c.log_id == lid,
                        anchors.c.status == "pending",
                        anchors.c.tree_size < cp.tree_size,
                    )
                    .values(status="superseded")
                )
            report.created.append(new_id)
            log.info("anchor queued: %s size %d", src.origin, cp.tree_size)

    def _submit(self, report: TickReport) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(anchors.c.id, anchors.c.log_id, anchors.c.tree_size, anchors.c.root)
                .where(self._mine(anchors), anchors.c.status == "pending")
                .order_by(anchors.c.id)
            ).all()
        if not rows:
            return
        items = [AnchorItem(bytes(r.log_id), int(r.tree_size), bytes(r.root)) for r in rows]
        from anchoring.chain import encode_anchor_call

        nonce = self.chain.nonce("pending")
        fees = self._capped(self.chain.fees())
        gas = self.chain.estimate_anchor_gas(encode_anchor_call(items))
        raw, tx_hash = self.chain.sign_anchor_tx(items, nonce=nonce, fees=fees, gas=gas)
        now = _now_iso()
        with self.engine.begin() as conn:
            sub_id = _pk(
                conn.execute(
                    insert(anchor_submissions).values(
                        chain_id=self.chain_id,
                        contract=self.contract,
                        sender=self.chain.sender,
                        nonce=nonce,
                        status="signed",
                        gas=gas,
                        reorgs=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
            )
            self._store_tx(conn, sub_id, raw, tx_hash, fees)
            conn.execute(
                update(anchors)
                .where(anchors.c.id.in_([int(r.id) for r in rows]))
                .values(status="sent", submission_id=sub_id)
            )
        report.submitted.append(sub_id)
        log.info("anchor tx %s signed (nonce %d, %d checkpoint(s))", tx_hash, nonce, len(items))
        self._broadcast(sub_id, raw, tx_hash, report)

    def _store_tx(self, conn: Connection, sub_id: int, raw: bytes, tx_hash: str, fees: Fees) -> None:
        conn.execute(
            insert(anchor_txs).values(
                tx_hash=tx_hash,
                submission_id=sub_id,
                raw=raw,
                max_fee_per_gas=fees.max_fee,
                max_priority_fee_per_gas=fees.priority,
                created_ms=int(self.clock() * 1000),
            )
        )

    def _broadcast(self, sub_id: int, raw: bytes, tx_hash: str, report: TickReport) -> str:
        outcome = self.chain.send_raw(raw)
        if outcome in (SendOutcome.ACCEPTED, SendOutcome.KNOWN):
            self._set_sub(sub_id, status="sent", last_broadcast_ms=int(self.clock() * 1000))
            report.broadcast.append(tx_hash)
        elif outcome == SendOutcome.UNDERPRICED:
            log.warning("anchor tx %s refused as underpriced; a fee bump follows", tx_hash)
            self._set_sub(sub_id, status="sent", last_broadcast_ms=0)
        return outcome

    # following in-flight submissions ------------------------------------------------------------------
    def _advance(self, sub_id: int, report: TickReport) -> None:
        with self.engine.connect() as conn:
            sub = conn.execute(select(anchor_submissions).where(anchor_submissions.c.id == sub_id)).one()
            txs = conn.execute(
                select(anchor_txs).where(anchor_txs.c.submission_id == sub_id).order_by(anchor_txs.c.created_ms.desc())
            ).all()
        receipt = self._find_receipt([str(t.tx_hash) for t in txs])
        if receipt is not None:
            self._on_receipt(sub, receipt, report)
            return
        if sub.status == "mined":
            # Was in a block, is not any more: the block was reorged out.
            log.warning(
                "REORG: anchor tx %s left block %s (#%s); re-broadcasting",
                sub.tx_hash,
                sub.block_hash,
                sub.block_number,
            )
            self._set_sub(
                sub_id,
                status="dropped",
                reorgs=int(sub.reorgs) + 1,
                dropped_block_hash=sub.block_hash,
                block_number=None,
                block_hash=None,
                tx_hash=None,
            )
            self._set_anchors(sub_id, "sent")
            report.reorged.append(sub_id)
        latest_nonce = self.chain.nonce("latest")
        if latest_nonce > int(sub.nonce):
            # Consumed, but by none of our transactions (we found no receipt): a foreign tx with our key.
            receipt = self._find_receipt([str(t.tx_hash) for t in txs])  # re-check: a block may have just landed
            if receipt is not None:
                self._on_receipt(sub, receipt, report)
                return
            self._abandon(sub_id, f"nonce {sub.nonce} consumed by another transaction", report)
            return
        if latest_nonce < int(sub.nonce) and not any(self.chain.tx_known(str(t.tx_hash)) for t in txs):
            self._abandon(sub_id, f"nonce gap: chain at {latest_nonce}, ours {sub.nonce} (chain state lost?)", report)
            return
        newest = txs[0]
        if sub.status in ("signed", "dropped", "mined") or not self.chain.tx_known(str(newest.tx_hash)):
            self._broadcast(sub_id, bytes(newest.raw), str(newest.tx_hash), report)
            return
        last = int(sub.last_broadcast_ms or 0)
        if self.clock() * 1000 - last >= self.config.stuck_after_seconds * 1000:
            self._replace(sub, newest, report)

    def _find_receipt(self, hashes: Iterable[str]) -> Receipt | None:
        for h in hashes:
            r = self.chain.receipt(h)
            if r is not None and self.chain.block_hash(r.block_number) == r.block_hash:
                return r
        return None

    def _on_receipt(self, sub: Any, receipt: Receipt, report: TickReport) -> None:
        sub_id = int(sub.id)
        if receipt.status != 1:
            self._set_sub(
                sub_id,
                status="failed",
                tx_hash=receipt.tx_hash,
                block_number=receipt.block_number,
                block_hash=receipt.block_hash,
                note="transaction reverted",
            )
            self._set_anchors(sub_id, "failed")
            report.failed.append(sub_id)
            raise TransactionFailedError(
                f"anchor transaction {receipt.tx_hash} reverted in block {receipt.block_number}",
                tx_hash=receipt.tx_hash,
                block_number=receipt.block_number,
                sender=str(sub.sender),
            )
        if sub.block_hash != receipt.block_hash or sub.status not in ("mined", "final"):
            if sub.block_hash is not None and sub.block_hash != receipt.block_hash:
                log.warning(
                    "REORG: anchor tx %s moved from block %s to %s", receipt.tx_hash, sub.block_hash, receipt.block_hash
                )
                report.reorged.append(sub_id)
            self._set_sub(
                sub_id,
                status="mined",
                tx_hash=receipt.tx_hash,
                block_number=receipt.block_number,
                block_hash=receipt.block_hash,
                gas_used=receipt.gas_used,
                effective_gas_price=receipt.effective_gas_price,
                reorgs=int(sub.reorgs) + (1 if sub.block_hash not in (None, receipt.block_hash) else 0),
            )
            self._set_anchors(sub_id, "mined")
            report.mined.append(sub_id)
            log.info("anchor tx %s mined in block %d", receipt.tx_hash, receipt.block_number)
        if self._is_final(receipt.block_number):
            now = _now_iso()
            self._set_sub(sub_id, status="final", final_at=now)
            self._set_anchors(sub_id, "final", final_at=now)
            report.final.append(sub_id)
            log.info("anchor tx %s final (block %d)", receipt.tx_hash, receipt.block_number)

    def _is_final(self, block_number: int) -> bool:
        head = self.chain.block_number()
        by_confirmations = head - block_number + 1 >= self.config.confirmations
        if self.config.finality == "confirmations":
            return by_confirmations
        fin = self.chain.finalized_number()
        if self.config.finality == "finalized":
            return fin is not None and block_number <= fin
        return (block_number <= fin) if fin is not None else by_confirmations

    def _replace(self, sub: Any, newest: Any, report: TickReport) -> None:
        old = Fees(
            int(newest.max_fee_per_gas),
            None if newest.max_priority_fee_per_gas is None else int(newest.max_priority_fee_per_gas),
        )
        fees = old.bumped(self.chain.fees(), self.config.fee_bump)
        if self.config.max_fee_cap is not None and fees.max_fee > self.config.max_fee_cap:
            log.error(
                "anchor tx %s is stuck and a replacement would exceed the fee cap (%d > %d wei/gas); waiting",
                newest.tx_hash,
                fees.max_fee,
                self.config.max_fee_cap,
            )
            return
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(anchors.c.log_id, anchors.c.tree_size, anchors.c.root)
                .where(anchors.c.submission_id == int(sub.id))
                .order_by(anchors.c.id)
            ).all()
        items = [AnchorItem(bytes(r.log_id), int(r.tree_size), bytes(r.root)) for r in rows]
        raw, tx_hash = self.chain.sign_anchor_tx(items, nonce=int(sub.nonce), fees=fees, gas=int(sub.gas))
        with self.engine.begin() as conn:
            self._store_tx(conn, int(sub.id), raw, tx_hash, fees)
        log.warning(
            "anchor tx %s stuck; replaced by %s (nonce %d, max fee %d -> %d wei/gas)",
            newest.tx_hash,
            tx_hash,
            sub.nonce,
            old.max_fee,
            fees.max_fee,
        )
        report.replaced.append(tx_hash)
        self._broadcast(int(sub.id), raw, tx_hash, report)

    def _abandon(self, sub_id: int, why: str, report: TickReport) -> None:
        log.warning("anchor submission %d abandoned: %s; its checkpoints will be anchored again", sub_id, why)
        with self.engine.begin() as conn:
            conn.execute(
                update(anchor_submissions)
                .where(anchor_submissions.c.id == sub_id)
                .values(status="abandoned", note=why, updated_at=_now_iso())
            )
            conn.execute(
                update(anchors).where(anchors.c.submission_id == sub_id).values(status="pending", submission_id=None)
            )
        report.abandoned.append(sub_id)

    def _capped(self, fees: Fees) -> Fees:
        cap = self.config.max_fee_cap
        if cap is None or fees.max_fee <= cap:
            return fees
        prio = None if fees.priority is None else min(fees.priority, cap)
        return Fees(cap, prio)

    def _set_sub(self, sub_id: int, **values: Any) -> None:
        values["updated_at"] = _now_iso()
        with self.engine.begin() as conn:
            conn.execute(update(anchor_submissions).where(anchor_submissions.c.id == sub_id).values(**values))

    def _set_anchors(self, sub_id: int, status: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(anchors).where(anchors.c.submission_id == sub_id).values(status=status, **values))

    def _mine(self, table: Any) -> Any:
        return (table.c.chain_id == self.chain_id) & (table.c.contract == self.contract)

    # -- after a restart: are the final anchors still on the chain? ------------------------------------
    def recheck_final(self, limit: int = 100) -> list[int]:
        """Re-examine the most recent final submissions, newest first, until one is still canonical.

        If a block hash no longer matches (a deep reorg, or a local chain that lost its state), the
        submission goes back to `mined` and the normal machinery re-broadcasts or re-anchors it.
        """
        self._require_lock()
        reopened: list[int] = []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(anchor_submissions.c.id, anchor_submissions.c.block_number, anchor_submissions.c.block_hash)
                .where(self._mine(anchor_submissions), anchor_submissions.c.status == "final")
                .order_by(anchor_submissions.c.block_number.desc())
                .limit(limit)
            ).all()
        for r in rows:
            if self.chain.block_hash(int(r.block_number)) == r.block_hash:
                break
            log.warning(
                "final anchor submission %d is no longer on chain (block %s); re-opening it", r.id, r.block_hash
            )
            self._set_sub(int(r.id), status="mined", final_at=None)
            self._set_anchors(int(r.id), "mined", final_at=None)
            reopened.append(int(r.id))
        return reopened

    # -- background loop --------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Tick every poll_seconds until `stop` is set; back off exponentially while the chain is down."""
        backoff = self.config.backoff_initial
        first = True
        while not stop.is_set():
            wait = self.config.poll_seconds
            try:
                if first:
                    self.recheck_final()
                    first = False
                force, self._force = self._force, False
                self.tick(force=force)
                backoff = self.config.backoff_initial
                self.last_error = None
            except ChainUnavailableError as exc:
                self.last_error = str(exc)
                log.warning("%s; retrying in %.0fs (events are still accepted and anchored later)", exc, backoff)
                wait = backoff
                backoff = min(backoff * 2, self.config.backoff_max)
            except AnchoringError as exc:
                self.last_error = str(exc)
                log.error("anchoring: %s", exc)
            except Exception as exc:  # keep the ledger alive; the anchorer retries
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("anchoring round failed")
                wait = backoff
                backoff = min(backoff * 2, self.config.backoff_max)
            self._wake.wait(wait)
            self._wake.clear()

    def start_background(self) -> threading.Thread:
        """Acquire the locks and run in a daemon thread."""
        self.acquire()  # a local chain's warning was said once where it started (anchoring/service.py)
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="hromada-anchorer", daemon=True)
        self._thread.start()
        return self._thread

    def request_now(self) -> None:
        """Ask the background loop to anchor at its next round regardless of the schedule."""
        self._force = True
        self._wake.set()

    def stop_background(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None

    # -- reporting --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return anchor_status(self.engine, chain_id=self.chain_id, contract=self.contract, local=self.chain.config.local)


def anchor_status(
    engine: Engine, *, chain_id: int | None = None, contract: str | None = None, local: bool = False
) -> dict[str, Any]:
    """Status for `hromada anchor status` / `hromada log status`: latest anchors, in-flight work, counts."""
    conds: list[ColumnElement[bool]] = []
    if chain_id is not None:
        conds.append(anchors.c.chain_id == chain_id)
    if contract is not None:
        conds.append(anchors.c.contract == contract)
    cond = and_(true(), *conds)
    j = anchors.outerjoin(anchor_submissions, anchors.c.submission_id == anchor_submissions.c.id)
    cols = [
        anchors.c.origin,
        anchors.c.tree_size,
        anchors.c.root,
        anchors.c.status,
        anchors.c.chain_id,
        anchors.c.contract,
        anchor_submissions.c.tx_hash,
        anchor_submissions.c.block_number,
        anchor_submissions.c.block_hash,
        anchor_submissions.c.nonce,
        anchor_submissions.c.reorgs,
        anchor_submissions.c.status.label("submission_status"),
        anchors.c.created_at,
        anchors.c.final_at,
    ]
    with engine.connect() as conn:
        counts = dict(
            conn.execute(select(anchors.c.status, func.count()).where(cond).group_by(anchors.c.status)).tuples().all()
        )

        def one(where: Any) -> dict[str, Any] | None:
            row = conn.execute(
                select(*cols).select_from(j).where(cond, where).order_by(anchors.c.tree_size.desc()).limit(1)
            ).first()
            if row is None:
                return None
            d = dict(row._mapping)
            d["root"] = bytes(d["root"]).hex()
            return d

        latest = one(true())
        latest_final = one(anchors.c.status == "final")
        in_flight = conn.execute(
            select(func.count()).select_from(anchor_submissions).where(anchor_submissions.c.status.in_(IN_FLIGHT))
        ).scalar()
    return {
        "local_chain": local,
        "warning": LOCAL_CHAIN_WARNING if local else None,
        "counts": {str(k): int(v) for k, v in counts.items()},
        "in_flight_submissions": int(in_flight or 0),
        "latest": latest,
        "latest_final": latest_final,
    }


@dataclass(frozen=True)
class ReadBack:
    """Anchors found on chain for one log, matched against the stored checkpoints."""

    matched: list[AnchorLog]
    unknown_size: list[AnchorLog]  # a size the ledger has no checkpoint for
    mismatched: list[AnchorMismatchError]  # same size, different root: evidence


def read_back(
    rpc: Callable[[str, list[Any]], Any],
    contract: str,
    origin: str,
    stored_roots: dict[int, bytes],
    *,
    from_block: int = 0,
    max_range: int = 10_000,
) -> ReadBack:
    """Read Anchored events of `origin` from chain (anchoring.logs) and compare them with the stored roots."""
    matched: list[AnchorLog] = []
    unknown: list[AnchorLog] = []
    bad: list[AnchorMismatchError] = []
    for ev in get_anchor_logs(rpc, contract, log_id=make_log_id(origin), from_block=from_block, max_range=max_range):
        root = stored_roots.get(ev.tree_size)
        if root is None:
            unknown.append(ev)
        elif root != ev.root:
            bad.append(
                AnchorMismatchError(
                    f"chain anchors root {ev.root.hex()} for size {ev.tree_size}, ledger has {root.hex()}",
                    tree_size=ev.tree_size,
                    stored_root=root,
                    anchored_root=ev.root,
                    tx_hash=ev.tx_hash,
                )
            )
        else:
            matched.append(ev)
    return ReadBack(matched, unknown, bad)
