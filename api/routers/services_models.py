"""Request and response bodies of the service endpoints (`api/routers/services.py`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.models import Body, Written

#: A service id as `service.registered` names it (docs/domain.md "Services").
SERVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Scope = Annotated[str, Field(min_length=1, max_length=128, examples=["queue:kindergarten:*"])]


class RevokeService(Body):
    reason: Annotated[
        str, Field(min_length=1, max_length=500, description="Why (recorded in `service.revoked`; public).")
    ]


class ServiceRevokedAnswer(Written):
    service: str
    keys_revoked: int = Field(description="API keys of the service revoked with it (in this ledger's key table).")


class ChangeScopes(Body):
    scopes: Annotated[
        list[Scope], Field(min_length=0, max_length=100, description="The complete new list; replaces the old one.")
    ]


class ServiceView(BaseModel):
    service: str
    name: str
    scopes: list[str]
    registered_at: str
    revoked: bool
    revoked_at: str | None = None
