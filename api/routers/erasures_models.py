"""Request and response bodies of the erasure endpoints (`api/routers/erasures.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.models import Body, Written

#: A vault subject an erasure names (docs/domain.md "Personal data, commitments and erasure").
SUBJECT = r"^(kindergarten|housing)\.[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Reason = Literal["subject_request", "retention_expired", "court_order", "unlawful_processing"]


class Erase(Body):
    subject: Annotated[
        str,
        Field(
            pattern=SUBJECT,
            description="The vault subject: `kindergarten.<entry id>` or `housing.<entry id>`.",
            examples=["kindergarten.0b9c3e2a-5d1f-5c4e-9a7b-3f2d1e0c9b8a"],
        ),
    ]
    reason: Annotated[Reason, Field(description="Why (a code: no free text enters the public log).")]


class Erasure(BaseModel):
    subject: str
    reason: str
    erased_at: str = Field(description="The time of its `personal_data.erased` event.")


class Erased(Written, Erasure):
    pass
