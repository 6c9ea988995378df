"""Step 2: checkpoints (docs/audit.md): every checkpoint note is signed by the trusted key, names this log, and its
root equals the root recomputed from the leaves at its size; two validly signed, different notes for one size are
reported as proof of a fork; the key in ``log.json`` equals the auditor's key. A rotated log's checkpoints are checked
against the chain of keys followed from the trusted key through the hand-over notes (verifier.keychain)."""

from __future__ import annotations

from dataclasses import dataclass

from verifier.errors import VerificationError
from verifier.keychain import KeyChain, follow, not_current, open_in_chain
from verifier.note import Checkpoint, VerifierKey, parse_verifier_key
from verifier.report import Finding
from verifier.source import LineBound
from verifier.steps.base import AuditContext, Step

__all__ = ["CheckpointStep"]


@dataclass
class _Note:
    label: str
    checkpoint: Checkpoint


class CheckpointStep(Step):
    number = 2
    name = "checkpoints: signatures, roots, forks"

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[_Note] = []

    def start(self, ctx: AuditContext) -> None:
        log = ctx.log
        terms = ctx.bundle.terms
        bundle_key: VerifierKey | None = None
        other_key: VerifierKey | None = None
        try:
            bundle_key = parse_verifier_key(log.verifier_key)
        except VerificationError as exc:
            self.fail(
                Finding(
                    2,
                    "bundle_key_malformed",
                    f"{terms.key} verifier_key is malformed: " + exc.message,
                    found=log.verifier_key,
                )
            )
        if ctx.auditor_key is not None:
            ctx.trusted_key = ctx.auditor_key
            self.result.stats["key_source"] = "auditor (--key)"
            if bundle_key is not None and bundle_key != ctx.auditor_key:
                other_key = bundle_key  # a mismatch unless the chain of keys from yours reaches it (below)
        else:
            ctx.trusted_key = bundle_key
            self.result.stats["key_source"] = f"{terms.key} - NOT independently trusted"
            ctx.warnings.append(
                f"TRUSTING {terms.source.upper()}'S OWN KEY: no --key was given, so checkpoint signatures were checked "
                f"with the key in {terms.key}. {terms.owner.capitalize()} could have made that key too. Pass the "
                "log's published verifier key with --key for an independent audit."
            )
        key = ctx.trusted_key
        ctx.lines = LineBound(0)  # raised below to the largest size a note signed by the key covers
        if key is None:
            return
        self.result.stats["key"] = str(key)
        if key.name != log.origin:
            self.fail(
                Finding(
                    2,
                    "key_name_mismatch",
                    "the trusted key's name is not this log's origin (formats.md §3: the log's key name is the origin)",
                    expected=log.origin,
                    found=key.name,
                )
            )

        sources: list[tuple[str, int | None, bytes]] = []
        for cf in ctx.bundle.checkpoint_files():
            if cf.size_from_name is None:
                self.fail(
                    Finding(
                        2, "checkpoint_file_name", "checkpoint file name is not <tree size>[.<suffix>]", found=cf.name
                    )
                )
            sources.append((cf.name, cf.size_from_name, cf.content))
        for label, content in ctx.extra_checkpoints:
            sources.append((label, None, content))
        chain = follow(key, [(label, content) for label, _, content in sources])
        ctx.key_chain = chain.verifier_keys()
        if other_key is not None and other_key not in ctx.key_chain:
            # a ledger's GET /v1/log names its current key, a bundle the first: either is fine if the chain reaches it
            self.fail(
                Finding(
                    2,
                    "bundle_key_mismatch",
                    f"{terms.key} names a different verifier key than the one you trust (and not one the chain of "
                    "key hand-overs reaches from it)",
                    expected=str(ctx.auditor_key),
                    found=log.verifier_key,
                )
            )
        self.result.stats["key_chain"] = [str(k.key) for k in chain.keys]
        for r in chain.rejected:
            self.fail(
                Finding(
                    2,
                    "key_handover_invalid",
                    f"{r.label}: {r.message}; the chain of keys from the trusted key does not go through it",
                    expected=r.expected,
                    found=r.found,
                    details={"note": r.label, "size": r.size},
                )
            )
        for label, size_from_name, content in sources:
            try:
                cp = self._open(content, chain, label)
            except VerificationError as exc:
                self.fail(
                    Finding(
                        2,
                        exc.code,
                        f"{label}: {exc.message}",
                        expected=exc.evidence.expected,
                        found=exc.evidence.found,
                        details={"note": label},
                    )
                )
                continue
            ctx.lines.max_lines = max(ctx.lines.max_lines, cp.size)  # signed by the trusted key, for whatever origin
            if cp.origin != log.origin:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_origin_mismatch",
                        f"{label}: checkpoint is for another log",
                        expected=log.origin,
                        found=cp.origin,
                        details={"note": label},
                    )
                )
                continue
            if size_from_name is not None and size_from_name != cp.size:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_size_name_mismatch",
                        f"{label}: file name and checkpoint body disagree on the tree size",
                        expected=size_from_name,
                        found=cp.size,
                        details={"note": label},
                    )
                )
            self.notes.append(_Note(label, cp))
            ctx.wanted_sizes.add(cp.size)

        by_size: dict[int, list[_Note]] = {}
        for n in self.notes:
            by_size.setdefault(n.checkpoint.size, []).append(n)
        for size, group in sorted(by_size.items()):
            distinct: dict[bytes, _Note] = {}
            for n in group:
                distinct.setdefault(n.checkpoint.root, n)
            if len(distinct) > 1:
                a, b = list(distinct.values())[:2]
                self.fail(
                    Finding(
                        2,
                        "fork",
                        f"PROOF OF A FORK: two validly signed checkpoints for tree size {size} with different roots "
                        "(the log operator signed two different histories; keep both notes as evidence)",
                        expected=a.checkpoint.root.hex(),
                        found=b.checkpoint.root.hex(),
                        details={
                            "size": size,
                            f"note 1 ({a.label})": a.checkpoint.note,
                            f"note 2 ({b.label})": b.checkpoint.note,
                        },
                    )
                )
        if not any(n.checkpoint.size == log.tree_size for n in self.notes):
            self.fail(
                Finding(
                    2,
                    "no_checkpoint_at_tree_size",
                    f"no valid signed checkpoint covers {ctx.bundle.terms.size}: the last events are not authenticated",
                    expected=f"a checkpoint for size {log.tree_size}",
                    found=sorted(by_size) or "no valid checkpoints",
                )
            )

    def _open(self, content: bytes, chain: KeyChain, label: str) -> Checkpoint:
        """The checkpoint if a key of the chain signed it; a key that was not the log's key at its size is a finding
        (the note still counts for the root and fork checks: a key of the log signed it)."""
        cp, stray = open_in_chain(content, chain)
        if stray is not None:
            message, expected, found = not_current(cp, stray, chain)
            self.fail(
                Finding(
                    2,
                    "checkpoint_key_not_current",
                    f"{label}: {message}",
                    expected=expected,
                    found=found,
                    details={"note": label, "size": cp.size, "chain": chain.describe()},
                )
            )
        return cp

    def finish(self, ctx: AuditContext) -> None:
        self.result.stats["checkpoints_verified"] = len(self.notes)
        tiles = ctx.bundle.served_tiles()
        if tiles is not None:  # a ledger URL: the hash tiles it serves against the tree recomputed from its entries
            checked, problems = tiles
            self.result.stats["hash_tiles_checked"] = checked
            for p in problems:
                self.fail(
                    Finding(
                        2,
                        "tile_mismatch",
                        f"the ledger serves a hash tile that its entries do not make: {p.path}, hash {p.index}"
                        if p.index >= 0
                        else f"the ledger does not serve the hash tile {p.path}",
                        expected=p.expected,
                        found=p.found,
                        details={"tile": p.path},
                    )
                )
        agreeing: list[int] = []
        for n in sorted(self.notes, key=lambda x: x.checkpoint.size):
            cp = n.checkpoint
            if cp.size > ctx.events_seen:
                self.fail(
                    Finding(
                        2,
                        "checkpoint_beyond_events",
                        f"{n.label}: checkpoint covers more events than events.jsonl holds",
                        expected=f">= {cp.size} events",
                        found=ctx.events_seen,
                        details={"note": n.label},
                    )
                )
                continue
            recomputed = ctx.roots[cp.size]
            if recomputed != cp.root:
                prior = max((s for s in agreeing if s < cp.size), default=0)
                self.fail(
                    Finding(
                        2,
                        "root_mismatch",
                        f"{n.label}: the root recomputed from events.jsonl differs from the signed checkpoint; "
                        f"some event in [{prior}, {cp.size}) was changed, inserted, deleted or moved",
                        expected=cp.root.hex(),
                        found=recomputed.hex(),
                        details={"note": n.label, "size": cp.size, "changed range": f"[{prior}, {cp.size})"},
                    )
                )
            else:
                agreeing.append(cp.size)
        self.result.stats["checkpoint_sizes_matching"] = sorted(set(agreeing))
