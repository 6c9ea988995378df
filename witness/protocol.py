"""``add-checkpoint`` (c2sp.org/tlog-witness): the request body and every check before a cosignature.

Body: ``old <size>\\n``, zero to 63 lines of one base64 hash each (the RFC 6962 consistency proof from the old size
to the checkpoint's), an empty line, then the signed checkpoint note. Answers, in the spec's order:

* 400: a malformed body or note, an old size larger than the checkpoint's;
* 404: a checkpoint origin this witness has no log key for;
* 403: no signature by the log's key verifies (a bad one by the log's key rejects the note as a whole);
* 409 with the stored size (``text/x.tlog.size``): the old size is not the size of the latest cosigned checkpoint
  of this log; or it is, and equals the checkpoint's, but the root differs (kept as evidence);
* 422: the consistency proof does not verify (kept as evidence), or a proof is given from size 0;
* 200: the cosignature line, after the new checkpoint was stored.

Key rotation (docs/formats.md §3): a checkpoint whose body carries ``key-handover <vkey>``, signed by the log's key
this witness follows and by the key it names, is cosigned like any other, and from then on this witness follows the
named key: the log's later checkpoints must be signed by it (a checkpoint by the retired key is a 403), and its
stored size and root carry over to it. A hand-over not signed by the key it names, or naming a key of another log,
is a 403 and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from verifier.errors import VerificationError
from verifier.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from verifier.note import (
    Checkpoint,
    VerifierKey,
    open_note,
    parse_checkpoint_body,
    parse_note,
    parse_verifier_key,
)
from witness.keys import WitnessKey
from witness.state import WitnessState

log = logging.getLogger("hromada.witness")

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024
SIZE_MEDIA_TYPE = "text/x.tlog.size"
HANDOVER = "key-handover "  # docs/formats.md §3


class Refusal(Exception):
    """An answer other than 200: the HTTP status, a one-line reason, and the body to send."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        body: str | None = None,
        media_type: str = "text/plain",
        evidence: bool = False,
    ) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.evidence = evidence  # the request is kept: it shows the log misbehaving
        self.reason = reason
        self.body = body if body is not None else reason + "\n"
        self.media_type = media_type


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise Refusal(400, f"{what} is not a decimal without leading zeroes: {text[:40]!r}")
    value = int(text)
    if value >= 1 << 63:
        raise Refusal(400, f"{what} {value} is beyond what this witness stores (2^63 - 1)")
    return value


def parse_request(body: bytes) -> AddCheckpoint:
    """Split an add-checkpoint body. Raises :class:`Refusal` (400) when it breaks the grammar."""
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal(400, f"body is not UTF-8: {e}") from e
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Refusal(400, "no empty line between the old size and proof lines and the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise Refusal(400, f"the first line must be 'old <size>', not {lines[0][:40]!r}")
    old = _decimal(lines[0][4:], "old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refusal(400, f"{len(lines) - 1} consistency proof lines, at most {MAX_PROOF_LINES}")
    proof: list[bytes] = []
    for i, line in enumerate(lines[1:]):
        try:
            h = base64.b64decode(line.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as e:
            raise Refusal(400, f"consistency proof line {i} is not base64") from e
        if len(h) != HASH_SIZE or base64.b64encode(h).decode("ascii") != line:
            raise Refusal(400, f"consistency proof line {i} is not the canonical base64 of a 32-byte hash")
        proof.append(h)
    return AddCheckpoint(old, tuple(proof), note)


class Witness:
    """Checks and cosigns checkpoints of the logs in ``logs`` (origin -> the log's verifier key)."""

    def __init__(
        self,
        key: WitnessKey,
        state: WitnessState,
        logs: Mapping[str, VerifierKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.state = state
        self.logs = dict(logs)
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line(s) for a valid request; raises :class:`Refusal` otherwise."""
        req = parse_request(body)
        try:
            text = parse_note(req.note).text
            cp = parse_checkpoint_body(text)
        except VerificationError as e:
            raise Refusal(400, f"not a signed checkpoint: {e.message}") from e
        configured = self.logs.get(cp.origin)
        if configured is None:
            raise Refusal(404, f"unknown log origin {cp.origin!r}")
        with self.state.read() as reader:  # no write lock: a request refused below never waits for one
            followed = reader.current_key(cp.origin, str(configured))
        log_key = configured if followed == str(configured) else parse_verifier_key(followed)
        try:
            open_note(req.note, [log_key])
        except VerificationError as e:
            raise Refusal(
                403, f"the checkpoint is not signed by {log_key.name}+{log_key.key_id_hex}: {e.message}"
            ) from e
        successor = self._successor(req.note, cp, log_key)
        if cp.size >= 1 << 63:
            raise Refusal(400, f"tree size {cp.size} is beyond what this witness stores (2^63 - 1)")
        if req.old_size > cp.size:
            raise Refusal(400, f"old size {req.old_size} is larger than the checkpoint's size {cp.size}")
        vkey = str(log_key)
        try:
            with self.state.transaction() as tx:
                if tx.current_key(cp.origin, str(configured)) != followed:  # a hand-over was cosigned meanwhile
                    raise Refusal(403, "the log's key was handed over while this checkpoint was checked: send again")
                stored = tx.latest(cp.origin, vkey)
                if req.old_size != stored.size:
                    raise Refusal(
                        409,
                        f"old size {req.old_size} is not the size of the latest cosigned checkpoint ({stored.size})",
                        body=f"{stored.size}\n",
                        media_type=SIZE_MEDIA_TYPE,
                    )
                self._check_consistency(req, cp, stored.root)
                timestamp = int(self.clock())
                line = self.key.cosign(text, timestamp)
                tx.store(cp.origin, vkey, cp.size, cp.root, req.note, timestamp)
                if successor is not None:
                    tx.store(cp.origin, str(successor), cp.size, cp.root, req.note, timestamp)
                    tx.adopt(cp.origin, str(configured), str(successor), cp.size)
        except Refusal as refusal:
            if refusal.evidence:  # after the transaction: the state's lock is free again
                self._keep(cp, vkey, refusal.reason, req)
            raise
        log.info("cosigned %s at size %d", cp.origin, cp.size)
        return line

    @staticmethod
    def _successor(note: str, cp: Checkpoint, log_key: VerifierKey) -> VerifierKey | None:
        """The key a hand-over checkpoint names (None: not a hand-over, or it names the key already followed);
        :class:`Refusal` 403 when it is not signed by that key or names a key of another log."""
        named = [e[len(HANDOVER) :] for e in cp.extensions if e.startswith(HANDOVER)]
        if not named:
            return None
        if len(named) > 1:
            raise Refusal(400, "a hand-over names one key")
        try:
            new = parse_verifier_key(named[0])
        except VerificationError as e:
            raise Refusal(400, f"the hand-over names no usable key: {e.message}") from e
        if str(new) == str(log_key):
            return None
        if new.name != cp.origin:
            raise Refusal(403, f"the hand-over names a key of {new.name!r}, not of this log")
        try:
            open_note(note, [new])
        except VerificationError as e:
            raise Refusal(403, f"the hand-over is not signed by the key it names: {e.message}") from e
        return new

    @staticmethod
    def _check_consistency(req: AddCheckpoint, cp: Checkpoint, stored_root: bytes | None) -> None:
        if req.old_size == 0:
            if req.proof:
                raise Refusal(422, "a consistency proof from size 0 must be empty")
            if cp.size == 0 and cp.root != EMPTY_ROOT:
                raise Refusal(422, "a checkpoint of size 0 must carry the empty tree's root", evidence=True)
            return
        assert stored_root is not None  # a stored size above 0 has its root
        if req.old_size == cp.size:
            if cp.root != stored_root:
                raise Refusal(
                    409,
                    f"size {cp.size} was cosigned with root {stored_root.hex()}, not {cp.root.hex()}",
                    body=f"{req.old_size}\n",
                    media_type=SIZE_MEDIA_TYPE,
                    evidence=True,
                )
            if req.proof:
                raise Refusal(422, "equal sizes need an empty consistency proof")
            return
        try:
            verify_consistency(req.old_size, cp.size, req.proof, stored_root, cp.root)
        except VerificationError as e:
            raise Refusal(
                422,
                f"the consistency proof from {req.old_size} to {cp.size} does not verify: {e.message}",
                evidence=True,
            ) from e

    def _keep(self, cp: Checkpoint, vkey: str, reason: str, req: AddCheckpoint) -> None:
        proof = "".join(base64.b64encode(h).decode("ascii") + "\n" for h in req.proof)
        request = f"old {req.old_size}\n{proof}\n{req.note}"
        log.warning("refused %s: %s", cp.origin, reason)
        self.state.keep_evidence(cp.origin, vkey, reason, request)
