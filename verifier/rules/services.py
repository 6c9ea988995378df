"""Services and actor authorisation (docs/domain.md "Actors and authorisation", "Services"). The table of who may
cause what is the registry's (:data:`verifier.kinds.AUTHORISATION`).

:class:`ServiceRules` checks the service streams themselves (step 4); :class:`Authorisation` decides for every
event whether its actor could cause it at that point of the log (step 5). Its state grows with the number of
services and of queue/register entries (to know each entry's applicant), not with the number of events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.rules.model import Event, Malformed, Permission, Report, Violation, as_str, as_str_list, stream_id
from verifier.rules.store import Scratch, SpillMap
from verifier.spill import ScratchFile

__all__ = ["Authorisation", "Permission", "ServiceRules", "scope_matches"]

_SERVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_SEGMENT = re.compile(r"(\*|[a-z0-9][a-z0-9_-]*)\Z")


def scope_matches(granted: str, required: str) -> bool:
    """Same number of segments, each granted segment equal or ``*``; a ``*`` as the LAST granted segment
    matches one or more remaining segments."""
    g = granted.split(":")
    r = required.split(":")
    if not all(_SEGMENT.match(s) for s in g):
        return False
    if g[-1] == "*" and len(r) >= len(g):
        return all(a == "*" or a == b for a, b in zip(g[:-1], r, strict=False))
    return len(g) == len(r) and all(a == "*" or a == b for a, b in zip(g, r, strict=True))


@dataclass(slots=True)
class Service:
    scopes: list[str]
    revoked: bool = False


def _scopes(ev: Event) -> list[str]:
    scopes = as_str_list(ev.data, "scopes")
    for s in scopes:
        if not s or len(s) > 128 or not all(_SEGMENT.match(seg) for seg in s.split(":")):
            raise Malformed("scopes", "scopes of ':'-separated [a-z0-9][a-z0-9_-]* or '*' segments", s)
    return scopes


class ServiceRules:
    """Step 4 for ``service.*`` streams: stream id, sorted distinct scopes, nothing after revocation."""

    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report  # ``scratch``: as every kind's rules get it; a city has few services, kept in memory
        self.services: dict[str, Service] = {}

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        sid = as_str(ev.data, "service")
        expected_stream = stream_id("service", sid)
        if ev.stream != expected_stream:
            self.fail(
                ev, "service_stream_mismatch", "a service's stream is S('service', id)", expected_stream, ev.stream
            )
        s = self.services.get(sid)
        if ev.type == "service.registered":
            as_str(ev.data, "name")
            scopes = _scopes(ev)
            if not _SERVICE_ID.match(sid):
                self.fail(ev, "invalid_service_id", "service id", "[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", sid)
            if scopes != sorted(set(scopes)):
                self.fail(ev, "scopes_not_sorted", "scopes are sorted and distinct", sorted(set(scopes)), scopes)
            if s is not None:
                self.fail(ev, "service_registered_twice", "a service id is registered at most once", None, sid)
            self.services[sid] = Service(scopes)
            return
        if s is None:
            self.fail(ev, "unknown_service", f"{ev.logged_type} for a service never registered", None, sid)
            return
        if s.revoked:
            self.fail(ev, "event_after_revoked", "nothing follows service.revoked in its stream", "no event", ev.type)
        if ev.type == "service.scopes_changed":
            scopes = _scopes(ev)
            if scopes != sorted(set(scopes)):
                self.fail(ev, "scopes_not_sorted", "scopes are sorted and distinct", sorted(set(scopes)), scopes)
            if scopes == s.scopes:
                self.fail(ev, "scopes_unchanged", "scopes_changed must change something", "other scopes", scopes)
            s.scopes = scopes
        elif ev.type == "service.revoked":
            as_str(ev.data, "reason")
            s.revoked = True
        else:
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a service.* type", ev.type)


class Authorisation:
    """Step 5: the actor of each event was allowed to cause it at that point of the log. ``table``: (canonical)
    event type -> who may cause it (docs/domain.md; :data:`verifier.kinds.AUTHORISATION`)."""

    def __init__(
        self,
        report: Report,
        table: Mapping[str, Permission],
        cache_items: int | None = None,
        file: ScratchFile | None = None,
    ) -> None:
        self.report = report
        self.table = table
        # the events that register an entry's applicant (the citizen they name): "entry:" permissions check them
        self.registers_applicant = frozenset(t for t, p in table.items() if p.citizen == "applicant")
        self.services: dict[str, Service] = {}
        self.scratch = Scratch(cache_items, file)
        # queue/register entry id -> applicant pseudonym (grows with the entries: a spill map)
        self.applicants: SpillMap[str] = self.scratch.map("applicants")

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        perm = self.table.get(ev.type)
        actor = ev.actor
        kind, aid = actor.get("kind"), actor.get("id")
        if perm is None:
            self.fail(
                ev,
                "no_permission_rule",
                "docs/domain.md names no actor for this event type",
                "a documented event type",
                ev.type,
            )
        elif kind == "service":
            self._service(ev, perm, str(aid))
        elif kind == "citizen":
            self._citizen(ev, perm, str(aid))
        elif kind == "system":
            needed = perm.system_id
            if not perm.system:
                self.fail(
                    ev, "system_not_allowed", f"{ev.logged_type} may not be caused by the system", _who(perm), actor
                )
            elif needed is not None and aid != needed:
                self.fail(
                    ev,
                    "system_id_mismatch",
                    f"{ev.logged_type} is caused by the rules",
                    {"kind": "system", "id": needed},
                    actor,
                )
        else:
            self.fail(ev, "unknown_actor_kind", "actor kind", "service | citizen | system", kind)
        self._learn(ev)
        if self.scratch.overfull:
            self.scratch.maintain()

    def close(self) -> None:
        self.scratch.close()

    def _service(self, ev: Event, perm: Permission, sid: str) -> None:
        if perm.scope is None:
            self.fail(
                ev,
                "service_not_allowed",
                f"no service may cause {ev.logged_type}",
                _who(perm),
                {"kind": "service", "id": sid},
            )
            return
        s = self.services.get(sid)
        if s is None:
            self.fail(
                ev,
                "service_not_registered",
                f"service {sid} was not registered before this event",
                f"a service.registered for {sid} earlier in the log",
                "none",
            )
        elif s.revoked:
            self.fail(ev, "service_revoked", f"service {sid} was revoked before this event", "not revoked", "revoked")
        elif not any(scope_matches(g, perm.scope) for g in s.scopes):
            self.fail(ev, "scope_missing", f"service {sid} holds no scope matching {perm.scope}", perm.scope, s.scopes)

    def _citizen(self, ev: Event, perm: Permission, pseudonym: str) -> None:
        field = perm.citizen
        if field is None:
            self.fail(
                ev,
                "citizen_not_allowed",
                f"no citizen may cause {ev.logged_type}",
                _who(perm),
                {"kind": "citizen", "id": pseudonym},
            )
            return
        if field == "entry:":
            entry = ev.data.get("entry")
            named = self.applicants.get(entry) if isinstance(entry, str) else None
            what = f"the applicant of entry {entry}"
        else:
            value = ev.data.get(field)
            named = value if isinstance(value, str) else None
            what = f"data.{field}"
        if named != pseudonym:
            self.fail(ev, "citizen_mismatch", f"a citizen may cause {ev.logged_type} only as {what}", named, pseudonym)

    def _learn(self, ev: Event) -> None:
        t = ev.type
        d = ev.data
        if t in self.registers_applicant:
            entry, applicant = d.get("entry"), d.get("applicant")
            if isinstance(entry, str) and isinstance(applicant, str):
                self.applicants[entry] = applicant
        elif t.startswith("service."):
            sid = d.get("service")
            if not isinstance(sid, str):
                return
            scopes = d.get("scopes")
            ok = isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)
            if t == "service.registered" and sid not in self.services and ok:
                self.services[sid] = Service(list(scopes))  # type: ignore[arg-type]
            elif t == "service.scopes_changed" and sid in self.services and ok:
                self.services[sid].scopes = list(scopes)  # type: ignore[arg-type]
            elif t == "service.revoked" and sid in self.services:
                self.services[sid].revoked = True


def _who(perm: Permission) -> str:
    who = []
    if perm.scope:
        who.append(f"a service with scope {perm.scope}")
    if perm.citizen:
        who.append("the citizen named in the event")
    if perm.system:
        who.append("the system")
    return " or ".join(who) or "nobody"
