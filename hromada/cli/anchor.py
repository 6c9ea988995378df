"""`hromada anchor now|status`: a typer sub-app, mounted by the main CLI with
`app.add_typer(anchor.app, name="anchor")`.

It reads the ledger's `checkpoints` table directly. The database and the log are the ledger's settings
(HROMADA_DATABASE_URL, HROMADA_DATA_DIR, HROMADA_ORIGIN), each of which an option overrides; the chain and the
policy are the settings tree's (HROMADA_CHAIN_*, HROMADA_ANCHOR_*).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from anchoring.anchorer import Anchorer, anchor_status, checkpoints_source, read_back
from anchoring.chain import ChainClient, ChainConfig
from anchoring.config import AnchorerSettings
from anchoring.errors import AnchoringError, AnchorLockedError
from anchoring.node import LOCAL_CHAIN_WARNING
from anchoring.schema import TABLES
from anchoring.service import LocalChain, running_local_chain
from hromada.cli.common import require_data_dir, settings

app = typer.Typer(help="Anchor signed checkpoint roots on an EVM chain.", no_args_is_help=True)
console = Console()


@dataclass
class AnchorContext:
    engine: Engine
    origin: str
    data_dir: Path
    chain: ChainConfig | None  # the configured chain; None: the local one
    policy: AnchorerSettings


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory ($HROMADA_DATA_DIR or ./data).")]
DbUrl = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL ($HROMADA_DATABASE_URL).")]
Origin = Annotated[str | None, typer.Option("--origin", help="The log's origin ($HROMADA_ORIGIN).")]


def _context(data_dir: Path | None, database_url: str | None, origin: str | None) -> AnchorContext:
    from ledger.db.engine import make_engine

    s = settings(data_dir, database_url=database_url, origin=origin)
    return AnchorContext(
        make_engine(s.ledger.resolved_database_url()), s.ledger.origin, s.ledger.data_dir, s.chain.config(), s.anchoring
    )


def _chain_for(ctx: AnchorContext) -> tuple[ChainConfig, LocalChain | None]:
    if ctx.chain is not None:
        return ctx.chain, None
    running = running_local_chain(ctx.data_dir)
    if running is not None:
        return running, None
    local = LocalChain(ctx.data_dir)
    return local.start(), local


@app.command("now")
def now(
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    origin: Origin = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the transaction to be mined.")] = 60.0,
) -> None:
    """Anchor the latest signed checkpoint now (if it is not anchored yet) and wait until it is mined."""
    ctx = _context(data_dir, database_url, origin)
    for t in TABLES:
        t.create(ctx.engine, checkfirst=True)
    local: LocalChain | None = None
    try:
        cfg, local = _chain_for(ctx)
        if cfg.local:
            console.print(f"[bold red]{LOCAL_CHAIN_WARNING}[/bold red]")
        client = ChainClient(cfg, cfg.load_key())
        client.check()
        anchorer = Anchorer(
            ctx.engine, client, [checkpoints_source(ctx.engine, ctx.origin)], ctx.policy.config(local=cfg.local)
        )
        try:
            anchorer.acquire()
        except AnchorLockedError as exc:
            console.print(f"[yellow]{exc}[/yellow]: the running anchorer (hromada serve) anchors on its schedule.")
            raise typer.Exit(3) from None
        try:
            report = anchorer.tick(force=True)
            if not (report.submitted or report.broadcast) and not anchorer.status()["in_flight_submissions"]:
                console.print("nothing to anchor: the latest checkpoint is already anchored (or none is signed)")
            deadline = time.monotonic() + wait
            while anchorer.status()["in_flight_submissions"] and time.monotonic() < deadline:
                st = anchorer.status()
                if st["latest"] and st["latest"]["status"] in ("mined", "final"):
                    break
                time.sleep(1.0)
                anchorer.tick()
        finally:
            anchorer.release()
        print_status(anchor_status(ctx.engine, chain_id=cfg.chain_id, contract=cfg.contract, local=cfg.local))
    except AnchoringError as exc:
        console.print(f"[red]anchoring failed:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        if local is not None:
            local.stop()


@app.command("status")
def status(
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    origin: Origin = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    verify: Annotated[bool, typer.Option(help="Read the anchors back from the chain and match them.")] = False,
) -> None:
    """Latest anchor, latest final anchor, counts by status; with --verify, match the chain's events."""
    require_data_dir(settings(data_dir, database_url=database_url, origin=origin))  # read-only: never create it
    ctx = _context(data_dir, database_url, origin)
    for t in TABLES:
        t.create(ctx.engine, checkfirst=True)
    st = status_dict(ctx.engine, ctx.data_dir, ctx.chain)
    if verify:
        st["verify"] = _verify(ctx)
    if as_json:
        print(json.dumps(st, indent=2, default=str))
        return
    print_status(st)


def status_dict(engine: Engine, data_dir: Path, chain: ChainConfig | None) -> dict[str, Any]:
    """What `hromada anchor status` and `hromada log status` show (JSON-ready); `chain`: the configured one."""
    cfg = chain or running_local_chain(data_dir)
    local = cfg is None or cfg.local
    st = anchor_status(
        engine, chain_id=cfg.chain_id if cfg else None, contract=cfg.contract if cfg else None, local=local
    )
    st["warning"] = LOCAL_CHAIN_WARNING if local else None
    st["chain"] = (
        {"chain_id": cfg.chain_id, "contract": cfg.contract, "deploy_block": cfg.deploy_block, "rpc": cfg.rpc_display}
        if cfg
        else None
    )
    return st


def _verify(ctx: AnchorContext) -> dict[str, Any]:
    from sqlalchemy import select

    from ledger.db.schema import checkpoints

    cfg, local = _chain_for(ctx)
    try:
        with ctx.engine.connect() as conn:
            roots = {int(r[0]): bytes(r[1]) for r in conn.execute(select(checkpoints.c.tree_size, checkpoints.c.root))}
        assert cfg.contract is not None
        rb = read_back(ChainClient(cfg, None).rpc, cfg.contract, ctx.origin, roots, from_block=cfg.deploy_block)
        return {
            "matched": [e.tree_size for e in rb.matched],
            "unknown_size": [e.tree_size for e in rb.unknown_size],
            "mismatched": [
                {
                    "tree_size": m.tree_size,
                    "stored": m.stored_root.hex(),
                    "anchored": m.anchored_root.hex(),
                    "tx": m.tx_hash,
                }
                for m in rb.mismatched
            ],
        }
    finally:
        if local is not None:
            local.stop()


def print_status(st: dict[str, Any]) -> None:
    if st.get("warning"):
        console.print(f"[bold red]{st['warning']}[/bold red]")
    table = Table(title="anchors", show_header=False)
    chain = st.get("chain")
    if chain:
        table.add_row("chain", f"{chain['chain_id']} {chain['contract']} (from block {chain['deploy_block']})")
    for label in ("latest", "latest_final"):
        a = st.get(label)
        table.add_row(
            label,
            "—"
            if not a
            else f"size {a['tree_size']} {a['status']} tx {a['tx_hash'] or '—'} block {a['block_number'] or '—'}",
        )
    table.add_row("counts", ", ".join(f"{k} {v}" for k, v in sorted(st["counts"].items())) or "—")
    table.add_row("in flight", str(st["in_flight_submissions"]))
    if "verify" in st:
        v = st["verify"]
        table.add_row(
            "on chain",
            f"matched {len(v['matched'])}, unknown {len(v['unknown_size'])}, MISMATCHED {len(v['mismatched'])}",
        )
    console.print(table)
