"""Sending signed checkpoints to C2SP witnesses (c2sp.org/tlog-witness) and keeping their cosignatures.

For each configured witness a background thread (:class:`WitnessDispatcher`) watches the latest signed checkpoint;
when it is larger than what that witness last cosigned it POSTs ``<url>/add-checkpoint`` with ``old <size>``, the
consistency proof from that size and the checkpoint note. On 409 (``text/x.tlog.size``) it re-sends once from the
size the witness reports. A 200 answer is checked line by line against the witness's configured key
(tlog-cosignature/v1 over this checkpoint's body): only lines that verify are stored; lines by other keys are
ignored; an answer with none that verifies counts as a failure (a lying or broken witness).

A witness that is down, slow or lying never blocks the ledger: every request has a timeout, failures back off
exponentially (up to ``witness_retry_max_seconds``), are logged and kept in ``witness_state`` (``/metrics``), and
the checkpointer never waits for a witness. ``GET /checkpoint`` serves the latest note with the stored cosignature
lines appended (:func:`cosigned_note`): still a valid signed note for a client that knows only the log's key.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, Engine, delete, insert, select

from ledger import note
from ledger.checkpoints import Checkpoint, latest_checkpoint
from ledger.db.schema import witness_cosignatures, witness_state
from ledger.errors import ConfigurationError
from ledger.keychain import handovers
from ledger.merkle.proof_build import consistency_proof
from ledger.merkle.storage import SqlTileStore

log = logging.getLogger("hromada.witnesses")

SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_ANSWER_BYTES = 64 * 1024


# ------------------------------------------------------------------------------------------------ settings


class WitnessConfig(BaseModel):
    """One witness: where to send checkpoints and the key its cosignatures must verify with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="The witness's submission prefix: checkpoints go to <url>/add-checkpoint.")
    key: str = Field(description="The witness's verifier key, <name>+<hex8>+<base64(0x04 ‖ public key)>.")
    name: str | None = Field(default=None, description="A label for logs and metrics; default: the key's name.")

    @model_validator(mode="after")
    def _check(self) -> WitnessConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"witness url {self.url!r} is not http(s)")
        try:
            verifier = note.parse_verifier_key(self.key)
        except note.NoteError as e:
            raise ConfigurationError(f"witness key {self.key!r}: {e}") from e
        if verifier.alg != note.ALG_COSIGNATURE_V1:
            raise ConfigurationError(f"witness key {self.key!r} is not a cosignature/v1 (0x04) key")
        return self

    @property
    def label(self) -> str:
        return self.name or self.verifier.name

    @property
    def verifier(self) -> note.Verifier:
        return note.parse_verifier_key(self.key)


class WitnessSettings(BaseModel):
    """The witnesses' part of the settings tree (hromada/settings.py); each field is HROMADA_<NAME>."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    witnesses: list[WitnessConfig] = Field(
        default_factory=list,
        description='JSON list of {"url": ..., "key": <witness verifier key>, "name": optional label}.',
    )
    witness_timeout_seconds: float = Field(default=5.0, gt=0, description="Timeout of one request to a witness.")
    witness_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait between two retries.")
    witness_poll_seconds: float = Field(default=1.0, gt=0, description="How often a new checkpoint is looked for.")

    @field_validator("witnesses", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as e:
                raise ConfigurationError(f"HROMADA_WITNESSES is not JSON: {e}") from e
        return value

    @model_validator(mode="after")
    def _unique(self) -> WitnessSettings:
        labels = [w.label for w in self.witnesses]
        if len(set(labels)) != len(labels):
            raise ConfigurationError(f"witness names must be unique: {labels}")
        return self


# ---------------------------------------------------------------------------------------------- reading


def cosigned_note(conn: Connection, cp: Checkpoint) -> str:
    """The checkpoint's signed note with the stored witness cosignature lines appended."""
    rows = conn.execute(
        select(witness_cosignatures.c.line)
        .where(witness_cosignatures.c.tree_size == cp.tree_size)
        .order_by(witness_cosignatures.c.witness)
    ).all()
    return cp.note + "".join(r.line for r in rows)


@dataclass(frozen=True)
class WitnessStatus:
    witness: str
    cosigned_size: int
    failures: int
    last_error: str | None


def witness_statuses(conn: Connection) -> list[WitnessStatus]:
    rows = conn.execute(select(witness_state).order_by(witness_state.c.witness)).all()
    return [WitnessStatus(r.witness, int(r.cosigned_size), int(r.failures), r.last_error) for r in rows]


# ---------------------------------------------------------------------------------------------- sending


class WitnessFailure(Exception):
    """One round with a witness did not end in a stored cosignature; the message says why (with the evidence)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def request_body(old_size: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    """The add-checkpoint body: ``old <size>``, one base64 hash per line, an empty line, the note."""
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in proof), "\n"]
    return ("".join(lines) + checkpoint_note).encode()


def valid_cosignatures(checkpoint_text: str, answer: str, verifier: note.Verifier) -> list[tuple[str, int]]:
    """(line, timestamp) of every line of ``answer`` that is ``verifier``'s cosignature over ``checkpoint_text``.
    Lines by other keys are ignored; a line by this key that does not verify is refused (WitnessFailure)."""
    try:
        _, sigs = note.parse_note(checkpoint_text + "\n" + answer)
    except note.NoteError as e:
        raise WitnessFailure(f"the answer is not cosignature lines: {e}") from e
    found: list[tuple[str, int]] = []
    for sig in sigs:
        if (sig.name, sig.key_id) != (verifier.name, verifier.key_id):
            continue
        try:
            cosig = note.verify_cosignature(checkpoint_text, sig, verifier)
        except note.NoteError as e:
            raise WitnessFailure(f"a cosignature by {verifier.verifier_key()} does not verify: {sig.line()!r}") from e
        found.append((sig.line(), cosig.timestamp))
    if not found:
        raise WitnessFailure(f"no cosignature by {verifier.verifier_key()} in the answer {answer[:300]!r}")
    return found


class WitnessSender:
    """One witness: what it last cosigned (``witness_state``) and one round of sending it the latest checkpoint."""

    def __init__(self, engine: Engine, witness: WitnessConfig, *, timeout: float, client: httpx.Client) -> None:
        self.engine = engine
        self.witness = witness
        self.timeout = timeout
        self.client = client
        self.verifier = witness.verifier
        self.url = witness.url.rstrip("/") + "/add-checkpoint"

    def _state(self, conn: Connection) -> tuple[int, int]:
        row = conn.execute(select(witness_state).where(witness_state.c.witness == self.witness.label)).first()
        if row is None or row.key != self.witness.key:  # a new witness, or a new key: it starts from nothing
            return 0, 0 if row is None else int(row.failures)
        return int(row.cosigned_size), int(row.failures)

    def _save_state(self, size: int | None, error: str | None) -> int:
        """Record a round: the cosigned size on success (failures reset), else the error (failures + 1)."""
        with self.engine.begin() as conn:
            cosigned, failures = self._state(conn)
            failures = 0 if error is None else failures + 1
            values = {
                "key": self.witness.key,
                "cosigned_size": cosigned if size is None else size,
                "failures": failures,
                "last_error": error,
                "updated_at": _now(),
            }
            conn.execute(delete(witness_state).where(witness_state.c.witness == self.witness.label))
            conn.execute(insert(witness_state).values(witness=self.witness.label, **values))
        return failures

    def round(self) -> bool:
        """Send the latest checkpoint if this witness has not cosigned it. True when a cosignature was stored."""
        with self.engine.connect() as conn:
            cp = latest_checkpoint(conn)
            old, _ = self._state(conn)
            chain = [h for h in handovers(conn) if h.tree_size >= old] if cp is not None else []
        if cp is None or cp.tree_size <= old:
            return False
        try:
            # the key hand-overs this witness has not seen, in order (docs/formats.md §3): a witness follows the
            # log's key from them; each before the first checkpoint beyond it, one at the checkpoint's size after it
            for h in (h for h in chain if h.tree_size < cp.tree_size):
                old = self._send(h.tree_size, h.note, old, store=False)
            self._send(cp.tree_size, cp.note, old)
            for h in (h for h in chain if h.tree_size == cp.tree_size):
                self._send(h.tree_size, h.note, cp.tree_size, store=False)
        except (WitnessFailure, httpx.HTTPError) as e:
            failures = self._save_state(None, f"{type(e).__name__}: {e}")
            label = self.witness.label
            log.warning("witness %s did not cosign checkpoint %d (failure %d): %s", label, cp.tree_size, failures, e)
            raise WitnessFailure(str(e)) from e
        return True

    def _send(self, size: int, signed: str, old: int, *, store: bool = True) -> int:
        """POST one signed checkpoint of ``size`` from the witness's ``old`` size; with ``store`` keep its
        cosignature (not for a hand-over note: its body is not the checkpoint's). Returns ``size``."""
        for _ in range(2):  # the first request, then at most one re-send from the size a 409 reports
            with self.engine.connect() as conn:
                proof = [] if old in (0, size) else consistency_proof(SqlTileStore(conn), old, size)
            answer = self.client.post(self.url, content=request_body(old, proof, signed), timeout=self.timeout)
            text = answer.content[:MAX_ANSWER_BYTES].decode("utf-8", "replace")
            if answer.status_code == 200:
                checkpoint_text = signed.split("\n\n", 1)[0] + "\n"
                lines = valid_cosignatures(checkpoint_text, text, self.verifier)
                if store:
                    self._store(size, lines[-1])
                else:
                    self._save_state(size, None)
                return size
            if answer.status_code == 409 and answer.headers.get("content-type", "").startswith(SIZE_MEDIA_TYPE):
                reported = text.strip()
                if not reported.isdigit():
                    raise WitnessFailure(f"409 with a size that is not a number: {reported[:40]!r}")
                reported_size = int(reported)
                if reported_size > size:
                    raise WitnessFailure(f"the witness has cosigned size {reported_size}, beyond the ledger's {size}")
                if reported_size == old:
                    raise WitnessFailure(
                        f"409 at size {reported_size}: the witness holds another root for that size: {text!r}"
                    )
                old = reported_size
                continue
            raise WitnessFailure(f"HTTP {answer.status_code} from {self.url}: {text[:300]!r}")
        raise WitnessFailure(f"409 again after re-sending from size {old}")

    def _store(self, size: int, cosignature: tuple[str, int]) -> None:
        line, timestamp = cosignature
        with self.engine.begin() as conn:
            where = (witness_cosignatures.c.tree_size == size) & (witness_cosignatures.c.witness == self.witness.label)
            conn.execute(delete(witness_cosignatures).where(where))
            row = {"tree_size": size, "witness": self.witness.label, "line": line, "timestamp": timestamp}
            conn.execute(insert(witness_cosignatures).values(**row, received_at=_now()))
        self._save_state(size, None)
        log.info("witness %s cosigned checkpoint %d", self.witness.label, size)


class WitnessDispatcher:
    """One daemon thread per configured witness, each sending new checkpoints as they are signed."""

    def __init__(self, engine: Engine, settings: WitnessSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: list[httpx.Client] = []

    def start(self) -> None:
        for witness in self.settings.witnesses:
            # a client (keep-alive connections) per witness and thread: no witness waits on another's pool
            client = httpx.Client(headers={"User-Agent": "hromada-ledger"}, follow_redirects=False)
            self._clients.append(client)
            sender = WitnessSender(self.engine, witness, timeout=self.settings.witness_timeout_seconds, client=client)
            thread = threading.Thread(
                target=self._loop, args=(sender,), name=f"hromada-witness-{sender.witness.label}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, sender: WitnessSender) -> None:
        wait = self.settings.witness_poll_seconds
        failures = 0
        while not self._stop.is_set():
            try:
                sender.round()
                failures = 0
            except WitnessFailure:
                failures += 1
            except Exception:  # the ledger goes on; this witness is retried
                failures += 1
                log.exception("witness %s: unexpected error", sender.witness.label)
            backoff = min(self.settings.witness_retry_max_seconds, wait * 2 ** min(failures, 30)) if failures else wait
            self._stop.wait(backoff)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.witness_timeout_seconds + 1)
        for client in self._clients:
            client.close()
