"""Receipts (docs/formats.md §4), built on request so they upgrade as proofs and anchors arrive."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.problems import problem_responses
from api.state import StateDep
from ledger.receipts import build_receipt

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "receipts", "description": "Receipts: the proof that an event is in the log."}
router = APIRouter(prefix="/v1", tags=[TAG["name"]])


class Receipt(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "format": 1,
                    "status": "proved",
                    "event": {"format": 1, "type": "petition.signed", "...": "..."},
                    "leaf_hash": "5f…",
                    "leaf_index": 41,
                    "inclusion_proof": ["aa…", "bb…"],
                    "checkpoint": "dev.hromada.local/ledger\n64\n…\n\n— dev.hromada.local/ledger …\n",
                    "anchor": None,
                }
            ]
        },
    )

    format: int
    status: str = Field(description="pending | proved | anchored")
    event: dict[str, Any] | None = None
    leaf_hash: str
    leaf_index: int
    inclusion_proof: list[str] | None
    checkpoint: str | None
    anchor: dict[str, Any] | None


@router.get(
    "/receipts/{event_id}", response_model=Receipt, summary="The receipt of an event", responses=problem_responses(404)
)
def receipt(event_id: UUID, state: StateDep) -> dict[str, Any]:
    ledger = state.ledger
    with ledger.engine.connect() as conn:
        return build_receipt(
            conn, events_table=ledger.integrator.events.name, event_id=event_id, anchors=state.anchor_lookup
        )
