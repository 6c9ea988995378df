"""Write an audit bundle (docs/formats.md §5) at a signed checkpoint: a directory or a .tar.gz.

The bundle carries the stored bytes exactly as they are in the database: if someone edited a row, the
bundle shows it and the verifier catches it. Nothing here recomputes or "repairs" anything.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from ledger.checkpoints import all_checkpoints
from ledger.db.schema import event_records
from ledger.errors import LedgerError
from ledger.keychain import first_key, handovers
from ledger.leafmap import notification_of
from ledger.witnesses import cosigned_note

BUNDLE_FORMAT = 1
CHUNK = 10_000

StateProvider = Callable[[int], dict[str, Any]]
AnchorProvider = Callable[[Connection, int], list[dict[str, Any]]]


class ExportError(LedgerError):
    """The bundle cannot be written (no checkpoint yet, unknown size, output exists)."""


def iter_entries(conn: Connection, events: Table, tree_size: int) -> Iterator[bytes]:
    """The leaf entries 0..tree_size-1 in log order, as stored."""
    if tree_size == 0:
        return
    last = notification_of(conn, tree_size - 1)
    if last is None:
        raise ExportError(f"leaf {tree_size - 1} is not integrated")
    after = 0
    while True:
        rows = conn.execute(
            select(events.c.id, events.c.state)
            .where(events.c.id > after, events.c.id <= last)
            .order_by(events.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for row in rows:
            yield bytes(row[1])
        after = int(rows[-1][0])


def write_bundle(
    engine: Engine,
    *,
    events_table: str,
    origin: str,
    verifier_key: str,
    out: Path,
    tree_size: int | None = None,
    chain: dict[str, Any] | None = None,
    rule_sets: dict[str, Any] | None = None,
    anchors: AnchorProvider | None = None,
    state: StateProvider | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the bundle at `tree_size` (default: the latest checkpoint) to `out` (a directory, or a file
    ending in .tar.gz). Returns the bundle's tree size. `verifier_key` is the log's key; after a key rotation
    log.json names the chain's first key instead, and the hand-over notes go in as checkpoints/<size>.handover-*
    (docs/formats.md §3)."""
    if out.exists():
        raise ExportError(f"{out} exists; refusing to overwrite")
    refuse_other_archive(out)
    events = event_records(events_table)
    with engine.connect() as conn:
        cps = all_checkpoints(conn)
        keys = handovers(conn)
        verifier_key = first_key(conn, verifier_key)  # a rotated log names the key auditors pinned: the chain's root
        if not cps:
            raise ExportError("no signed checkpoint yet: run `hromada checkpoint` first")
        size = tree_size if tree_size is not None else cps[-1].tree_size
        if size not in {c.tree_size for c in cps}:
            raise ExportError(f"no checkpoint of size {size}; signed sizes: {sizes_listed([c.tree_size for c in cps])}")
        tarball = out.name.endswith(".tar.gz")
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
            target = Path(tmp) / "bundle" if tarball else out
            (target / "checkpoints").mkdir(parents=True)
            log: dict[str, Any] = {
                "format": BUNDLE_FORMAT,
                "origin": origin,
                "verifier_key": verifier_key,
                "tree_size": size,
                "rule_sets": rule_sets or {},
            }
            if chain:
                log["chain"] = chain
            (target / "log.json").write_text(json.dumps(log, indent=2, ensure_ascii=False) + "\n")
            written = 0
            with (target / "events.jsonl").open("wb") as f:
                for entry in iter_entries(conn, events, size):
                    f.write(entry + b"\n")
                    written += 1
                    if progress and written % CHUNK == 0:
                        progress(written, size)
            if written != size:
                raise ExportError(f"found {written} stored events for a tree of {size}")
            for cp in cps:
                if cp.tree_size <= size:
                    (target / "checkpoints" / str(cp.tree_size)).write_text(cosigned_note(conn, cp))
            for handover in keys:  # the chain of keys (formats.md §3): each hand-over beside its size's checkpoint
                if handover.tree_size <= size:
                    (target / "checkpoints" / handover.file_name).write_text(handover.note)
            with (target / "anchors.jsonl").open("w") as f:
                for anchor in anchors(conn, size) if anchors else []:
                    f.write(json.dumps(anchor, sort_keys=True) + "\n")
            (target / "state.json").write_text(
                json.dumps(state(size) if state else {}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            )
            if progress:
                progress(written, size)
            if tarball:
                with tarfile.open(out, "w:gz") as tar:
                    tar.add(target, arcname=".")
    return size


def extract(bundle: Path, into: Path) -> Path:
    """Unpack a .tar.gz bundle (for tests and tools); returns the directory."""
    with tarfile.open(bundle) as tar:
        tar.extractall(into, filter="data")
    return into


#: names that promise an archive `write_bundle` does not write (it writes a directory or a .tar.gz)
OTHER_ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst", ".7z", ".rar")


def refuse_other_archive(out: Path) -> None:
    """`--out x.zip` would silently be a directory named x.zip: refuse it."""
    name = out.name.lower()
    if not name.endswith(".tar.gz") and name.endswith(OTHER_ARCHIVES):
        raise ExportError(
            f"{out}: a bundle is written as a directory or as a .tar.gz file, not as {Path(name).suffix}; "
            f"name it {out.name.rsplit('.', 1)[0]}.tar.gz or give a directory"
        )


def sizes_listed(sizes: list[int], head: int = 3, tail: int = 5) -> str:
    """`100, 200, 300, …, 1600, 1700 (17 in all)`: the first and the last sizes, and how many there are."""
    if len(sizes) <= head + tail:
        return ", ".join(map(str, sizes))
    shown = [*map(str, sizes[:head]), "…", *map(str, sizes[-tail:])]
    return f"{', '.join(shown)} ({len(sizes)} in all)"
