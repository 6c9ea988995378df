"""Service commands (``service.*``): register a city service, change its scopes, revoke it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.core import AppCore
from domain.errors import (
    ServiceAlreadyRegistered,
)
from domain.identity import Principal
from domain.services.aggregate import Service, service_stream


class ServiceCommands(AppCore):
    """Register, re-scope and revoke city services; the services' scopes are what :meth:`AppCore._authorise`
    checks for every service-caused event."""

    def register_service(self, *, by: Principal, service: str, name: str, scopes: Iterable[str], at: datetime) -> UUID:
        actor = self._authorise(by, "service.registered")
        try:
            agg = self._create(
                at, lambda at: Service.register(service=service, name=name, scopes=scopes, at=at, actor=actor)
            )
        except IntegrityError:
            raise ServiceAlreadyRegistered("service id already registered", service=service) from None
        return agg.id

    def change_service_scopes(self, *, by: Principal, service: str, scopes: Iterable[str], at: datetime) -> None:
        actor = self._authorise(by, "service.scopes_changed")
        self._run(
            service_stream(service),
            Service,
            "service",
            at,
            lambda s, at: s.change_scopes(scopes=scopes, at=at, actor=actor),
        )

    def revoke_service(self, *, by: Principal, service: str, reason: str, at: datetime) -> None:
        actor = self._authorise(by, "service.revoked")
        self._run(
            service_stream(service), Service, "service", at, lambda s, at: s.revoke(reason=reason, at=at, actor=actor)
        )

    def get_service(self, service: str) -> Service:
        return self._service(service)
