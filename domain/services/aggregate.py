"""City services as event-sourced actors with scopes (``service.*`` events).

A service's stream id is ``stream_id("service", <service id>)``, so a service id can be registered once.
The verifier replays these events to decide, for every later event with a service actor, whether that
service was registered, not revoked, and held the scope the event type requires (``domain.kinds.AUTHORISATION``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.base import LedgerAggregate, stream_id
from domain.errors import InvalidInput, InvalidState, MissingScope, ServiceAlreadyRevoked, ServiceRevoked
from domain.identity import _ID_RE, has_scope, validate_scope


def service_stream(service: str) -> UUID:
    return stream_id("service", service)


def _scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise InvalidInput("scopes must be a list of strings")
    out = sorted({validate_scope(s) for s in scopes})
    if len(out) > 100:
        raise InvalidInput("too many scopes", count=len(out))
    return out


def fold_service(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "service.registered":
        state.update(service=data["service"], name=data["name"], scopes=list(data["scopes"]), revoked=False)
        state["registered_at"] = time
    elif type_ == "service.scopes_changed":
        state["scopes"] = list(data["scopes"])
    elif type_ == "service.revoked":
        state["revoked"] = True
        state["revoked_at"] = time


class Service(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Registered(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "service.registered"
        service: str
        name: str
        scopes: list[str]

    class ScopesChanged(Event):
        TYPE: ClassVar[str] = "service.scopes_changed"
        service: str
        scopes: list[str]

    class Revoked(Event):
        TYPE: ClassVar[str] = "service.revoked"
        service: str
        reason: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_service(state, type_, time, actor, data)

    @classmethod
    def register(
        cls, *, service: str, name: str, scopes: Iterable[str], at: datetime, actor: Mapping[str, str]
    ) -> Service:
        if not isinstance(service, str) or not _ID_RE.fullmatch(service):
            raise InvalidInput("malformed service id", service=str(service))
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput("service name must be 1-200 characters")
        result: Service = cls._start(
            cls.Registered,
            id=service_stream(service),
            at=at,
            actor=actor,
            service=service,
            name=name.strip(),
            scopes=_scopes(scopes),
        )
        return result

    @property
    def service_id(self) -> str:
        return str(self.state["service"])

    @property
    def scopes(self) -> list[str]:
        return list(self.state["scopes"])

    @property
    def revoked(self) -> bool:
        return bool(self.state["revoked"])

    def change_scopes(self, *, scopes: Iterable[str], at: datetime, actor: Mapping[str, str]) -> None:
        self._check_active()
        new = _scopes(scopes)
        if new == self.state["scopes"]:
            raise InvalidState("scopes unchanged", service=self.service_id)
        self._emit(self.ScopesChanged, at=at, actor=actor, service=self.service_id, scopes=new)

    def revoke(self, *, reason: str, at: datetime, actor: Mapping[str, str]) -> None:
        self.check_not_revoked()
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            raise InvalidInput("revocation reason must be 1-500 characters")
        self._emit(self.Revoked, at=at, actor=actor, service=self.service_id, reason=reason.strip())

    def check_not_revoked(self) -> None:
        """A service is revoked once: a second revocation is a conflict (409), not the caller's refusal."""
        if self.revoked:
            raise ServiceAlreadyRevoked("service was already revoked", service=self.service_id)

    def _check_active(self) -> None:
        if self.revoked:
            raise ServiceRevoked("service was revoked", service=self.service_id)

    def require(self, scope: str) -> None:
        """Raise unless this service is active and holds ``scope``."""
        self._check_active()
        if not has_scope(self.state["scopes"], scope):
            raise MissingScope(
                "service lacks the required scope",
                service=self.service_id,
                required=scope,
                granted=list(self.state["scopes"]),
            )
