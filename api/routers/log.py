"""The Merkle log as generic tlog clients read it: the signed checkpoint, C2SP tlog-tiles hash tiles and entry
bundles, inclusion and consistency proofs, and the audit bundle export."""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select
from starlette.background import BackgroundTask

from api.problems import ApiProblem, problem_responses
from api.state import StateDep
from ledger.checkpoints import checkpoint_at, latest_checkpoint
from ledger.export import write_bundle
from ledger.integrator import read_state
from ledger.keychain import handovers
from ledger.leafmap import notification_of
from ledger.merkle.storage import SqlTileStore
from ledger.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, encode_entry_bundle, entries_path, tile_path
from ledger.receipts import prove_consistency, prove_inclusion, stored_entry
from ledger.witnesses import cosigned_note

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "log", "description": "The Merkle log for tlog clients and auditors."}
router = APIRouter(tags=[TAG["name"]])

#: At most 7 groups of 3 digits: 21 digits hold every index below 2^64; longer paths are no tiles of any tree.
_TILE_RE = re.compile(
    r"^(?P<level>entries|\d{1,2})/(?P<index>(?:x\d{3}/){0,6}\d{3})(?:\.p/(?P<width>\d{1,3}))?$", re.ASCII
)
_TILE_EXAMPLE = "0/x001/234.p/17"


def _parse_tile(path: str) -> tuple[str, int, int]:
    m = _TILE_RE.fullmatch(path)
    if m is None:
        raise ApiProblem(404, "not-found", "Not found", "not a tlog-tiles path (tile/<L>/<N>[.p/<W>])")
    index = int(m.group("index").replace("x", "").replace("/", ""))
    width = int(m.group("width")) if m.group("width") else TILE_WIDTH
    if not 1 <= width < TILE_WIDTH and m.group("width") is not None:
        raise ApiProblem(404, "not-found", "Not found", "partial tile width must be 1..255")
    level = m.group("level")
    if level != "entries" and not 0 <= int(level) <= 63:
        raise ApiProblem(404, "not-found", "Not found", "tile level must be 0..63")
    canonical = (
        entries_path(index, width) if level == "entries" else tile_path(int(level), index, width)
    ).removeprefix("tile/")
    if path != canonical:  # as Go's ParseTilePath: one path per tile, so caches and mirrors never hold two copies
        raise ApiProblem(404, "not-found", "Not found", f"not the canonical path of this tile: tile/{canonical}")
    return level, index, width


def _leaves_needed(level: str, index: int, width: int) -> int:
    """The tree size from which tile (level, index) of `width` hashes exists: (index * 256 + width) * 256^level."""
    height = 0 if level == "entries" else int(level)
    return (index * TILE_WIDTH + width) << (TILE_HEIGHT * height)


def _tree_size(conn: Connection, state: StateDep) -> int:
    return read_state(conn, state.ledger.settings.origin).tree_size


@router.get(
    "/checkpoint",
    response_class=Response,
    summary="The latest signed checkpoint (C2SP signed note), with the witnesses' cosignatures (docs/formats.md §7)",
    responses={
        200: {
            "content": {
                "text/plain": {"example": "dev.hromada.local/ledger\n42\nq0Z…=\n\n— dev.hromada.local/ledger AbCd…\n"}
            }
        },
        **problem_responses(404),
    },
)
def checkpoint(state: StateDep) -> Response:
    with state.ledger.engine.connect() as conn:
        cp = latest_checkpoint(conn)
        note = None if cp is None else cosigned_note(conn, cp)
    if note is None:
        raise ApiProblem(404, "not-found", "Not found", "no checkpoint signed yet")
    return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get(
    "/tile/{tile_path:path}",
    response_class=Response,
    summary="C2SP tlog-tiles: hash tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>]",
    responses={200: {"content": {"application/octet-stream": {}}}, **problem_responses(404)},
)
def tile(
    state: StateDep,
    request: Request,
    tile_path: Annotated[
        str, PathParam(description="e.g. `0/x001/234.p/17` or `entries/000`", examples=[_TILE_EXAMPLE])
    ],
) -> Response:
    level, index, width = _parse_tile(tile_path)
    full = width == TILE_WIDTH
    headers = {"Cache-Control": "public, max-age=31536000, immutable" if full else "no-cache"}
    with state.ledger.engine.connect() as conn:
        # before any lookup: an index beyond the tree may also be beyond what the database's integers hold
        if _tree_size(conn, state) < _leaves_needed(level, index, width):
            raise ApiProblem(404, "not-found", "Not found", "tile beyond the tree")
        if level == "entries":
            entries = _entries(conn, state.ledger.integrator.events.name, index * TILE_WIDTH, width)
            body = encode_entry_bundle(entries)
            headers["Vary"] = "Accept-Encoding"
            if _accepts_gzip(request.headers.get("accept-encoding", "")):
                body = gzip.compress(body, compresslevel=6, mtime=0)  # mtime 0: the same bytes every time
                headers["Content-Encoding"] = "gzip"
            return Response(body, media_type="application/octet-stream", headers=headers)
        hashes = SqlTileStore(conn).read_tiles([(int(level), index)]).get((int(level), index))
    if hashes is None or len(hashes) < width * 32:
        raise ApiProblem(404, "not-found", "Not found", "tile not in the tree (yet)")
    return Response(hashes[: width * 32], media_type="application/octet-stream", headers=headers)


def _accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: ``gzip`` listed with a q-value above 0."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def _entries(conn: Connection, table_name: str, first: int, count: int) -> list[bytes]:
    lo, hi = notification_of(conn, first), notification_of(conn, first + count - 1)
    if lo is not None and hi is not None and hi - lo + 1 == count:  # no gaps: one range query
        events = state_table(table_name)
        rows = conn.execute(
            select(events.c.state).where(events.c.id >= lo, events.c.id <= hi).order_by(events.c.id)
        ).all()
        if len(rows) == count:
            return [bytes(r[0]) for r in rows]
    return [stored_entry(conn, table_name, i) for i in range(first, first + count)]


def state_table(name: str) -> Any:
    from ledger.db.schema import event_records

    return event_records(name)


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    proof: list[str] = Field(description="Hex hashes, RFC 9162 §2.1.3.")
    checkpoint: str = Field(description="The signed checkpoint of `tree_size`.")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="Hex hashes, RFC 9162 §2.1.4.")


@router.get(
    "/v1/proofs/inclusion",
    response_model=InclusionProof,
    summary="Inclusion proof of a leaf index in a signed tree size",
    responses=problem_responses(422),
)
def inclusion(
    state: StateDep,
    index: Annotated[int, Query(ge=0, le=2**53, description="Leaf index", examples=[0])],
    size: Annotated[int, Query(ge=1, le=2**53, description="Tree size of a signed checkpoint", examples=[1])],
) -> InclusionProof:
    with state.ledger.engine.connect() as conn:
        proof = prove_inclusion(conn, index, size)
        cp = checkpoint_at(conn, size)
    assert cp is not None
    return InclusionProof(leaf_index=index, tree_size=size, proof=[h.hex() for h in proof], checkpoint=cp.note)


@router.get(
    "/v1/proofs/consistency",
    response_model=ConsistencyProof,
    summary="Consistency proof between two signed tree sizes",
    responses=problem_responses(422),
)
def consistency(
    state: StateDep,
    first: Annotated[int, Query(alias="from", ge=1, le=2**53, examples=[1])],
    second: Annotated[int, Query(alias="to", ge=1, le=2**53, examples=[1])],
) -> ConsistencyProof:
    with state.ledger.engine.connect() as conn:
        proof = prove_consistency(conn, first, second)
    return ConsistencyProof(first=first, second=second, proof=[h.hex() for h in proof])


class LogInfo(BaseModel):
    origin: str
    tree_size: int
    root: str
    checkpoint_size: int | None
    checkpoint_at: str | None
    pending_events: int
    lag_seconds: float | None
    verifier_key: str


@router.get("/v1/log", response_model=LogInfo, summary="Log status: size, root, latest checkpoint, verifier key")
def log_info(state: StateDep) -> LogInfo:
    return LogInfo(**state.ledger.status().as_dict())


class KeyHandover(BaseModel):
    tree_size: int = Field(description="The size of the hand-over checkpoint")
    old_key: str = Field(description="The retired key (C2SP verifier key)")
    new_key: str = Field(description="The key that signs from this size on")
    note: str = Field(description="The hand-over note (docs/formats.md §3), signed by both keys")


class KeyHandovers(BaseModel):
    handovers: list[KeyHandover]


@router.get(
    "/v1/log/handovers",
    response_model=KeyHandovers,
    summary="The log's chain of signing keys: every key hand-over, oldest first (docs/formats.md §3)",
)
def key_handovers(state: StateDep) -> KeyHandovers:
    """What a monitor or an auditor pinned to the log's first key needs to follow a rotation (the notes are the
    evidence; nothing here is to be trusted without checking their signatures from the pinned key)."""
    with state.ledger.engine.connect() as conn:
        chain = handovers(conn)
    return KeyHandovers(
        handovers=[KeyHandover(tree_size=h.tree_size, old_key=h.old_key, new_key=h.new_key, note=h.note) for h in chain]
    )


@router.get(
    "/v1/export",
    response_class=FileResponse,
    summary="Audit bundle (.tar.gz, docs/formats.md §5) at a signed checkpoint",
    responses={200: {"content": {"application/gzip": {}}}, **problem_responses(404)},
)
def export(
    state: StateDep,
    size: Annotated[int | None, Query(ge=1, le=2**53, description="Signed tree size (default: latest)")] = None,
) -> FileResponse:
    ledger = state.ledger
    tmp = Path(tempfile.mkdtemp(prefix="hromada-export-"))
    out = tmp / "bundle.tar.gz"
    chain, anchors = _anchor_sources(state)
    try:
        written = write_bundle(
            ledger.engine,
            events_table=ledger.integrator.events.name,
            origin=ledger.settings.origin,
            verifier_key=ledger.signer.verifier_key,
            out=out,
            tree_size=size,
            chain=chain,
            rule_sets=ledger.rule_sets(),
            anchors=anchors,
            state=ledger.published_state,
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    name = f"{ledger.settings.origin.replace('/', '_')}-{written}.tar.gz"
    return FileResponse(
        out,
        media_type="application/gzip",
        filename=name,
        headers={"X-Tree-Size": str(written)},
        background=BackgroundTask(shutil.rmtree, tmp, True),
    )


def _anchor_sources(state: StateDep) -> tuple[dict[str, Any] | None, Any]:
    """Chain info and anchors for bundles: what the composition root provides (`create_app(bundle_anchors=...)`:
    the configured chain or the local one), else the local chain's deployment under the data directory."""
    provider = state.extras.get("bundle_anchors")
    if provider is not None:
        chain, anchors = provider()
        return chain, anchors
    if state.settings.api_no_anchors:
        return None, None
    try:
        from anchoring.records import anchors_up_to, chain_info
    except ImportError:  # pragma: no cover - anchoring is part of the package
        return None, None
    try:
        return chain_info(state.ledger.settings.data_dir), anchors_up_to
    except Exception:  # no anchoring tables yet, or no chain configured
        return None, None
