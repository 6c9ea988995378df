"""Sharing cast ballots' proof checks between the audit's two processes.

With the rule worker (:mod:`verifier.ruleworker`) the worker replays every ballot, and a cast ballot's proofs
(about 2 ms each, docs/voting.md §6) are most of its work, while the main process, which reads every line for
steps 1-3, waits. So the main process checks every other cast ballot's proofs itself (:class:`Prechecker`) and
sends the :class:`Outcome` along with the line numbers the worker may replay; the worker's election takes it
(:func:`checked`) instead of checking again.

Sound by construction: :func:`verifier.voting.ballot.check` is a pure function of the ballot's data, the
manifest hash, the joint key ``H`` and the statement, and an outcome carries the three values it was computed
with. The main process reads them off ``ballot.opened`` as it sees it; the worker's election has them from its
own replay (the ceremony's key, its own manifest hash) and uses an outcome only when all three are equal to its
own, else it checks the ballot itself. The report is the same either way (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.voting import ballot as bal
from verifier.voting.group import Bad, Pt, point
from verifier.voting.hashing import manifest_hash

__all__ = ["SHARE", "Outcome", "Prechecker", "checked", "discard", "offer"]

#: the main process checks one cast ballot in SHARE (it also runs steps 1-3 for every line)
SHARE = 2
CAST_TYPES = frozenset({"ballot.ballot_cast", "ballot.ballot_recast"})


@dataclass(frozen=True)
class Outcome:
    """What :func:`verifier.voting.ballot.check` gave for one ballot with these inputs: its ciphertexts (hex
    pairs), or the failure it named."""

    manifest: bytes
    h: bytes
    st: bal.Statement
    cts: tuple[tuple[str, str], ...] | None = None
    refused: tuple[str, str] | None = None


class Prechecker:
    """Main process: the encrypted ballots' inputs as ``ballot.opened`` gives them, and every ``SHARE``-th cast
    ballot's outcome."""

    def __init__(self, share: int = SHARE) -> None:
        self.share = share
        self.opened: dict[str, tuple[bytes, Pt, Mapping[str, Any]]] = {}
        self.casts = 0

    def see(self, event: Mapping[str, Any]) -> Outcome | None:
        """The outcome for an envelope step 1 accepted, or None (not a cast ballot, or the worker's to check)."""
        t, d = event["type"], event["data"]
        if type(d) is not dict:
            return None
        if t == "ballot.opened":
            self._opened(event["stream"], d)
            return None
        if t not in CAST_TYPES:
            return None
        known = self.opened.get(d.get("ballot"))  # type: ignore[arg-type]
        if known is None:
            return None
        self.casts += 1
        if self.casts % self.share:
            return None
        manifest, h, opened = known
        district = d.get("district")
        try:
            st = bal.statement(opened, district if type(district) is str else None)
        except (ValueError, KeyError, TypeError):
            return None
        try:
            cts = bal.check(d, manifest=manifest, h=h, st=st)
        except bal.Refused as e:
            return Outcome(manifest, h.enc(), st, refused=(e.where, e.message))
        except Exception:  # whatever else: the worker checks it and reports what it finds
            return None
        return Outcome(manifest, h.enc(), st, cts=tuple((a.hex(), b.hex()) for a, b in cts))

    def _opened(self, ballot: Any, d: Mapping[str, Any]) -> None:
        if type(ballot) is not str or ballot in self.opened or d.get("secrecy") != "encrypted":
            return
        try:
            self.opened[ballot] = (manifest_hash(ballot, d), point(d.get("public_key")), dict(d))
        except (Bad, TypeError, ValueError):
            return


#: rule worker: line index -> the main process's outcome for that line's ballot
_offers: dict[int, Outcome] = {}


def offer(offers: Mapping[int, Outcome]) -> None:
    _offers.update(offers)


def discard(index: int) -> None:
    """The line was replayed: its outcome, used or not, goes."""
    if _offers:
        _offers.pop(index, None)


def checked(index: int, manifest: bytes, h: Pt, st: bal.Statement) -> list[tuple[Pt, Pt]] | None:
    """The ciphertexts of the ballot on line ``index`` when the main process checked it with these very inputs,
    :class:`~verifier.voting.ballot.Refused` as it refused it; None when there is no such outcome (check it)."""
    got = _offers.pop(index, None) if _offers else None
    if got is None or got.manifest != manifest or got.h != h.enc() or got.st != st:
        return None
    if got.refused is not None:
        raise bal.Refused(*got.refused)
    assert got.cts is not None
    return [(point(a), point(b)) for a, b in got.cts]
