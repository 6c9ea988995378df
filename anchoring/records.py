"""Anchors as the public formats show them: in receipts (docs/formats.md §4) and bundles (§5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from anchoring.chain import ChainConfig
from anchoring.schema import anchor_submissions, anchors
from anchoring.service import LocalChainFiles

ON_CHAIN = ("mined", "final")


def _rows(conn: Connection, *conds: Any) -> list[dict[str, Any]]:
    j = anchors.join(anchor_submissions, anchors.c.submission_id == anchor_submissions.c.id)
    rows = conn.execute(
        select(
            anchors.c.tree_size,
            anchors.c.root,
            anchors.c.chain_id,
            anchors.c.contract,
            anchors.c.status,
            anchor_submissions.c.tx_hash,
            anchor_submissions.c.block_number,
            anchor_submissions.c.block_hash,
        )
        .select_from(j)
        .where(anchors.c.status.in_(ON_CHAIN), *conds)
        .order_by(anchors.c.tree_size)
    ).all()
    return [
        {
            "tree_size": int(r.tree_size),
            "root": bytes(r.root).hex(),
            "chain_id": int(r.chain_id),
            "contract": r.contract,
            "tx": r.tx_hash,
            "block": int(r.block_number),
            "block_hash": r.block_hash,
            "final": r.status == "final",
        }
        for r in rows
    ]


def anchor_covering(conn: Connection, min_size: int) -> dict[str, Any] | None:
    """The earliest on-chain anchor of a tree of at least `min_size` leaves (a ledger.receipts.AnchorLookup)."""
    rows = _rows(conn, anchors.c.tree_size >= min_size)
    return rows[0] if rows else None


def anchors_up_to(conn: Connection, tree_size: int) -> list[dict[str, Any]]:
    """Every on-chain anchor of a tree of at most `tree_size` leaves (a ledger.export.AnchorProvider)."""
    return [{k: v for k, v in r.items() if k != "final"} for r in _rows(conn, anchors.c.tree_size <= tree_size)]


def chain_info(data_dir: Path, configured: ChainConfig | None = None) -> dict[str, Any] | None:
    """`chain` of a bundle's log.json: the `configured` chain (HROMADA_CHAIN_*, `ChainSettings.config()`), else
    the local chain's recorded deployment under the data directory, else None (never anchored)."""
    cfg = configured
    if cfg is not None and cfg.contract:
        return {"chain_id": cfg.chain_id, "contract": cfg.contract, "deploy_block": cfg.deploy_block}
    deployment = LocalChainFiles(Path(data_dir) / "chain").deployment
    try:
        dep = json.loads(deployment.read_text(encoding="utf-8"))
        return {
            "chain_id": int(dep["chain_id"]),
            "contract": str(dep["contract"]),
            "deploy_block": int(dep["deploy_block"]),
        }
    except (OSError, ValueError, KeyError):
        return None
