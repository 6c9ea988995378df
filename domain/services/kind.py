"""The services' row of the registry of kinds (``service.*``; publishes no state)."""

from __future__ import annotations

from domain.identity import Permission
from domain.registry import Kind
from domain.services.aggregate import Service, fold_service

KIND = Kind(
    name="services",
    prefix="service",
    aggregates=(Service,),
    fold=fold_service,
    permissions={
        "service.registered": Permission("service:admin", system=True),
        "service.scopes_changed": Permission("service:admin", system=True),
        "service.revoked": Permission("service:admin", system=True),
    },
)
