"""Backups of one ledger, and restores that never fork its log (docs/operations.md, "Backups").

A backup is one gzip'd tar holding ``backup.json`` (what it holds, with the SHA-256 of every other member), the
ledger database (SQLite's online backup API: a consistent copy of a live file; PostgreSQL: ``pg_dump --format
custom``), the personal-data vault's database after it (so every event's personal data is in the backup), the
development key files when the data directory holds them (never a production key: those come from the settings),
and the local development chain's files when there is one.

A restore checks every member's hash, then refuses to bring back a log that is *behind* what the world has seen:
the ledger it replaces (its latest signed checkpoint), and a checkpoint the operator gives (``published``: the
latest one a witness, a monitor or the anchor contract saw). A log restored behind a published checkpoint would
sign, at that size, a root other than the published one: a fork every verifier reports. It stops instead and says
what to do.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from ledger.config import Settings
from ledger.errors import LedgerError

BACKUP_FORMAT = 1
MANIFEST = "backup.json"
#: Development secrets the ledger creates in its data directory when the settings give none (ledger/secrets.py).
DEV_KEY_FILES = ("log.key", "pseudonym.keys", "vault.key")
CHAIN_DIR = "chain"  # the local development chain's files (anchoring/service.py LocalChainFiles)


class BackupError(LedgerError):
    """A backup could not be written or read; nothing was changed."""


class RestoreRefused(BackupError):
    """Restoring would fork the log or overwrite a ledger; carries what was found."""

    def __init__(self, message: str, **evidence: Any) -> None:
        super().__init__(message)
        self.evidence = evidence


@dataclass(frozen=True)
class LogPoint:
    """A size of the log and its root there (a signed checkpoint, or the tree a backup holds)."""

    size: int
    root: bytes


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    manifest: dict[str, Any]

    @property
    def tree_size(self) -> int:
        return int(self.manifest["tree_size"])


# -- databases ------------------------------------------------------------------------------------------------
def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url}: an in-memory database has nothing to back up")
    return Path(database)


def libpq_url(url: str) -> str:
    """The URL for pg_dump/pg_restore: SQLAlchemy's ``postgresql+psycopg://`` without the driver part."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise BackupError(f"{name} not found: install PostgreSQL's client programs (Debian: postgresql-client)")


def _dump_database(url: str, into: Path, origin: str | None = None) -> tuple[str, LogPoint | None, LogPoint | None]:
    """Write a consistent copy of the database at ``url`` to ``into``; return the member's kind and, when ``origin``
    is given, the tree and the latest checkpoint *that copy* holds."""
    if _is_sqlite(url):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"{source}: no such database")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(into)
        try:
            src.backup(dst)  # the online backup API: a consistent snapshot while writers go on
        finally:
            dst.close()
            src.close()
        tree, cp = _log_point(f"sqlite:///{into}", origin) if origin is not None else (None, None)
        return "sqlite", tree, cp
    from sqlalchemy import text

    from ledger.db.engine import make_engine

    engine = make_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # pg_dump reads the snapshot this transaction exported, so the tree read here is the dump's tree
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tree, cp = _read_point(conn, origin) if origin is not None else (None, None)
            dump = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            run = subprocess.run(
                [*dump, "--file", str(into), libpq_url(url)],
                capture_output=True,
                text=True,
            )
            conn.rollback()
    finally:
        engine.dispose()
    if run.returncode != 0:
        raise BackupError(f"pg_dump failed: {run.stderr.strip()}")
    return "pg_dump", tree, cp


def _restore_database(kind: str, member: Path, url: str, *, clean: bool) -> None:
    if kind == "sqlite":
        if not _is_sqlite(url):
            raise BackupError(f"the backup holds a SQLite database; {make_url(url).get_backend_name()} given")
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            stale.unlink(missing_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        shutil.copyfile(member, tmp)
        os.replace(tmp, target)
        return
    if _is_sqlite(url):
        raise BackupError("the backup holds a PostgreSQL dump; give --database-url postgresql://...")
    run = subprocess.run(
        [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        + (["--clean", "--if-exists"] if clean else [])
        + ["--dbname", libpq_url(url), str(member)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise BackupError(f"pg_restore failed: {run.stderr.strip()}")


# -- reading a log's position ---------------------------------------------------------------------------------
def _read_point(conn: Any, origin: str) -> tuple[LogPoint | None, LogPoint | None]:
    from sqlalchemy import inspect

    from ledger.checkpoints import latest_checkpoint
    from ledger.integrator import read_state
    from ledger.merkle.storage import SqlTileStore
    from ledger.merkle.tree import TreeReader

    if "merkle_state" not in inspect(conn).get_table_names():
        return None, None
    size = read_state(conn, origin).tree_size
    tree = LogPoint(size, TreeReader(SqlTileStore(conn), size).root()) if size else None
    cp = latest_checkpoint(conn)
    return tree, (LogPoint(cp.tree_size, cp.root) if cp else None)


def _log_point(url: str, origin: str) -> tuple[LogPoint | None, LogPoint | None]:
    """(the tree the database holds, its latest signed checkpoint); None where there is none."""
    from ledger.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _read_point(conn, origin)
    finally:
        engine.dispose()


def _root_at(url: str, size: int) -> bytes:
    from ledger.db.engine import make_engine
    from ledger.merkle.storage import SqlTileStore
    from ledger.merkle.tree import TreeReader

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return TreeReader(SqlTileStore(conn), size).root()
    finally:
        engine.dispose()


def _is_empty(url: str) -> bool:
    """No table of the database at ``url`` holds a row (or the SQLite file does not exist)."""
    if _is_sqlite(url) and not _sqlite_path(url).exists():
        return True
    from sqlalchemy import inspect, text

    from ledger.db.engine import make_engine

    engine = make_engine(url)
    try:
        names = inspect(engine).get_table_names()
        with engine.connect() as conn:
            return not any(conn.execute(text(f'SELECT 1 FROM "{n}" LIMIT 1')).first() for n in names)
    finally:
        engine.dispose()


# -- backup ---------------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_backup(
    settings: Settings,
    out: Path,
    *,
    verifier_key: str,
    chain_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> BackupInfo:
    """Back up the ledger of ``settings`` into the new file ``out`` (written beside, renamed when complete)."""
    if out.exists():
        raise BackupError(f"{out} exists: a backup never overwrites a file")
    if out.suffix not in (".gz", ".tgz"):
        raise BackupError(f"{out}: name the backup *.tar.gz (it is a gzip'd tar)")
    url, vault_url = settings.resolved_database_url(), settings.resolved_vault_url()
    with tempfile.TemporaryDirectory(prefix="hromada-backup-", dir=out.parent if out.parent.exists() else None) as t:
        work = Path(t)
        members: dict[str, Path] = {}
        progress("ledger database")
        kind, tree, cp = _dump_database(url, work / "ledger.db", settings.origin)
        members["ledger.db"] = work / "ledger.db"
        progress("vault database")
        vault_kind, _, _ = _dump_database(vault_url, work / "vault.db")
        members["vault.db"] = work / "vault.db"
        keys = []
        if not settings.production:
            for name in DEV_KEY_FILES:
                path = settings.data_dir / name
                if path.is_file():
                    members[f"keys/{name}"] = path
                    keys.append(name)
        chain = []
        if chain_dir is not None and chain_dir.is_dir():
            for path in sorted(p for p in chain_dir.iterdir() if p.is_file() and p.suffix != ".log"):
                members[f"{CHAIN_DIR}/{path.name}"] = path
                chain.append(path.name)
        manifest = {
            "format": BACKUP_FORMAT,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "origin": settings.origin,
            "verifier_key": verifier_key,
            "tree_size": tree.size if tree else 0,
            "root": tree.root.hex() if tree else None,
            "checkpoint_size": cp.size if cp else None,
            "database": kind,
            "vault": vault_kind,
            "dev_keys": keys,
            "chain_files": chain,
            "files": {name: _sha256(path) for name, path in members.items()},
        }
        progress("writing archive")
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(path, arcname=name, recursive=False, filter=_private)
        os.chmod(partial, 0o600)  # it holds personal data (encrypted) and, in development, keys
        os.replace(partial, out)
    return BackupInfo(out, manifest)


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


# -- restore --------------------------------------------------------------------------------------------------
@contextmanager
def open_backup(path: Path) -> Iterator[tuple[BackupInfo, Path]]:
    """Unpack ``path`` into a private temporary directory after checking every member against the manifest."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    with tempfile.TemporaryDirectory(prefix="hromada-restore-") as t:
        work = Path(t)
        try:
            with tarfile.open(path, "r:gz") as tar:
                names = tar.getnames()
                if MANIFEST not in names:
                    raise BackupError(f"{path}: not a hromada backup (no {MANIFEST})")
                tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise BackupError(f"{path}: unreadable backup: {e}") from e
        manifest = json.loads((work / MANIFEST).read_text())
        if manifest.get("format") != BACKUP_FORMAT:
            raise BackupError(f"{path}: backup format {manifest.get('format')!r}, this hromada reads {BACKUP_FORMAT}")
        files: dict[str, str] = manifest["files"]
        extra = set(names) - set(files) - {MANIFEST} - {n for n in names if (work / n).is_dir()}
        if extra:
            raise BackupError(f"{path}: members not in the manifest: {sorted(extra)}")
        for name, digest in files.items():
            member = work / name
            if not member.is_file():
                raise BackupError(f"{path}: {name} is missing")
            if _sha256(member) != digest:
                raise BackupError(f"{path}: {name} does not match its SHA-256 in {MANIFEST}: the backup is damaged")
        yield BackupInfo(path, manifest), work


def check_not_behind(backup_tree: LogPoint | None, seen: LogPoint, what: str, root_at: Callable[[int], bytes]) -> None:
    """Refuse unless the backup's log extends ``seen``: it holds at least ``seen.size`` leaves, with ``seen.root``
    as its root at that size."""
    have = backup_tree.size if backup_tree else 0
    if seen.size > have:
        raise RestoreRefused(
            f"{what} is a checkpoint of size {seen.size}, but this backup holds only {have} events: restoring it "
            f"would fork the log (the next checkpoints would contradict the published one). Restore a newer backup; "
            f"if none holds all {seen.size} events, the events after {have} are lost to this store: do not restore "
            "and serve this log, tell its auditors (docs/operations.md, 'A restore that would fork the log')",
            published_size=seen.size,
            backup_size=have,
        )
    if seen.size and root_at(seen.size) != seen.root:
        raise RestoreRefused(
            f"{what} has root {seen.root.hex()} at size {seen.size}, but this backup's tree has "
            f"{root_at(seen.size).hex()} there: it is not a backup of that log's history",
            published_size=seen.size,
            expected=seen.root.hex(),
            found=root_at(seen.size).hex(),
        )


def read_published(text: str, verifier_key: str) -> LogPoint:
    """A checkpoint note (its text) signed by the log's key: the size and root the world has seen."""
    from ledger.note import NoteError, open_note, parse_checkpoint, parse_note, parse_verifier_key

    key = parse_verifier_key(verifier_key)
    try:
        body, _ = open_note(text, [key])
        cp = parse_checkpoint(body)
    except NoteError as e:
        try:
            others = [s for s in parse_note(text)[1] if s.name == key.name and s.key_id != key.key_id]
        except NoteError:
            others = []
        if others:  # signed by another key of this log: the key was rotated after the backup (docs/formats.md §3)
            raise BackupError(
                f"the published checkpoint is signed by another key of this log (key id {others[0].key_id.hex()}), "
                f"not by the backup's ({key.key_id.hex()}): the log's key was rotated after this backup was taken "
                "(hromada log rotate-key). Restoring it would bring back the retired key and a log without the "
                "hand-over: restore a backup taken after the rotation instead"
            ) from e
        raise BackupError(f"the published checkpoint does not verify with the backup's log key: {e}") from e
    return LogPoint(cp.size, cp.root)


def restore_backup(
    path: Path,
    settings: Settings,
    *,
    published: str | None = None,
    replace: bool = False,
    chain_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> BackupInfo:
    """Restore the backup at ``path`` into the stores of ``settings`` (see the module's docstring for the refusals).
    Nothing is written before every check passed."""
    url, vault_url = settings.resolved_database_url(), settings.resolved_vault_url()
    with open_backup(path) as (info, work):
        m = info.manifest
        if m["origin"] != settings.origin:
            raise RestoreRefused(
                f"the backup is of log {m['origin']!r}, the settings name {settings.origin!r}",
                expected=settings.origin,
                found=m["origin"],
            )
        if m["database"] == "sqlite":
            backup_url = f"sqlite:///{work / 'ledger.db'}"
            backup_tree, _ = _log_point(backup_url, m["origin"])

            def root_at(size: int) -> bytes:
                return _root_at(backup_url, size)

        else:
            backup_tree = LogPoint(int(m["tree_size"]), bytes.fromhex(m["root"])) if m["root"] else None

            def root_at(size: int) -> bytes:
                if backup_tree is not None and size == backup_tree.size:
                    return backup_tree.root
                raise RestoreRefused(
                    "a PostgreSQL backup can be checked against a published checkpoint of its own size only; "
                    "restore it into an empty database and run `hromada log verify` before serving",
                    published_size=size,
                )

        if backup_tree is not None and m["root"] != backup_tree.root.hex():
            raise BackupError(f"{path}: the database's tree does not match the root in {MANIFEST}")
        # 1. the ledger being replaced: never go behind what it signed
        if not _is_empty(url):
            current_tree, current_cp = _log_point(url, settings.origin)
            if not replace:
                raise RestoreRefused(
                    f"{make_url(url).render_as_string(hide_password=True)} already holds a ledger "
                    f"({current_tree.size if current_tree else 0} events): restore into an empty store, or pass "
                    "--replace to replace it (refused anyway if it is ahead of the backup)",
                    current_size=current_tree.size if current_tree else 0,
                )
            if current_cp is not None:
                check_not_behind(backup_tree, current_cp, "the ledger being replaced signed", root_at)
        # 2. what the world has seen
        if published is not None:
            check_not_behind(backup_tree, read_published(published, m["verifier_key"]), "the published", root_at)
        # 3. write: databases, then keys and chain files
        if not _is_empty(vault_url) and not replace:
            raise RestoreRefused("the vault's database is not empty: restore into empty stores, or pass --replace")
        progress("ledger database")
        _restore_database(m["database"], work / "ledger.db", url, clean=replace)
        progress("vault database")
        _restore_database(m["vault"], work / "vault.db", vault_url, clean=replace)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for name in m["dev_keys"]:
            target = settings.data_dir / name
            shutil.copyfile(work / "keys" / name, target)
            os.chmod(target, 0o600)
        if m["chain_files"] and chain_dir is not None:
            chain_dir.mkdir(parents=True, exist_ok=True)
            for name in m["chain_files"]:
                shutil.copyfile(work / CHAIN_DIR / name, chain_dir / name)
        return info
