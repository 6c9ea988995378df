"""Following the log's chain of signing keys from the key the auditor pinned (docs/formats.md §3, "Key hand-over").

Written from the format, not from the ledger: a hand-over is a checkpoint note whose body has one extension line
``key-handover <verifier key of the new key>``, signed by the key current at its size and by the new key it names
(same name: the log's origin). From the pinned key, :func:`follow` accepts hand-overs in order of tree size; each
moves the current key on. Key ``i`` may sign the checkpoints of sizes ``since_i`` (its own hand-over's size; 0 for
the pinned key) up to ``until_i`` (the size of the hand-over that retired it, inclusive). A hand-over not signed by
the then-current key, not signed by the key it names, or naming an unusable key, is rejected: the chain does not
reach its key, and checkpoints signed by it are signed by an unknown key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from verifier.errors import Evidence, NoteSignatureError, NoteUnverifiedError, VerificationError
from verifier.note import (
    ALG_ED25519,
    Checkpoint,
    VerifierKey,
    open_note,
    parse_checkpoint_body,
    parse_note,
    parse_verifier_key,
)

__all__ = [
    "HANDOVER_PREFIX",
    "ChainKey",
    "KeyChain",
    "RejectedHandover",
    "follow",
    "handover_lines",
    "not_current",
    "open_in_chain",
]

HANDOVER_PREFIX = "key-handover "


@dataclass(frozen=True)
class ChainKey:
    key: VerifierKey
    since: int  # the first tree size it may sign
    until: int | None = None  # the last tree size it may sign (the size of the hand-over that retired it)
    handover: str | None = None  # the label of the hand-over that introduced it

    def covers(self, size: int) -> bool:
        return self.since <= size and (self.until is None or size <= self.until)


@dataclass(frozen=True)
class RejectedHandover:
    label: str
    size: int
    message: str
    expected: object = None
    found: object = None


@dataclass
class KeyChain:
    keys: list[ChainKey]
    rejected: list[RejectedHandover] = field(default_factory=list)
    claimed: bool = False  # the material holds at least one hand-over note (followed or not)

    @property
    def current(self) -> ChainKey:
        return self.keys[-1]

    def verifier_keys(self) -> list[VerifierKey]:
        return [k.key for k in self.keys]

    def entry(self, name: str, key_id: bytes) -> ChainKey | None:
        return next((k for k in self.keys if (k.key.name, k.key.key_id) == (name, key_id)), None)

    def describe(self) -> str:
        return " -> ".join(f"{k.key.name}+{k.key.key_id_hex} (sizes {k.since}..{k.until or ''})" for k in self.keys)


def handover_lines(cp: Checkpoint) -> list[str]:
    """The ``key-handover`` extension lines of a checkpoint body (a hand-over has exactly one)."""
    return [e for e in cp.extensions if e.startswith(HANDOVER_PREFIX)]


@dataclass(frozen=True)
class _Candidate:
    label: str
    content: bytes
    checkpoint: Checkpoint
    signers: frozenset[tuple[str, bytes]]  # (name, key id) of its signature lines, not verified


def _candidates(notes: Sequence[tuple[str, bytes]]) -> list[_Candidate]:
    out: list[_Candidate] = []
    seen: set[bytes] = set()
    for label, content in notes:
        if content in seen:
            continue
        try:
            parsed = parse_note(content)
        except VerificationError:
            continue
        text = parsed.text
        try:
            cp = parse_checkpoint_body(text)
        except VerificationError:
            continue
        if handover_lines(cp):
            seen.add(content)
            out.append(_Candidate(label, content, cp, frozenset((g.name, g.key_id) for g in parsed.signatures)))
    return sorted(out, key=lambda c: (c.checkpoint.size, c.label))


def _check(c: _Candidate, chain: KeyChain, used: list[VerifierKey]) -> VerifierKey | RejectedHandover:
    """The new key if ``c`` is a valid hand-over from the chain's current key, else why not."""
    cp = c.checkpoint
    size = cp.size
    current = chain.current
    try:
        open_note(c.content, [current.key])
    except NoteUnverifiedError as exc:
        earlier = [k for k in chain.keys[:-1] if (k.key.name, k.key.key_id) in c.signers]
        if earlier:
            try:
                open_note(c.content, [earlier[0].key])
            except VerificationError:
                pass
            else:
                return RejectedHandover(
                    c.label,
                    size,
                    f"hand-over at size {size} is signed by {earlier[0].key.name}+{earlier[0].key.key_id_hex}, which "
                    f"had already handed over at size {earlier[0].until}: PROOF THAT A RETIRED KEY SIGNED AGAIN (or "
                    "of two hand-overs from one key; keep both notes)",
                    expected=str(current.key),
                    found=exc.evidence.found,
                )
        return RejectedHandover(
            c.label,
            size,
            f"hand-over at size {size} is not signed by the key current at that size",
            expected=str(current.key),
            found=exc.evidence.found,
        )
    except NoteSignatureError as exc:
        return RejectedHandover(c.label, size, f"hand-over at size {size}: {exc.message}", found=exc.evidence.found)
    lines = handover_lines(cp)
    if len(lines) != 1:
        return RejectedHandover(c.label, size, "a hand-over names exactly one new key", expected=1, found=len(lines))
    try:
        new = parse_verifier_key(lines[0][len(HANDOVER_PREFIX) :])
    except VerificationError as exc:
        return RejectedHandover(c.label, size, f"hand-over names a malformed key: {exc.message}", found=lines[0])
    if new.alg != ALG_ED25519 or new.name != current.key.name or cp.origin != current.key.name:
        return RejectedHandover(
            c.label,
            size,
            "a hand-over's new key is an Ed25519 note key named as the log (its origin)",
            expected=f"{current.key.name}+<hex8>+<base64(0x01 ‖ key)>",
            found=f"{lines[0]} (origin {cp.origin})",
        )
    if any((k.name, k.key_id) == (new.name, new.key_id) for k in used):
        return RejectedHandover(
            c.label, size, "hand-over names a key the log already used: a chain never returns", found=str(new)
        )
    try:
        open_note(c.content, [new])
    except VerificationError as exc:
        return RejectedHandover(
            c.label,
            size,
            f"hand-over at size {size} is not signed by the new key it names ({exc.message})",
            expected=str(new),
            found=exc.evidence.found,
        )
    return new


def follow(pinned: VerifierKey, notes: Sequence[tuple[str, bytes]]) -> KeyChain:
    """The chain of keys from ``pinned`` through the hand-over notes among ``notes`` (label, note bytes).

    Work is linear in the notes: at each size only the hand-overs carrying a signature line by the current key (its
    name and key id) are checked, and each note is checked fully at most twice (once when tried, once more for
    the message when rejected)."""
    candidates = _candidates(notes)
    chain = KeyChain([ChainKey(pinned, 0)], claimed=bool(candidates))
    remaining = list(candidates)
    while remaining:
        size = remaining[0].checkpoint.size
        group = [c for c in remaining if c.checkpoint.size == size]
        remaining = remaining[len(group) :]
        while True:  # several rotations at one size: each is signed by the key the one before introduced
            ident = (chain.current.key.name, chain.current.key.key_id)
            tried = next((c for c in group if ident in c.signers), None)
            if tried is None:
                break
            group.remove(tried)
            got = _check(tried, chain, chain.verifier_keys())
            if isinstance(got, RejectedHandover):
                chain.rejected.append(got)
                continue
            old = chain.keys.pop()
            chain.keys += [ChainKey(old.key, old.since, size, old.handover), ChainKey(got, size, None, tried.label)]
        for c in group:
            got = _check(c, chain, chain.verifier_keys())
            assert isinstance(got, RejectedHandover)
            chain.rejected.append(got)
    return chain


def open_in_chain(note: str | bytes, chain: KeyChain) -> tuple[Checkpoint, ChainKey | None]:
    """A checkpoint signed by a key of ``chain``, and that key when it was not the log's key at the checkpoint's
    size (None: a key in force at that size signed it).

    Raises what :func:`verifier.note.open_note` raises, except that a note signed by no key of a chain the material
    claims was rotated (``chain.claimed``) is ``checkpoint_key_unknown``."""
    try:
        opened = open_note(note, chain.verifier_keys())
    except NoteUnverifiedError as exc:
        if not chain.claimed:
            raise
        raise VerificationError(
            "checkpoint is signed by no key the chain of hand-overs reaches from the trusted key",
            Evidence(expected=chain.describe(), found=exc.evidence.found),
            code="checkpoint_key_unknown",
        ) from exc
    body = parse_checkpoint_body(opened.text)
    text = note.decode("utf-8") if isinstance(note, bytes) else note
    cp = Checkpoint(body.origin, body.size, body.root, body.extensions, note=text)
    signers = [e for e in (chain.entry(s.name, s.key_id) for s in opened.verified) if e is not None]
    if any(e.covers(cp.size) for e in signers):
        return cp, None
    return cp, signers[0]


def not_current(cp: Checkpoint, signer: ChainKey, chain: KeyChain) -> tuple[str, str, str]:
    """(message, expected, found) of a checkpoint signed by ``signer`` outside the sizes it was the log's key."""
    when = (
        f"the hand-over at size {signer.until} retired it"
        if signer.until is not None and cp.size > signer.until
        else f"it became the log's key only at size {signer.since}"
    )
    name = f"{signer.key.name}+{signer.key.key_id_hex}"
    message = f"checkpoint of size {cp.size} is signed by {name}, which was not the log's key at that size: {when}"
    expected = ", ".join(f"{k.key.name}+{k.key.key_id_hex}" for k in chain.keys if k.covers(cp.size))
    return message, expected, name
