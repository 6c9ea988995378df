"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.problems import ApiProblem, problem_responses
from api.state import StateDep
from ledger.errors import StorageTampered

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "operations", "description": "Health, readiness and metrics."}
router = APIRouter(tags=[TAG["name"]])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


class Ready(BaseModel):
    status: str
    tree_size: int
    checkpoint_size: int | None
    pending_events: int
    self_audit_checked_size: int | None = Field(
        default=None, description="Leaves the self-audit checked since the ledger started (ledger/watch.py)"
    )
    self_audit_complete_at: str | None = Field(
        default=None, description="When a self-audit pass over every leaf last ended clean"
    )


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: the database answers and the self-audit found the store as signed",
    responses=problem_responses(503),
)
def readyz(state: StateDep) -> Ready:
    try:
        with state.ledger.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        st = state.ledger.status()
        audit = state.ledger.self_audit_status()
    except Exception as e:
        raise ApiProblem(503, "not-ready", "Not ready", f"database unavailable: {type(e).__name__}") from e
    if audit is not None and not audit.ok and audit.finding is not None:
        f = audit.finding
        raise StorageTampered(f["message"], where=f["where"], expected=f["expected"], found=f["found"])
    return Ready(
        status="ready",
        tree_size=st.tree_size,
        checkpoint_size=st.checkpoint.tree_size if st.checkpoint else None,
        pending_events=st.pending_events,
        self_audit_checked_size=audit.checked_size if audit else None,
        self_audit_complete_at=audit.complete_at if audit else None,
    )


def _age(created: str | None) -> float | None:
    if not created:
        return None
    try:
        t = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, (datetime.now(UTC) - t).total_seconds())


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(state: StateDep) -> PlainTextResponse:
    gauges: dict[str, tuple[str, float | None]] = {}
    try:
        st = state.ledger.status()
        gauges["hromada_log_tree_size"] = ("Leaves integrated into the Merkle log.", float(st.tree_size))
        gauges["hromada_log_checkpoint_size"] = (
            "Tree size of the latest signed checkpoint.",
            float(st.checkpoint.tree_size) if st.checkpoint else None,
        )
        gauges["hromada_log_checkpoint_age_seconds"] = (
            "Seconds since the latest checkpoint was signed.",
            _age(st.checkpoint.created_at) if st.checkpoint else None,
        )
        gauges["hromada_integration_pending_events"] = (
            "Committed events not yet integrated.",
            float(st.pending_events),
        )
        gauges["hromada_integration_lag_seconds"] = (
            "Age of the oldest committed event not yet integrated (0 when none).",
            st.lag_seconds or 0.0,
        )
        gauges["hromada_last_anchor_age_seconds"] = (
            "Seconds since the latest on-chain anchor (NaN: none).",
            _anchor_age(state),
        )
        audit = state.ledger.self_audit_status()
        gauges["hromada_self_audit_ok"] = (
            "0 when the self-audit found the store changed (nothing is signed then); 1 otherwise.",
            0.0 if audit is not None and not audit.ok else 1.0,
        )
        gauges["hromada_self_audit_checked_leaves"] = (
            "Leaves the self-audit checked since the ledger started.",
            float(audit.checked_size) if audit else 0.0,
        )
        gauges.update(_witness_gauges(state, st.checkpoint.tree_size if st.checkpoint else 0))
    except Exception:  # metrics must answer even when the database does not
        gauges["hromada_up"] = ("1 when the ledger answered this scrape.", 0.0)
    else:
        gauges["hromada_up"] = ("1 when the ledger answered this scrape.", 1.0)
    gauges["hromada_scrape_timestamp_seconds"] = ("When this scrape was rendered.", time.time())
    return PlainTextResponse(state.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8")


def _witness_gauges(state: StateDep, latest: int) -> dict[str, tuple[str, float | None]]:
    from ledger.witnesses import witness_statuses

    with state.ledger.engine.connect() as conn:
        witnesses = witness_statuses(conn)
    return {
        "hromada_witnesses_failing": (
            "Witnesses whose last request failed (down, refusing, or a cosignature that did not verify).",
            float(sum(1 for w in witnesses if w.failures)),
        ),
        "hromada_witnesses_cosigned_latest": (
            "Witnesses that cosigned the latest signed checkpoint.",
            float(sum(1 for w in witnesses if latest and w.cosigned_size >= latest)),
        ),
    }


def _anchor_age(state: StateDep) -> float | None:
    lookup = state.extras.get("last_anchor_time")
    if lookup is not None:
        value: float | None = lookup()
        return value
    try:
        from sqlalchemy import func, select

        from anchoring.schema import anchor_submissions, anchors
    except ImportError:  # pragma: no cover
        return None
    try:
        with state.ledger.engine.connect() as conn:
            # when the latest on-chain submission was last updated (mined or made final)
            last = conn.execute(
                select(func.max(anchor_submissions.c.updated_at))
                .select_from(anchors.join(anchor_submissions, anchors.c.submission_id == anchor_submissions.c.id))
                .where(anchors.c.status.in_(("mined", "final")))
            ).scalar()
    except Exception:
        return None
    return _age(str(last)) if last else None
