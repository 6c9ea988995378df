"""A small log for the witness tests: entries, signed checkpoints (the ledger's signer), RFC 6962 consistency
proofs from the naive reference of tests/merkle, and add-checkpoint request bodies."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger import note
from tests.merkle import reference


def body(old: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n", checkpoint_note]
    return "".join(lines).encode()


@dataclass
class FakeLog:
    origin: str
    entries: list[bytes] = field(default_factory=list)
    signer: note.Signer = field(init=False)

    def __post_init__(self) -> None:
        self.signer = note.generate_signer(self.origin)
        if not self.entries:
            self.entries = [f"{self.origin} entry {i}".encode() for i in range(64)]

    @property
    def verifier_key(self) -> str:
        return self.signer.verifier_key()

    def root(self, size: int) -> bytes:
        return reference.mth(self.entries[:size])

    def checkpoint(self, size: int, *, signer: note.Signer | None = None) -> str:
        text = note.format_checkpoint(self.origin, size, self.root(size))
        return note.sign_note(text, signer or self.signer)

    def proof(self, old: int, new: int) -> list[bytes]:
        return [] if old in (0, new) else reference.proof(old, self.entries[:new])

    def add(self, old: int, new: int) -> bytes:
        """The honest request from `old` to `new`."""
        return body(old, self.proof(old, new), self.checkpoint(new))

    def fork(self, at: int) -> FakeLog:
        """The same log (same key) with different entries from index `at` on: a split view."""
        other = FakeLog.__new__(FakeLog)
        other.origin = self.origin
        other.signer = self.signer
        other.entries = self.entries[:at] + [b"forked " + e for e in self.entries[at:]]
        return other
