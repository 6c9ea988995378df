"""Who acts: actors, citizen pseudonyms, service scopes and what a permission is.

Citizens are known to the log only by pseudonyms: ``HMAC-SHA256(key_v, tag ‖ 0x00 ‖ context ‖ 0x00 ‖ subject)``
with a per-log secret ``key_v`` of version ``v``. Each petition, ballot and queue freezes the key version in
force when it was opened (``pseudonym_key``), so a key rotation never splits one aggregate's signers, voters or
applicants. Votes use a per-ballot pseudonym (the ballot id is the context), so votes of one citizen in two
ballots cannot be linked.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from domain.errors import ConfigurationError, InvalidInput, InvalidScope, UnknownPseudonymKey

ActorKind = Literal["service", "citizen", "system"]
ACTOR_KINDS: tuple[str, ...] = ("service", "citizen", "system")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


@dataclass(frozen=True)
class Actor:
    """Who caused an event. Events carry :meth:`as_dict`."""

    kind: ActorKind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise InvalidInput("unknown actor kind", kind=str(self.kind))
        if not isinstance(self.id, str) or not _ID_RE.fullmatch(self.id):
            raise InvalidInput("malformed actor id", id=str(self.id))

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}

    @classmethod
    def service(cls, service_id: str) -> Actor:
        return cls("service", service_id)

    @classmethod
    def citizen(cls, pseudonym: str) -> Actor:
        return cls("citizen", pseudonym)

    @classmethod
    def system(cls, name: str = "hromada") -> Actor:
        return cls("system", name)


#: The actor of events the rules emit by themselves (``petition.threshold_reached``).
RULES = Actor.system("rules")


@dataclass(frozen=True)
class CitizenIdentity:
    """An identity assertion from the identity provider, as the API received it. Never stored.

    ``subject`` is the provider's stable subject (prefix it with the provider: ``diia:…``); ``method`` the
    identity method used (``bankid``, ``diia``, ``qes`` …); ``age`` and ``district`` are asserted attributes
    used for eligibility only (the district is recorded in a vote when the ballot is per district)."""

    subject: str
    method: str
    age: int | None = None
    district: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject or len(self.subject) > 512:
            raise InvalidInput("identity subject must be a non-empty string")
        if not self.subject.isprintable() or self.subject.strip() != self.subject:
            # a subject is an identifier from the identity provider: control characters or padding in it are
            # a malformed assertion, and would make two spellings of one person two pseudonyms
            raise InvalidInput("identity subject must be printable, without surrounding spaces")
        if not isinstance(self.method, str) or not self.method:
            raise InvalidInput("identity method must be a non-empty string")
        if self.age is not None and (not isinstance(self.age, int) or isinstance(self.age, bool) or self.age < 0):
            raise InvalidInput("age must be a non-negative integer")
        if self.district is not None and not isinstance(self.district, str):
            raise InvalidInput("district must be a string")


class Pseudonymizer:
    """Keyed pseudonyms with versioned keys (rotation: add a version, make it current, keep old ones
    while aggregates that froze them are open; destroying an old key makes its pseudonyms unlinkable)."""

    def __init__(self, keys: Mapping[int, bytes], current: int | None = None) -> None:
        if not keys:
            raise ConfigurationError("a pseudonymizer needs at least one key")
        for version, key in keys.items():
            if not isinstance(version, int) or version < 1:
                raise ConfigurationError("key versions are positive integers")
            if not isinstance(key, bytes) or len(key) < 32:
                raise ConfigurationError("pseudonym keys must be at least 32 bytes", version=version)
        self._keys = dict(keys)
        self.current = max(keys) if current is None else current
        if self.current not in self._keys:
            raise ConfigurationError("current key version has no key", version=self.current)

    @classmethod
    def from_text(cls, text: str) -> Pseudonymizer:
        """Parse ``"1=<hex>,2=<hex>"`` (current = highest version) or with ``;current=N``."""
        current: int | None = None
        body, _, tail = text.partition(";")
        if tail:
            name, _, value = tail.partition("=")
            if name.strip() != "current":
                raise ConfigurationError("expected ';current=N'")
            current = int(value)
        keys: dict[int, bytes] = {}
        for part in body.split(","):
            version, _, hexkey = part.strip().partition("=")
            try:
                keys[int(version)] = bytes.fromhex(hexkey)
            except ValueError as e:
                raise ConfigurationError("malformed pseudonym key list") from e
        return cls(keys, current)

    def versions(self) -> list[int]:
        return sorted(self._keys)

    def _mac(self, version: int, tag: str, context: str, subject: str) -> str:
        try:
            key = self._keys[version]
        except KeyError:
            raise UnknownPseudonymKey("pseudonym key version not available", version=version) from None
        msg = b"\x00".join((tag.encode(), context.encode(), subject.encode()))
        return hmac.digest(key, msg, "sha256").hex()  # the one-shot C HMAC: same bytes as hmac.new(...).hexdigest()

    def citizen(self, subject: str, version: int | None = None) -> str:
        """Per-log citizen pseudonym: ``cit:v<N>:<64 hex>``."""
        v = self.current if version is None else version
        return f"cit:v{v}:{self._mac(v, 'hromada/citizen', '', subject)}"

    def voter(self, ballot_id: str, subject: str, version: int | None = None) -> str:
        """Per-ballot voter pseudonym: ``vot:v<N>:<64 hex>``; unlinkable across ballots."""
        v = self.current if version is None else version
        return f"vot:v{v}:{self._mac(v, 'hromada/voter', ballot_id, subject)}"

    def child(self, child_key: str, version: int | None = None) -> str:
        """Pseudonym of a child's document number, to refuse duplicate entries: ``chd:v<N>:<64 hex>``."""
        v = self.current if version is None else version
        return f"chd:v{v}:{self._mac(v, 'hromada/child', '', child_key)}"


#: Who asks for a command: an actor (a service or the system) or a citizen's identity assertion.
Principal = Actor | CitizenIdentity


# --- scopes ------------------------------------------------------------------------------------------------
_SEGMENT_RE = re.compile(r"^(\*|[a-z0-9][a-z0-9_-]*)$")


def validate_scope(scope: str) -> str:
    """Scopes are ``:``-separated segments of ``[a-z0-9_-]`` (or ``*``)."""
    if not isinstance(scope, str) or not scope or len(scope) > 128:
        raise InvalidScope("malformed scope", scope=str(scope))
    if not all(_SEGMENT_RE.fullmatch(seg) for seg in scope.split(":")):
        raise InvalidScope("malformed scope", scope=scope)
    return scope


def scope_matches(granted: str, required: str) -> bool:
    """``*`` matches exactly one segment, except as the last granted segment, where it matches one or more.

    ``queue:kindergarten:*`` grants ``queue:kindergarten:offer``; ``*`` alone grants everything;
    ``queue:*:offer`` grants ``queue:housing:offer`` but not ``queue:housing:x:offer``."""
    g = granted.split(":")
    r = required.split(":")
    for i, seg in enumerate(g):
        last = i == len(g) - 1
        if i >= len(r):
            return False
        if seg == "*":
            if last:
                return True
            continue
        if seg != r[i]:
            return False
    return len(g) == len(r)


def has_scope(granted: Iterable[str], required: str) -> bool:
    return any(scope_matches(g, required) for g in granted)


# --- who may emit what ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Permission:
    """Actors allowed to cause an event type.

    ``system``: a system actor may. ``citizen``: a citizen may (the aggregate's rules say which one).
    ``scope``: a registered, unrevoked service holding this scope may (None: no service may).
    Each kind lists the permission of each of its event types (``domain/<context>/kind.py``); the whole table is
    ``domain.kinds.AUTHORISATION``."""

    scope: str | None = None
    citizen: bool = False
    system: bool = False
