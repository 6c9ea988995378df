"""The monitor's rule state on disk: steps 1 (per-stream version order, time order), 4 (rule replay) and 5 (actor
authorisation) run over only the new entries of a round, with the state they keep between events in
``DIR/rules.db``, so a round costs O(new events), never O(log), and a restart resumes.

The rule steps already keep their growing state (per petition, per vote, per queue entry, per stream) in spill
maps over a SQLite file (:mod:`verifier.rules.store`, :mod:`verifier.spill`); here that file is a
:class:`~verifier.spill.DurableFile` in the monitor's directory. A round is one transaction of it:

- :class:`RuleState` opens the file and begins the transaction; the checkers are built as for an audit, over that
  file, and the small in-memory state (service-opened headers: ballots, queues, registers, services; counters; the
  last time seen) is restored from the ``rules`` row of ``monitor_meta`` (a pickle this monitor wrote);
- :meth:`RuleState.feed` checks one new entry (as the audit's steps 1, 4 and 5 would at that point of the log);
- :meth:`RuleState.commit` writes what is held in memory back to the file, with the pickle and the monitor's new
  state document (``state.json``'s content), and commits: the round's rule state and the size it reached are
  committed together or not at all. :meth:`RuleState.rollback` (a round with a finding) leaves the file as it was.

``state.json`` is written after the commit (verifier/monitor/state.py); if the process dies in between,
``rules.db`` is ahead and :func:`committed_state` gives the state document it committed, which the monitor takes.

The clock's replay (:mod:`verifier.rules.clock`) runs per event too: a clock event acted on late or early is named
in the round that brings it.

Not run per round: the end-of-log checks of step 4 (``threshold_missing``: a signature that reached a petition's
threshold with no ``petition.threshold_reached`` after it; ``clock_missing``: a deadline the log's time went past
with nothing acting on it - on a live log the next round may bring either) and the
comparison with a published ``state.json``; ``hromada-verify audit`` runs both.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

from verifier.envelope import CheckedLine, SequenceChecker, StreamVersions
from verifier.kinds import AUTHORISATION
from verifier.report import Finding
from verifier.rules.clock import ClockReplay
from verifier.rules.documents import DocumentCitations
from verifier.rules.model import Violation
from verifier.rules.replay import Replay
from verifier.rules.services import Authorisation
from verifier.rules.steps import event_of, rule_finding
from verifier.rules.store import OrderedIndex, Scratch, Slice, SpillMap
from verifier.spill import DiskTable, DurableFile, ScratchFile

__all__ = ["RULES_FILE", "RULE_STATE_FORMAT", "RuleState", "committed_state"]

RULES_FILE = "rules.db"
#: Bumped when what the ``rules`` pickle holds changes: an older state directory is then refused, never misread.
RULE_STATE_FORMAT = 1
_META = "CREATE TABLE IF NOT EXISTS monitor_meta (k TEXT PRIMARY KEY, v BLOB NOT NULL)"
# what the checkers are built from (made afresh each round), not the state they keep
_STRUCTURE = (SpillMap, OrderedIndex, Scratch, Slice, DocumentCitations, StreamVersions, DiskTable, ScratchFile)


def _plain(obj: Any) -> dict[str, Any]:
    """The attributes of a checker that are its state in memory: all but its spill structures and callbacks (the
    headers kept in memory may refer to spill maps: :class:`_Pickler`)."""
    return {k: v for k, v in vars(obj).items() if not isinstance(v, _STRUCTURE) and not callable(v)}


def _table_name(obj: Any) -> str:
    return str(obj._disk._name if isinstance(obj, SpillMap) else obj._name)


class _Pickler(pickle.Pickler):
    """Pickles the in-memory state; a spill map or index it refers to (a queue header's slices, its waiting index)
    is written as its table's name and read back as the same round's map over that table."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, SpillMap | OrderedIndex):
            return ("table", _table_name(obj))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, tables: dict[str, Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.tables = tables

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind != "table" or name not in self.tables:
            raise pickle.UnpicklingError(f"no spill table {name!r} in this verifier version")
        return self.tables[name]


def _restore(obj: Any, saved: dict[str, Any]) -> None:
    for k, v in saved.items():
        setattr(obj, k, v)


def committed_state(directory: Path) -> dict[str, Any] | None:
    """The monitor state document ``rules.db`` last committed (None: no such file or nothing committed yet)."""
    path = directory / RULES_FILE
    if not path.exists():
        return None
    file = DurableFile(path)
    try:
        file.db.execute(_META)
        row = file.db.execute("SELECT v FROM monitor_meta WHERE k = 'state'").fetchone()
    finally:
        file.close()
    doc: dict[str, Any] | None = None if row is None else json.loads(row[0])
    return doc


class RuleState:
    """One round's rule checkers over ``DIR/rules.db`` (see the module docstring). ``cache_items``: values kept in
    memory per spill map within the round (:data:`verifier.rules.store.DEFAULT_CACHE_ITEMS`)."""

    def __init__(self, directory: Path, cache_items: int | None = None) -> None:
        self.file = file = DurableFile(directory / RULES_FILE)
        db = file.db
        db.execute(_META)
        db.execute("BEGIN IMMEDIATE")
        self.findings: list[Finding] = []
        self.findings_total = 0
        self.sequence = SequenceChecker(file=file)
        self.replay = Replay(self._report(4), cache_items, file)
        self.clock = ClockReplay(self._report(4), self.replay.scratch)
        self.auth = Authorisation(self._report(5), AUTHORISATION, cache_items, file)
        row = db.execute("SELECT v FROM monitor_meta WHERE k = 'rules'").fetchone()
        if row is not None:
            tables = {
                _table_name(t): t
                for scratch in (self.replay.scratch, self.auth.scratch)
                for t in (*scratch.maps, *scratch.indexes)
            }
            saved = _Unpickler(row[0], tables).load()  # written by this monitor into its own state directory
            if saved.get("format") != RULE_STATE_FORMAT:
                self.rollback()
                raise ValueError(f"{file.path}: rule state format {saved.get('format')!r}, not {RULE_STATE_FORMAT}")
            _restore(self.sequence, saved["sequence"])
            _restore(self.replay, saved["replay"])
            _restore(self.replay.documents, saved["documents"])
            for name, part in saved["rules"].items():
                _restore(self.replay.rules[name], part)
            _restore(self.auth, saved["auth"])
            _restore(self.clock, saved["clock"])
        self.fed = 0

    def _report(self, step: int) -> Any:
        def report(v: Violation) -> None:
            self._add(rule_finding(step, v))

        return report

    def _add(self, finding: Finding) -> None:
        self.findings_total += 1
        if len(self.findings) < 100:
            self.findings.append(finding)

    def feed(self, index: int, checked: CheckedLine) -> None:
        """Entry ``index``, already through step 1's stateless checks (``checked``; their problems are the caller's
        to report): its order in its stream and in time, then the rules and the authorisation of its event."""
        self.fed += 1
        env = checked.event
        if env is not None:
            if checked.problems:
                problems = self.sequence.check(index, env)
            else:
                problems = self.sequence.check_valid(index, env["stream"], env["version"], env["time"]) or []
            for p in problems:
                self._add(
                    Finding(1, p.code, p.message, index, checked.event_id, checked.event_type, p.expected, p.found)
                )
        ev = event_of(index, checked)
        if ev is None:
            return
        self.clock.apply(ev)
        self.replay.apply(ev)
        self.auth.handle(ev)

    def _saved(self) -> dict[str, Any]:
        replay = self.replay
        return {
            "format": RULE_STATE_FORMAT,
            "sequence": _plain(self.sequence),
            "replay": {"events": replay.events},
            "documents": _plain(replay.documents),
            "rules": {name: _plain(rules) for name, rules in replay.rules.items()},
            "auth": _plain(self.auth),
            "clock": _plain(self.clock),
        }

    def commit(self, state_doc: dict[str, Any]) -> None:
        """Write the round's rule state and the monitor's new state document; one commit; close."""
        self.sequence.versions.persist()
        self.replay.scratch.persist()
        self.auth.scratch.persist()
        db = self.file.db
        out = io.BytesIO()
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(self._saved())
        blob = out.getvalue()
        db.execute("INSERT OR REPLACE INTO monitor_meta VALUES ('rules', ?)", (blob,))
        db.execute("INSERT OR REPLACE INTO monitor_meta VALUES ('state', ?)", (json.dumps(state_doc),))
        db.execute("COMMIT")
        self.file.close()

    def rollback(self) -> None:
        """Leave ``rules.db`` as the last committed round left it; close."""
        self.file.close()  # rolls the open transaction back
