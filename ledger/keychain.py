"""Rotating the log signing key (docs/formats.md §3, "Key hand-over").

The old key signs a hand-over checkpoint, a normal checkpoint note at the latest signed size whose body carries one
extension line ``key-handover <verifier key of the new key>``, and the new key signs the same note. After it the
ledger signs with the new key only: every key a hand-over retired is refused for good (:func:`refuse_retired`), so a
restart with the old key configured, or a second process that still holds it, signs nothing.

The chain lives in the ``log_key_handovers`` table, one row per rotation, in order; the audit bundle carries each
note as ``checkpoints/<size>.handover-<hex8 key id of the new key>`` and names the chain's first key in ``log.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, insert, select

from ledger import note
from ledger.db.schema import log_key_handovers
from ledger.errors import CheckpointError
from ledger.keys import LogSigner

HANDOVER_PREFIX = "key-handover "
"""The extension line of a hand-over checkpoint: this prefix, then the new key's C2SP verifier key string."""


class KeyRotationError(CheckpointError):
    """The key cannot be rotated (or a retired key was asked to sign); the message says why and what to do."""


@dataclass(frozen=True)
class Handover:
    seq: int
    tree_size: int
    old_key: str
    new_key: str
    note: str
    created_at: str

    @property
    def file_name(self) -> str:
        """Its name in an audit bundle: ``checkpoints/<size>.handover-<hex8 key id of the new key>``."""
        return f"{self.tree_size}.handover-{self.new_key.split('+')[1]}"


def handover_text(origin: str, size: int, root: bytes, new_key: str) -> str:
    """The hand-over checkpoint body: the tlog-checkpoint of (origin, size, root) with the ``key-handover`` line."""
    return note.format_checkpoint(origin, size, root, [HANDOVER_PREFIX + new_key])


def sign_handover(origin: str, size: int, root: bytes, old: note.Signer, new: note.Signer) -> str:
    """The hand-over note: :func:`handover_text` naming ``new``, signed by ``old`` then by ``new``."""
    return note.sign_note(handover_text(origin, size, root, new.verifier_key()), old, new)


def handovers(conn: Connection) -> list[Handover]:
    rows = conn.execute(select(log_key_handovers).order_by(log_key_handovers.c.seq)).all()
    return [Handover(int(r.seq), int(r.tree_size), r.old_key, r.new_key, r.note, r.created_at) for r in rows]


def first_key(conn: Connection, configured: str) -> str:
    """The verifier key at the root of the chain (what auditors pinned): the first hand-over's old key, or
    ``configured`` when the key was never rotated."""
    chain = handovers(conn)
    return chain[0].old_key if chain else configured


def refuse_retired(conn: Connection, signer: LogSigner) -> None:
    """Raise :class:`KeyRotationError` unless ``signer`` is the log's current key (the last hand-over's new key)."""
    chain = handovers(conn)
    if not chain or chain[-1].new_key == signer.verifier_key:
        return
    current = chain[-1]
    if signer.verifier_key in {h.old_key for h in chain}:
        why = "is a retired log key"
    else:
        why = "is not the log's current key"
    raise KeyRotationError(
        f"the configured log key {signer.verifier_key} {why}: the key was rotated at tree size {current.tree_size} "
        f"({current.created_at}) and only {current.new_key} may sign; configure that key (HROMADA_LOG_KEY or "
        "<data dir>/log.key); refusing to sign"
    )


def rotate(engine: Engine, old: LogSigner, new: LogSigner) -> Handover:
    """Sign and store the hand-over from ``old`` to ``new`` at the latest signed checkpoint.

    Refuses (:class:`KeyRotationError`) when ``new`` is named other than the log, is ``old`` or any key the log
    already used, when ``old`` is not the current key, when nothing was signed yet, or when the latest checkpoint is
    not signed by ``old``. The caller switches its signer to ``new`` afterwards and makes restarts load it.
    """
    if new.name != old.name:
        raise KeyRotationError(f"the new key is named {new.name!r} but the log origin is {old.name!r}")
    if new.verifier_key == old.verifier_key:
        raise KeyRotationError("the new key is the current key; nothing to rotate")
    from ledger.checkpoints import latest_checkpoint  # here: ledger.checkpoints imports this module

    with engine.begin() as conn:
        refuse_retired(conn, old)
        chain = handovers(conn)
        used = {h.old_key for h in chain} | {h.new_key for h in chain}
        if new.verifier_key in used or new.verifier_key.split("+")[1] in {k.split("+")[1] for k in used}:
            raise KeyRotationError(f"the new key {new.verifier_key} was already a key of this log; use a fresh key")
        last = latest_checkpoint(conn)
        if last is None:
            raise KeyRotationError("no signed checkpoint yet: run `hromada checkpoint` first")
        try:
            note.open_note(last.note, [old.signer.verifier()])
        except note.NoteError as e:
            raise KeyRotationError(
                f"the latest checkpoint (tree size {last.tree_size}) is not signed by the configured key "
                f"{old.verifier_key} ({e}): only the key that signed it can hand over; refusing"
            ) from e
        text = sign_handover(old.name, last.tree_size, last.root, old.signer, new.signer)
        seq = int(conn.execute(select(func.count()).select_from(log_key_handovers)).scalar_one())
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        row = Handover(seq, last.tree_size, old.verifier_key, new.verifier_key, text, created)
        conn.execute(
            insert(log_key_handovers).values(
                seq=seq,
                tree_size=row.tree_size,
                old_key=row.old_key,
                new_key=row.new_key,
                note=row.note,
                created_at=row.created_at,
            )
        )
    return row
