"""Audit step 3: every ``Anchored`` event of this log on chain against the recomputed roots and ``anchors.jsonl``
(docs/audit.md "Step 3 in detail")."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from verifier.anchor_policy import (
    AUDITOR,
    BUNDLE,
    AnchorEvidence,
    RewriteCheck,
    confirm_from_block,
    discover,
    no_trusted_contract,
    rewrite_check,
)
from verifier.anchors import (
    AnchorLog,
    BundleAnchor,
    ChainAccess,
    block_info,
    get_anchor_logs,
    is_address,
    log_id_of,
    parse_anchors_jsonl,
    read_chain_id,
    same_address,
)
from verifier.errors import CannotVerify, VerificationError
from verifier.note import open_checkpoint_by
from verifier.report import Finding
from verifier.rpc import RpcRefused
from verifier.steps.base import AuditContext, Step

__all__ = ["AnchorStep"]


class AnchorStep(Step):
    """Step 3: every ``Anchored`` event of this log on chain against the recomputed roots and ``anchors.jsonl``.

    The anchors are read in :meth:`start`, before the events are streamed, so that the runner records the
    recomputed root at every anchored size too. Chain trouble (RPC down, a provider that refuses even one
    block) raises CannotVerify: the audit exits 2 and claims nothing.
    """

    number = 3
    name = "anchors (checkpoint roots match on-chain Anchored events)"

    def __init__(self) -> None:
        super().__init__()
        self.on_chain: list[AnchorLog] = []
        self.listed: list[BundleAnchor] = []
        self.contract = ""
        self.named_by = ""  # anchor_policy.AUDITOR or BUNDLE: who named the contract the anchors are read from
        self.chain_id = 0
        self.ready = False  # the anchors were read
        self.to_block = 0

    def skip_reason(self, ctx: AuditContext) -> str | None:
        if ctx.offline:
            return "skipped: --offline (no chain queries were made)"
        if ctx.chain is None:
            silent = ctx.bundle.lists_anchors and not _claims_a_chain(ctx)
            claims = "; this bundle claims no anchors, which it cannot decide for you" if silent else ""
            return (
                "no --rpc URL given: the anchors were not read from the chain (pass --rpc URL --contract ADDR, or "
                f"--offline){claims}"
            )
        return None

    def start(self, ctx: AuditContext) -> None:
        """Choose the contract (anchor_policy), read its anchors of this log, and ask for the roots at their sizes.
        With ``--rpc`` and no contract named by the auditor or the bundle: NoTrustedContract (exit 2)."""
        chain = ctx.chain
        assert chain is not None
        claimed, problem = _claimed_chain(ctx)
        if problem is not None:
            found = repr(ctx.log.raw.get("chain"))[:200]
            self.fail(Finding(3, "chain_info_malformed", f"log.json {problem}", found=found))
        raw_contract = claimed.get("contract")
        claimed_contract = raw_contract if isinstance(raw_contract, str) and is_address(raw_contract) else None
        log_id = log_id_of(ctx.log.origin)
        if chain.contract is not None:
            contract, self.named_by = chain.contract, AUDITOR
        elif claimed_contract is not None:
            contract, self.named_by = claimed_contract, BUNDLE
        elif problem is not None:  # the bundle names something that is no contract: the finding says so
            self.result.stats["contract"] = None
            self.result.stats["not_read"] = "log.json names no usable contract: pass --contract ADDR"
            return
        else:
            raise no_trusted_contract(
                chain,
                log_id,
                "log.json has no 'chain' (this bundle claims no anchors)"
                if ctx.bundle.lists_anchors
                else f"{ctx.bundle.source} is a ledger URL, which names no anchor contract",
            )
        self.contract = contract.lower()
        from_block = 0
        if claimed_contract is not None and not same_address(contract, claimed_contract):
            self.fail(
                Finding(
                    3,
                    "contract_mismatch",
                    "log.json names another anchor contract than the one you trust (--contract)",
                    expected=chain.contract,
                    found=claimed_contract,
                )
            )
        elif claimed_contract is not None:  # the bundle's deploy block, if the chain confirms it
            from_block = self._confirmed_deploy_block(ctx, chain, claimed.get("deploy_block", 0))
        self.chain_id = read_chain_id(chain.rpc)
        self.result.stats.update(
            {
                "rpc": chain.display,
                "chain_id": self.chain_id,
                "contract": self.contract,
                "contract_named_by": self.named_by,
                "from_block": from_block,
            }
        )
        claimed_id = claimed.get("chain_id")
        if claimed_id is not None and claimed_id != self.chain_id:
            self.fail(
                Finding(
                    3,
                    "chain_id_mismatch",
                    f"the RPC {chain.display} serves another chain than log.json names: these anchors cannot "
                    "be the bundle's (wrong --rpc, or a bundle pointing at another chain)",
                    expected=claimed_id,
                    found=self.chain_id,
                )
            )
            return
        self.ready = True
        to_block = _latest_block_number(chain)
        self.result.stats["to_block"] = to_block
        self.to_block = to_block
        self.on_chain = get_anchor_logs(
            chain.rpc, contract, log_id=log_id, from_block=from_block, to_block=to_block, max_range=chain.max_range
        )
        if self.named_by == BUNDLE:
            self._others(ctx, chain, log_id, to_block)
        content = ctx.bundle.read_small("anchors.jsonl")
        if content is not None:
            self.listed, problems = parse_anchors_jsonl(content)
            for line, problem in problems:
                self.fail(
                    Finding(
                        3, "anchors_jsonl_malformed", f"anchors.jsonl line {line}: {problem}", details={"line": line}
                    )
                )
        for a in self.on_chain:
            if a.tree_size <= ctx.log.tree_size:
                ctx.wanted_sizes.add(a.tree_size)
        for b in self.listed:
            if b.tree_size <= ctx.log.tree_size:
                ctx.wanted_sizes.add(b.tree_size)

    def _confirmed_deploy_block(self, ctx: AuditContext, chain: ChainAccess, claimed: Any) -> int:
        """The bundle's ``deploy_block`` when it is a block number the chain confirms (anchor_policy), else 0."""
        if not isinstance(claimed, int) or isinstance(claimed, bool) or claimed < 0:
            self.fail(
                Finding(
                    3,
                    "chain_info_malformed",
                    "log.json chain.deploy_block is not a block number",
                    found=repr(claimed),
                )
            )
            return 0
        block, note, contradicted = confirm_from_block(chain, self.contract, claimed)
        if note is not None:
            self.result.stats["deploy_block"] = note
        if contradicted:
            self.fail(
                Finding(
                    3,
                    "deploy_block_after_deployment",
                    f"log.json says the contract was deployed in block {claimed}, but it already has code in block "
                    f"{claimed - 1}: reading from that block would hide the anchors before it (read from block 0 "
                    "instead)",
                    expected=f"no code at {self.contract} in block {claimed - 1}",
                    found="code",
                    details={"deploy_block": claimed},
                )
            )
        return block

    def _others(self, ctx: AuditContext, chain: ChainAccess, log_id: bytes, to_block: int) -> None:
        """Trusting the bundle's contract: other contracts the chain shows anchoring this log id, as a warning."""
        try:
            others, more = discover(chain, log_id, to_block=to_block, skip=self.contract)
        except CannotVerify as exc:
            ctx.warnings.append(f"step 3: could not look for other contracts anchoring this log id: {exc.message}")
            return
        if others:
            self.result.stats["other_contracts_anchoring_this_log"] = [c.to_json() for c in others]
            listed = ", ".join(f"{c.contract} ({c.anchors} anchors, largest size {c.largest_size})" for c in others)
            ctx.warnings.append(
                f"step 3: other contracts than the bundle's emit Anchored events for this log id: {listed}"
                + (f" and {more} more events" if more else "")
                + ". They were NOT checked (anyone can deploy such a contract); if one of them is the log's "
                "published anchor contract, audit again with --contract ADDR: the bundle may name a contract of "
                "its own"
            )

    def finish(self, ctx: AuditContext) -> None:
        ctx.rewrite = self._rewrite_check(ctx)
        if not self.ready:
            return
        stats = self.result.stats
        stats["anchors_on_chain"] = len(self.on_chain)
        if ctx.bundle.lists_anchors:  # a ledger lists none: the chain alone is the list
            stats["anchors_in_bundle"] = len(self.listed)
        signed = self._signed_roots(ctx)
        self._check_roots(ctx, signed)
        self._check_claims(ctx)
        self._check_listed(ctx)
        self._check_latest(ctx)

    def _rewrite_check(self, ctx: AuditContext) -> RewriteCheck:
        """What these anchors say about an operator who rewrote and re-signed the whole log
        (:data:`verifier.anchor_policy.REWRITE_POLICY`)."""
        covered = min(ctx.log.tree_size, ctx.events_seen)
        anchored = max((a.tree_size for a in self.on_chain if 0 < a.tree_size <= covered), default=0)
        evidence = AnchorEvidence(self.ready, self.contract or None, self.named_by, anchored, ctx.log.tree_size)
        return rewrite_check(evidence)

    def _check_claims(self, ctx: AuditContext) -> None:
        """A bundle that claims no chain (no ``chain`` in log.json) while the contract you trust anchors its log."""
        if _claims_a_chain(ctx) or not ctx.bundle.lists_anchors:
            return
        covered = sorted({a.tree_size for a in self.on_chain if a.tree_size <= ctx.log.tree_size})
        if covered:
            self.fail(
                Finding(
                    3,
                    "bundle_claims_no_anchors",
                    f"log.json has no 'chain', so this bundle claims its log is not anchored, but the contract you "
                    f"trust holds {len(covered)} anchor(s) of this log at sizes up to its tree size "
                    f"{ctx.log.tree_size}: the bundle hides that its log is anchored",
                    expected=f"log.json 'chain' naming contract {self.contract}, and those anchors in anchors.jsonl",
                    found="no 'chain' in log.json",
                    details={"anchored sizes": covered[:20], "contract": self.contract},
                )
            )

    # -- parts ----------------------------------------------------------------------------------------------
    @staticmethod
    def _signed_roots(ctx: AuditContext) -> dict[int, list[tuple[str, bytes]]]:
        """Validly signed checkpoint roots by size (step 2 reports bad notes; here they are just left out)."""
        out: dict[int, list[tuple[str, bytes]]] = {}
        if ctx.trusted_key is None:
            return out
        sources = [(cf.name, cf.content) for cf in ctx.bundle.checkpoint_files()] + list(ctx.extra_checkpoints)
        for label, content in sources:
            try:
                cp = open_checkpoint_by(content, ctx.key_chain or [ctx.trusted_key])
            except VerificationError:
                continue
            if cp.origin == ctx.log.origin:
                out.setdefault(cp.size, []).append((label, cp.root))
        return out

    def _check_roots(self, ctx: AuditContext, signed: dict[int, list[tuple[str, bytes]]]) -> None:
        beyond: list[int] = []
        agreeing: list[int] = []
        by_size: dict[int, dict[bytes, AnchorLog]] = {}
        terms = ctx.bundle.terms
        for a in self.on_chain:
            by_size.setdefault(a.tree_size, {}).setdefault(a.root, a)
        for size, roots in sorted(by_size.items()):
            if len(roots) > 1:
                a, b = list(roots.values())[:2]
                self.fail(
                    Finding(
                        3,
                        "anchor_fork",
                        f"PROOF OF A FORK: two different roots were anchored on chain for tree size {size}",
                        expected=a.root.hex(),
                        found=b.root.hex(),
                        details={"anchor 1": a.to_json(), "anchor 2": b.to_json()},
                    )
                )
            for a in roots.values():
                where = {"size": size, "tx": a.tx_hash, "block": a.block_number}
                if size > ctx.log.tree_size:
                    beyond.append(size)
                    continue
                if size > ctx.events_seen:
                    self.fail(
                        Finding(
                            3,
                            "anchor_beyond_events",
                            f"a root is anchored on chain for size {size}, but only {ctx.events_seen} events were "
                            f"read from {terms.events}: anchored events are missing from {terms.source}",
                            expected=f">= {size} events",
                            found=ctx.events_seen,
                            details=where,
                        )
                    )
                    continue
                recomputed = ctx.roots[size]
                if recomputed == a.root:
                    agreeing.append(size)
                    continue
                prior = max((s for s in agreeing if s < size), default=0)
                details: dict[str, Any] = {**where, "changed range": f"[{prior}, {size})"}
                self.fail(
                    Finding(
                        3,
                        "anchor_root_mismatch",
                        f"the root recomputed from events.jsonl at size {size} differs from the root anchored on "
                        f"chain (tx {a.tx_hash}, block {a.block_number}): some event in [{prior}, {size}) was "
                        "changed, inserted, deleted or moved after it was anchored",
                        expected=a.root.hex(),
                        found=recomputed.hex(),
                        details=details,
                    )
                )
                for label, root in signed.get(size, []):
                    if root != a.root:
                        self.fail(
                            Finding(
                                3,
                                "checkpoint_contradicts_anchor",
                                f"PROOF OF REWRITTEN HISTORY: {label} is validly signed for size {size} with "
                                "another root than the one anchored on chain for that size; keep the note and "
                                "the transaction as evidence",
                                expected=a.root.hex(),
                                found=root.hex(),
                                details={**where, "note": label},
                            )
                        )
        stats = self.result.stats
        stats["anchored_sizes_matching"] = sorted(set(agreeing))
        if beyond:
            stats["anchored_sizes_beyond_bundle"] = sorted(set(beyond))
            bundle = ctx.bundle.lists_anchors
            since, again = ("this bundle", "audit a newer bundle") if bundle else ("the audit began", "audit again")
            ctx.warnings.append(
                f"step 3: {len(set(beyond))} anchor(s) on chain are for sizes beyond {ctx.bundle.terms.size} "
                f"{ctx.log.tree_size} (largest {max(beyond)}): the log has grown since {since}; those roots "
                f"were not checked ({again} to check them)"
            )

    def _check_listed(self, ctx: AuditContext) -> None:
        chain_keys = {(a.tree_size, a.root) for a in self.on_chain}
        by_tx = {(a.tx_hash, a.tree_size): a for a in self.on_chain}
        sizes_on_chain: dict[int, list[AnchorLog]] = {}
        for a in self.on_chain:
            sizes_on_chain.setdefault(a.tree_size, []).append(a)
        listed_keys = set()
        for b in self.listed:
            line = {"anchors.jsonl line": b.line, "size": b.tree_size, "tx": b.tx}
            listed_keys.add((b.tree_size, b.root))
            if b.chain_id != self.chain_id or b.contract != self.contract:
                self.fail(
                    Finding(
                        3,
                        "anchor_other_chain",
                        f"anchors.jsonl line {b.line} names another chain or contract than the one checked",
                        expected=f"chain {self.chain_id} contract {self.contract}",
                        found=f"chain {b.chain_id} contract {b.contract}",
                        details=line,
                    )
                )
                continue
            if b.tree_size > ctx.log.tree_size:
                self.fail(
                    Finding(
                        3,
                        "anchor_listed_beyond_bundle",
                        f"anchors.jsonl line {b.line} lists an anchor for size {b.tree_size}, beyond the "
                        f"bundle's tree size {ctx.log.tree_size}",
                        details=line,
                    )
                )
            if (b.tree_size, b.root) not in chain_keys:
                same_size = sizes_on_chain.get(b.tree_size, [])
                if same_size:
                    self.fail(
                        Finding(
                            3,
                            "anchor_root_differs_from_chain",
                            f"anchors.jsonl line {b.line}: the chain anchors another root for size "
                            f"{b.tree_size} than the bundle lists",
                            expected=same_size[0].root.hex(),
                            found=b.root.hex(),
                            details={**line, "on chain": [a.to_json() for a in same_size]},
                        )
                    )
                else:
                    self.fail(
                        Finding(
                            3,
                            "anchor_not_on_chain",
                            f"anchors.jsonl line {b.line} lists an anchor for size {b.tree_size} that is not "
                            f"on chain {self.chain_id} (no Anchored event for this log and size in "
                            f"contract {self.contract})",
                            expected=f"Anchored(logId, {b.tree_size}, {b.root.hex()})",
                            found="none",
                            details=line,
                        )
                    )
                continue
            found_tx = by_tx.get((b.tx, b.tree_size))
            if (
                found_tx is None
                or found_tx.root != b.root
                or found_tx.block_number != b.block
                or found_tx.block_hash != b.block_hash
            ):
                actual = next(x for x in self.on_chain if (x.tree_size, x.root) == (b.tree_size, b.root))
                self.fail(
                    Finding(
                        3,
                        "anchor_tx_mismatch",
                        f"anchors.jsonl line {b.line}: size {b.tree_size} and its root are anchored, but "
                        "in another transaction or block than the bundle says",
                        expected=actual.to_json(),
                        found=b.to_json(),
                        details=line,
                    )
                )
        if not ctx.bundle.lists_anchors:  # a ledger URL: the chain alone is the list
            self.result.stats["anchor_listing"] = (
                "none in this source (a ledger URL serves no anchors.jsonl): the anchors on chain were checked "
                "against the recomputed roots alone"
            )
            return
        for a in self.on_chain:
            if a.tree_size <= ctx.log.tree_size and (a.tree_size, a.root) not in listed_keys:
                self.fail(
                    Finding(
                        3,
                        "anchor_missing_from_bundle",
                        f"an anchor on chain for size {a.tree_size} (tx {a.tx_hash}, block "
                        f"{a.block_number}) is not listed in anchors.jsonl: the bundle hides it (or the ledger had not "
                        "recorded it as mined when the bundle was written: export again and re-audit)",
                        expected=a.to_json(),
                        found="absent from anchors.jsonl",
                        details={"size": a.tree_size, "tx": a.tx_hash},
                    )
                )

    def _check_latest(self, ctx: AuditContext) -> None:
        stats = self.result.stats
        if not self.on_chain:
            ctx.warnings.append(
                f"step 3: no Anchored event for this log on chain {self.chain_id} in contract {self.contract}: "
                "nothing of this log is fixed on chain"
            )
            return
        assert ctx.chain is not None
        latest = max(self.on_chain, key=lambda a: (a.block_number, a.log_index))
        covering = [a.tree_size for a in self.on_chain if a.tree_size <= ctx.log.tree_size]
        info = block_info(ctx.chain.rpc, latest.block_number)
        entry: dict[str, Any] = {**latest.to_json(), "confirmations": self.to_block - latest.block_number + 1}
        if info is not None:
            entry["timestamp"] = datetime.fromtimestamp(info[1], UTC).isoformat().replace("+00:00", "Z")
            entry["age_seconds"] = max(0, int(time.time()) - info[1])
            if info[0] != latest.block_hash:
                self.fail(
                    Finding(
                        3,
                        "anchor_block_not_canonical",
                        f"the block of the latest anchor ({latest.block_number}) changed hash while it was "
                        "read (reorg); rerun the audit",
                        expected=latest.block_hash,
                        found=info[0],
                    )
                )
        stats["latest_anchor"] = entry
        stats["largest_anchored_size_in_bundle"] = max(covering, default=0)
        stats["unanchored_tail"] = ctx.log.tree_size - max(covering, default=0)


def _claims_a_chain(ctx: AuditContext) -> bool:
    """Whether the source claims its log is anchored (``chain`` in log.json, whatever its shape)."""
    return ctx.log.raw.get("chain") is not None


def _claimed_chain(ctx: AuditContext) -> tuple[dict[str, Any], str | None]:
    """log.json's ``chain`` (an empty dict when absent) and what is wrong with it, if anything."""
    raw = ctx.log.raw.get("chain")
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        return {}, "'chain' is not an object: it names no anchor contract"
    contract = raw.get("contract")
    if not isinstance(contract, str) or not is_address(contract):
        return raw, "chain.contract is not an address: it names no anchor contract"
    return raw, None


def _latest_block_number(chain: ChainAccess) -> int:
    try:
        value = chain.rpc("eth_blockNumber", [])
        return int(value, 16) if isinstance(value, str) else int(value)
    except RpcRefused as exc:
        raise CannotVerify(f"cannot read the latest block number from {chain.display}: {exc}") from exc
