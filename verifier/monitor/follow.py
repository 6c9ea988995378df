"""One monitor round over a live ledger (``hromada-verify monitor URL --state DIR --key VKEY``).

Each round:

1. ``GET /checkpoint``; its signature is checked with the auditor's key (``monitor_checkpoint_invalid``) and its
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
5. the witness policy, when given, is checked on the new note (its findings keep their ``witness_*`` codes).

On ``monitor_fork``, ``monitor_root_mismatch`` and ``monitor_size_decreased`` both notes (the kept one and the new
one) are written to ``DIR/evidence/``. A round with a finding does not advance the state (neither ``state.json``
nor ``rules.db``).

Not done by this version: anchors are not read from the chain, and step 4's end-of-log check and state.json
comparison are not run (verifier/monitor/rules.py); run ``hromada-verify audit`` for them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from verifier.envelope import check_line
from verifier.errors import NetworkError, UnreadableInput, VerificationError
from verifier.merkle import TreeBuilder, leaf_hash
from verifier.monitor.rules import RULES_FILE, RuleState, committed_state
from verifier.monitor.state import MonitorState, load_state, save_state, state_doc, state_from_doc
from verifier.note import VerifierKey, open_checkpoint
from verifier.remote import TILE_WIDTH, entries_path, parse_entry_bundle
from verifier.source import CHECKPOINT_LIMIT
from verifier.witness.policy import WitnessPolicy, check_witness_policy

__all__ = ["Monitor", "MonitorFinding", "RoundResult"]

MAX_FINDINGS_PER_ROUND = 100


@dataclass(frozen=True)
class MonitorFinding:
    code: str
    message: str
    index: int | None = None
    expected: Any = None
    found: Any = None
    evidence: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("index", "expected", "found", "evidence"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class RoundResult:
    round: int
    size: int
    new: int
    requests: int = 0
    findings: list[MonitorFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "size": self.size,
            "new": self.new,
            "ok": self.ok,
            "requests": self.requests,
            "findings": [f.to_json() for f in self.findings],
        }


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
    ) -> None:
        self.url = url.rstrip("/")
        self.directory = directory
        self.key = key
        self.policy = policy
        self._own = client is None
        self._client = client if client is not None else httpx.Client(timeout=60.0, follow_redirects=False)
        self.state = load_state(directory)
        self.rules = rules
        self._rules: RuleState | None = None
        self._requests = 0
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
            cp = open_checkpoint(raw, self.key)
        except VerificationError as exc:
            result.findings.append(
                MonitorFinding(
                    code="monitor_checkpoint_invalid",
                    message=f"GET /checkpoint is not a checkpoint signed by {self.key.name}: {exc.message}",
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
        if cp.size == state.size:
            if tree.root() != cp.root:
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
        else:
            self._read_new(cp.origin, state.size, cp.size, tree, result)
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
        if self.policy is not None and not result.findings:
            witnessed = check_witness_policy(note, self.policy, self.key)
            for w in witnessed.findings:
                if w.fails:
                    result.findings.append(MonitorFinding(w.code, w.message, expected=w.expected, found=w.found))
        if result.findings:
            return self._finish(result, None)
        result.new = cp.size - state.size
        return self._finish(result, MonitorState(cp.origin, cp.size, note, tree.frontier(), round_no))

    def _read_new(self, origin: str, kept: int, size: int, tree: TreeBuilder, result: RoundResult) -> None:
        """Fetch entries ``kept``..``size - 1``, check each, append its leaf hash to ``tree``."""
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
        except (NetworkError, UnreadableInput) as exc:
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
