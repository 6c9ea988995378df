"""One monitor round over a live ledger (``hromada-verify monitor URL --state DIR --key VKEY``).

Each round:

1. ``GET /checkpoint``; its signature is checked with the auditor's key, or a key its hand-overs reach (``GET
   /v1/log/handovers``, kept in ``DIR/handovers.json``) (``monitor_checkpoint_invalid``) and its
   origin with the kept one (``monitor_origin_changed``);
2. a smaller size than the kept one is ``monitor_size_decreased``; the same size with another root is
   ``monitor_fork``;
3. a larger size: only the new entries are fetched (C2SP entry bundles from the kept size on; the partial bundle at
   the kept edge is fetched again and its already-seen entries skipped), each is checked by step 1's stateless
   checks (``verifier.envelope.check_line``: its problems are reported with their own codes), its leaf hash is
   added to the kept Merkle frontier, and the frontier's root must be the new checkpoint's
   (``monitor_root_mismatch``: the new tree does not extend the kept one, or the entries are not its leaves);
4. each new entry then goes through the stateful checks of steps 1, 4 and 5 (per-stream version order, time
   order, the domain rules, actor authorisation) with the state they keep on disk in ``DIR/rules.db``
   (verifier/monitor/rules.py: O(new events) a round; their findings keep the audit's codes);
5. with ``--rpc URL --contract ADDR``: the contract's ``Anchored`` events of this log are read from the chain from
   the first block not read yet, and each anchor the new checkpoint covers is checked against the monitor's own
   tree (a root it holds, or the ledger's consistency proof from the anchored root to the new checkpoint's root,
   which the monitor recomputed itself); anchors beyond the new size stay pending for a later round
   (verifier/monitor/anchors.py: ``anchor_root_mismatch``, ``checkpoint_contradicts_anchor``, ``anchor_fork``,
   ``anchor_chain_mismatch``, ``monitor_anchor_unproved``);
6. the witness policy, when given, is checked on the new note (its findings keep their ``witness_*`` codes).

On ``monitor_fork``, ``monitor_root_mismatch`` and ``monitor_size_decreased`` both notes (the kept one and the new
one) are written to ``DIR/evidence/``; on ``checkpoint_contradicts_anchor`` the note and the anchor. A round with a
finding does not advance the state (neither ``state.json`` nor ``rules.db``).

Not done by this version: step 4's end-of-log check and the state.json comparison (verifier/monitor/rules.py), and
the listing checks of an audit bundle's ``anchors.jsonl`` (a ledger serves none); run ``hromada-verify audit`` for
them. Anchors are read up to the latest block: one that a reorg later removes has been checked all the same.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verifier.anchors import AnchorLog, ChainAccess
from verifier.envelope import check_line
from verifier.errors import CannotVerify, Evidence, NetworkError, UnreadableInput, VerificationError
from verifier.keychain import follow as follow_keys
from verifier.keychain import not_current, open_in_chain
from verifier.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash
from verifier.monitor.anchors import AnchorRound, ChainState, ProofAnswer, check_anchors, read_anchors
from verifier.monitor.findings import MonitorFinding
from verifier.monitor.rules import RULES_FILE, RuleState, committed_state
from verifier.monitor.state import MonitorState, load_state, save_state, state_doc, state_from_doc
from verifier.note import Checkpoint, VerifierKey, open_checkpoint
from verifier.remote import TILE_WIDTH, entries_path, parse_entry_bundle
from verifier.source import CHECKPOINT_LIMIT
from verifier.witness.policy import WitnessPolicy, check_witness_policy

__all__ = ["Monitor", "MonitorFinding", "RoundResult"]

MAX_FINDINGS_PER_ROUND = 100


@dataclass
class RoundResult:
    round: int
    size: int
    new: int
    requests: int = 0
    findings: list[MonitorFinding] = field(default_factory=list)
    anchors: dict[str, Any] | None = None  # with --rpc: what the round read from the chain and checked

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "round": self.round,
            "size": self.size,
            "new": self.new,
            "ok": self.ok,
            "requests": self.requests,
            "findings": [f.to_json() for f in self.findings],
        }
        if self.anchors is not None:
            out["anchors"] = self.anchors
        return out


class Monitor:
    """Follows the ledger at ``url``, keeping its state in ``directory`` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        directory: Path,
        key: VerifierKey,
        policy: WitnessPolicy | None = None,
        client: httpx.Client | None = None,
        *,
        rules: bool = True,
        chain: ChainAccess | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.directory = directory
        self.key = key
        self.policy = policy
        if chain is not None and chain.contract is None:
            raise CannotVerify("--rpc needs --contract ADDR: a ledger names no anchor contract to trust")
        self.chain = chain
        self._own = client is None
        self._client = client if client is not None else httpx.Client(timeout=60.0, follow_redirects=False)
        self.state = load_state(directory)
        self.rules = rules
        self._rules: RuleState | None = None
        self._requests = 0
        self._known_handovers: list[str] | None = None
        if rules:
            self._resume_rules()

    def _resume_rules(self) -> None:
        """``rules.db`` must have reached the size ``state.json`` holds; if it is ahead (the process died between
        the two commits), the state document it committed is taken."""
        path = self.directory / RULES_FILE
        committed = committed_state(self.directory)
        size = -1 if committed is None else int(committed.get("size", -1))
        if committed is None and self.state.size == 0:
            return
        if size > self.state.size:
            self.state = state_from_doc(committed, path)
            save_state(self.directory, self.state)
        elif size < self.state.size:
            raise UnreadableInput(
                f"{path} holds no rule state at size {self.state.size} (state.json's): the rules cannot resume; "
                "start with an empty --state directory, or pass --no-rules"
            )

    def close(self) -> None:
        if self._own:
            self._client.close()

    def _get(self, path: str, limit: int) -> bytes:
        url = f"{self.url}/{path}"
        self._requests += 1
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise NetworkError(f"GET {url} answered HTTP {response.status_code}")
                out = bytearray()
                for chunk in response.iter_bytes():
                    out += chunk
                    if len(out) > limit:
                        raise UnreadableInput(f"GET {url}: the answer is larger than {limit} bytes")
                return bytes(out)
        except httpx.HTTPError as exc:
            raise NetworkError(f"GET {url} failed: {exc}") from exc

    def _open(self, raw: bytes) -> tuple[Checkpoint, VerifierKey]:
        """The checkpoint and the key that signed it: the pinned key, or after a rotation (docs/formats.md §3) the
        key the log's hand-overs reach from it, which must be the key in force at the checkpoint's size (so once a
        hand-over is known, the retired key's signature on a later size is an alert). The hand-overs are fetched
        (``GET /v1/log/handovers``) when the keys known do not verify the note, and kept in ``DIR/handovers.json``
        (each is checked from the pinned key again at every round: the file is evidence, not trust)."""
        known = self._handovers()
        try:
            return self._open_with(raw, known)
        except VerificationError as exc:
            try:
                listed = json.loads(self._get("v1/log/handovers", CHECKPOINT_LIMIT * 64))["handovers"]
                fetched = [str(h["note"]) for h in listed]
            except (NetworkError, UnreadableInput, ValueError, KeyError, TypeError):
                raise exc from None  # a ledger that lists no hand-overs: the verdict on the keys known stands
            notes = known + [n for n in fetched if n not in known]
            if notes == known:
                raise
            opened = self._open_with(raw, notes)
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / "handovers.json.tmp"
            tmp.write_text(json.dumps(notes, indent=1), encoding="utf-8")
            tmp.replace(self.directory / "handovers.json")
            self._known_handovers = notes
            return opened

    def _handovers(self) -> list[str]:
        """The hand-over notes kept in ``DIR/handovers.json``, read once per process (only :meth:`_open` writes it)."""
        if self._known_handovers is None:
            self._known_handovers = self._read_handovers()
        return self._known_handovers

    def _read_handovers(self) -> list[str]:
        path = self.directory / "handovers.json"
        if not path.exists():
            return []
        try:
            notes = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UnreadableInput(f"{path}: not the monitor's list of hand-over notes") from exc
        if type(notes) is not list or not all(type(n) is str for n in notes):
            raise UnreadableInput(f"{path}: not the monitor's list of hand-over notes")
        return notes

    def _open_with(self, raw: bytes, notes: list[str]) -> tuple[Checkpoint, VerifierKey]:
        if not notes:
            return open_checkpoint(raw, self.key), self.key
        chain = follow_keys(self.key, [(f"handover {i}", n.encode()) for i, n in enumerate(notes)])
        if chain.rejected and len(chain.keys) == 1:
            rejected = "; ".join(r.message for r in chain.rejected)
            try:
                open_checkpoint(raw, self.key)
            except VerificationError as exc:
                raise VerificationError(
                    f"{exc.message} (hand-overs rejected: {rejected})", exc.evidence, code="key_handover_invalid"
                ) from None
        cp, stale = open_in_chain(raw, chain)
        if stale is not None:
            message, expected, found = not_current(cp, stale, chain)
            raise VerificationError(
                message, Evidence(expected=expected, found=found), code="checkpoint_key_not_current"
            )
        signer = next((k for k in chain.keys if k.covers(cp.size)), chain.current)
        return cp, signer.key

    def _evidence(self, round_no: int, code: str, new_note: str) -> list[str]:
        folder = self.directory / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        digest = hashlib.sha256(new_note.encode()).hexdigest()[:12]
        for which, note in (("kept", self.state.checkpoint), ("new", new_note)):
            if note is None:
                continue
            # named after the new note's hash too: another fork seen in the same round number never overwrites it
            path = folder / f"round-{round_no}-{code}-{digest}-{which}.note"
            path.write_text(note, encoding="utf-8")
            written.append(str(path))
        return written

    def _anchor_evidence(self, round_no: int, code: str, note: str, anchor: AnchorLog) -> list[str]:
        """The signed note and the anchor that contradicts it, as ``DIR/evidence/round-<n>-<code>-<hash12>-{note.note,
        anchor.json}`` (the hash is the note's)."""
        folder = self.directory / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"round-{round_no}-{code}-{hashlib.sha256(note.encode()).hexdigest()[:12]}"
        note_path, anchor_path = folder / f"{stem}-note.note", folder / f"{stem}-anchor.json"
        note_path.write_text(note, encoding="utf-8")
        doc = {**anchor.to_json(), "contract": anchor.contract, "log_id": anchor.log_id.hex()}
        anchor_path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        return [str(note_path), str(anchor_path)]

    def _prove(self, first: int, second: int) -> ProofAnswer:
        """The ledger's consistency proof from ``first`` to ``second``, or the 4xx status it refused with."""
        path = f"v1/proofs/consistency?from={first}&to={second}"
        url = f"{self.url}/{path}"
        self._requests += 1
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise NetworkError(f"GET {url} failed: {exc}") from exc
        if 400 <= response.status_code < 500:
            return response.status_code
        if response.status_code != 200:
            raise NetworkError(f"GET {url} answered HTTP {response.status_code}")
        if len(response.content) > 64 * 1024:
            raise UnreadableInput(f"GET {url}: the answer is larger than 64 KiB")
        try:
            proof = response.json()["proof"]
            hashes = [bytes.fromhex(h) for h in proof]
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableInput(f"GET {url} is not a consistency proof: {exc}") from exc
        if not isinstance(proof, list) or len(hashes) > 128:
            raise UnreadableInput(f"GET {url} is not a consistency proof")
        return hashes

    def run_round(self) -> RoundResult:
        """One round; NetworkError/UnreadableInput when the ledger cannot be read (nothing is claimed)."""
        try:
            return self._round()
        finally:
            if self._rules is not None:  # not committed by _finish: the round did not complete
                self._rules.rollback()
                self._rules = None

    def _round(self) -> RoundResult:
        self._requests = 0
        state = self.state
        round_no = state.rounds + 1
        raw = self._get("checkpoint", CHECKPOINT_LIMIT)
        note = raw.decode("utf-8", errors="replace")
        result = RoundResult(round_no, state.size, 0)
        try:
            cp, log_key = self._open(raw)
        except VerificationError as exc:
            result.findings.append(
                MonitorFinding(
                    code="monitor_checkpoint_invalid",
                    message=f"GET /checkpoint is not a checkpoint signed by {self.key.name}"
                    f" or a key its hand-overs reach: {exc.message}",
                    evidence=self._evidence(round_no, "monitor_checkpoint_invalid", note),
                )
            )
            return self._finish(result, None)
        result.size = cp.size
        if state.origin is not None and cp.origin != state.origin:
            result.findings.append(
                MonitorFinding(
                    code="monitor_origin_changed",
                    message="the checkpoint names another log than the one followed",
                    expected=state.origin,
                    found=cp.origin,
                )
            )
            return self._finish(result, None)
        tree = state.tree()
        roots = {0: EMPTY_ROOT, state.size: tree.root()}  # the roots the monitor holds of its own tree
        if cp.size < state.size:
            result.findings.append(
                MonitorFinding(
                    code="monitor_size_decreased",
                    message=f"the log shrank from {state.size} to {cp.size} entries",
                    expected=f">= {state.size}",
                    found=cp.size,
                    evidence=self._evidence(round_no, "monitor_size_decreased", note),
                )
            )
            return self._finish(result, None)
        if cp.size == state.size and tree.root() != cp.root:
            result.findings.append(
                MonitorFinding(
                    code="monitor_fork",
                    message=f"a second checkpoint of size {cp.size} with another root, signed by the log key",
                    expected=tree.root().hex(),
                    found=cp.root.hex(),
                    evidence=self._evidence(round_no, "monitor_fork", note),
                )
            )
            return self._finish(result, None)
        chain_read: AnchorRound | None = None  # read after the fork check: a chain down never hides a fork
        if self.chain is not None:
            read = read_anchors(self.chain, cp.origin, state.chain)
            if isinstance(read, MonitorFinding):
                result.findings.append(read)
                return self._finish(result, None)
            chain_read = read
        if cp.size > state.size:
            wanted = set() if chain_read is None else {a.tree_size for a in chain_read.anchors}
            self._read_new(cp.origin, state.size, cp.size, tree, result, wanted, roots)
            if not result.findings and tree.root() != cp.root:
                result.findings.append(
                    MonitorFinding(
                        code="monitor_root_mismatch",
                        message=(
                            f"the entries {state.size}..{cp.size - 1} added to the kept tree of size {state.size} "
                            f"do not make the checkpoint's root: the new tree does not extend the one kept"
                        ),
                        expected=cp.root.hex(),
                        found=tree.root().hex(),
                        evidence=self._evidence(round_no, "monitor_root_mismatch", note),
                    )
                )
        chain_state = state.chain
        if chain_read is not None and not result.findings:
            chain_state = self._check_anchors(round_no, chain_read, cp.size, tree.root(), roots, note, result)
        if self.policy is not None and not result.findings:
            witnessed = check_witness_policy(note, self.policy, log_key)
            for w in witnessed.findings:
                if w.fails:
                    result.findings.append(MonitorFinding(w.code, w.message, expected=w.expected, found=w.found))
        if result.findings:
            return self._finish(result, None)
        result.new = cp.size - state.size
        new_state = MonitorState(cp.origin, cp.size, note, tree.frontier(), round_no, chain_state)
        return self._finish(result, new_state)

    def _check_anchors(
        self,
        round_no: int,
        read: AnchorRound,
        size: int,
        root: bytes,
        roots: dict[int, bytes],
        note: str,
        result: RoundResult,
    ) -> ChainState:
        """The anchors read this round against the monitor's tree (verifier/monitor/anchors.py); the chain state
        the round reaches when it has no finding."""
        kept = self.state
        roots[size] = root
        notes = {size: note}
        if kept.checkpoint is not None:
            notes[kept.size] = kept.checkpoint
        findings, checked, pending = check_anchors(
            read.anchors,
            size=size,
            roots=roots,
            notes=notes,
            prove=lambda first: self._prove(first, size),
            evidence=lambda code, signed, anchor: self._anchor_evidence(round_no, code, signed, anchor),
        )
        result.findings.extend(findings)
        before = kept.chain if kept.chain is not None and kept.chain.contract == read.contract else None
        total = (0 if before is None else before.checked) + len(checked)
        largest = max([0 if before is None else before.largest, *(a.tree_size for a in checked)])
        result.anchors = {
            "chain_id": read.chain_id,
            "contract": read.contract,
            "to_block": read.to_block,
            "read": read.read,
            "checked": sorted({a.tree_size for a in checked}),
            "pending": sorted({a.tree_size for a in pending}),
            "largest_anchored_size": largest,
        }
        return ChainState(read.chain_id, read.contract, read.to_block + 1, pending, total, largest)

    def _read_new(
        self,
        origin: str,
        kept: int,
        size: int,
        tree: TreeBuilder,
        result: RoundResult,
        wanted: set[int],
        roots: dict[int, bytes],
    ) -> None:
        """Fetch entries ``kept``..``size - 1``, check each, append its leaf hash to ``tree``; the root at each size
        in ``wanted`` (the anchored ones) goes into ``roots``."""
        for index in range(kept // TILE_WIDTH, (size - 1) // TILE_WIDTH + 1):
            width = min(TILE_WIDTH, size - index * TILE_WIDTH)
            path = entries_path(index, width)
            body = self._get(path, width * (2 + 65535))
            try:
                entries = parse_entry_bundle(body, width)
            except ValueError as exc:
                raise UnreadableInput(f"{self.url}/{path} is not an entry bundle: {exc}") from exc
            first = index * TILE_WIDTH
            if self.rules and self._rules is None:
                self._rules = RuleState(self.directory)
            for offset, entry in enumerate(entries):
                n = first + offset
                if n < kept:
                    continue  # seen in an earlier round (the partial bundle at the kept edge, fetched again)
                if b"\n" in entry:  # it could not be a line of events.jsonl
                    result.findings.append(
                        MonitorFinding(
                            code="monitor_entry_newline",
                            message="an entry holds a newline: it is no canonical envelope",
                            index=n,
                        )
                    )
                else:
                    checked = check_line(entry, origin)
                    for p in checked.problems:
                        if len(result.findings) < MAX_FINDINGS_PER_ROUND:
                            result.findings.append(MonitorFinding(p.code, p.message, n, p.expected, p.found))
                    if self._rules is not None:
                        self._rules.feed(n, checked)
                tree.append(leaf_hash(entry))
                if n + 1 in wanted:
                    roots[n + 1] = tree.root()
        if self._rules is not None:
            for f in self._rules.findings:
                if len(result.findings) < MAX_FINDINGS_PER_ROUND:
                    result.findings.append(
                        MonitorFinding(f.code, f"step {f.step}: {f.message}", f.index, f.expected, f.found)
                    )

    def _finish(self, result: RoundResult, new_state: MonitorState | None) -> RoundResult:
        result.requests = self._requests
        if new_state is not None:
            if self._rules is not None:  # the rule state first: if we die before state.json, it is ahead
                self._rules.commit(state_doc(new_state))
                self._rules = None
            save_state(self.directory, new_state)
            self.state = new_state
        return result


def post_webhook(url: str, doc: dict[str, Any], client: httpx.Client | None = None) -> str | None:
    """POST ``doc`` as JSON to ``url``; the reason it failed, or None."""
    try:
        response = client.post(url, json=doc) if client is not None else httpx.post(url, json=doc, timeout=10.0)
    except httpx.HTTPError as exc:
        return f"POST {url} failed: {exc}"
    return None if response.is_success else f"POST {url} answered HTTP {response.status_code}"


def follow(
    monitor: Monitor,
    *,
    once: bool,
    interval: float,
    webhook: str | None,
    emit: Any,
    warn: Any,
) -> int:
    """Rounds until a finding (exit 1), the ledger cannot be read (exit 2), or, with ``once``, after one round (0)."""
    while True:
        try:
            result = monitor.run_round()
        except CannotVerify as exc:  # the ledger or the chain cannot be read
            emit(json.dumps({"round": monitor.state.rounds + 1, "ok": False, "error": exc.to_json()}))
            return 2
        doc = result.to_json()
        emit(json.dumps(doc, ensure_ascii=False, default=str))
        if not result.ok:
            if webhook is not None:
                problem = post_webhook(webhook, doc)
                if problem is not None:
                    warn(problem)
            return 1
        if once:
            return 0
        time.sleep(interval)
