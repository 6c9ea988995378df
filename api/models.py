"""Request and response bodies shared by the routers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api import capture

Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# Personal data for the vault: a flat object of strings and integers (never logged, only its commitment).
FlatData = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=64)],
    Annotated[str, StringConstraints(max_length=2000)] | int,
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventRef(BaseModel):
    id: str = Field(description="Public event id: uuid5(stream, version)")
    type: str
    stream: str
    version: int
    leaf_hash: str = Field(description="hex SHA-256(0x00 ‖ stored JCS envelope)")
    receipt: str = Field(description="Where the receipt of this event is served")


class Written(BaseModel):
    events: list[EventRef] = Field(description="The events this write stored, in order.")


class PersonalData(BaseModel):
    """Whether an entry's personal data (in the vault, never public) is still kept or was erased."""

    status: Literal["kept", "erased"] = Field(description="erased: the log records its `personal_data.erased`")
    erased_at: str | None = None
    reason: str | None = None


def personal_data(app: Any, subject: str) -> PersonalData:
    """The entry views' `personal_data`: erased when the log records an erasure of the vault subject."""
    erasure = app.projections.erasure(subject)
    if erasure is None:
        return PersonalData(status="kept")
    return PersonalData(status="erased", erased_at=erasure["erased_at"], reason=erasure["reason"])


def event_refs(app: Any, events: Sequence[Any]) -> list[EventRef]:
    out = []
    for e in events:
        d = capture.describe(app, e)
        out.append(EventRef(**d, receipt=f"/v1/receipts/{d['id']}"))
    return out
