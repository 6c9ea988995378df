"""The verifier's registry of kinds: one row per aggregate kind (docs/domain.md), read by everything in the verifier
that needs the list of kinds.

A row says, for one kind: its name (as docs/domain.md and ``domain/kinds.py`` say it), the prefix of its event types
(``petition`` for ``petition.signed``) and the prefixes they had in older envelope formats, its part of
``state.json``, its rules (a class of ``verifier/rules/<kind>.py``), every event type with its ``data`` fields and who
may cause it, which process replays it, and the counter its rules report in step 4's stats.

What reads it: the rule replay (:mod:`verifier.rules.replay`: dispatch and field checks), the state comparison and
the rule worker (:mod:`verifier.rules.steps`, :mod:`verifier.ruleworker`: state parts, the worker's share), step 5
(:mod:`verifier.rules.services`: the authorisation table is :data:`AUTHORISATION`), and step 1
(:mod:`verifier.envelope`: which prefix each envelope format may use, :data:`PREFIX_FORMAT`).

**Rules see one name.** Envelope format 1 wrote the kindergarten queue's events as ``queue.<x>``; format 2 writes
``kindergarten.<x>`` (same suffixes). Step 1 checks the bytes, the hash and the format as logged, and refuses a
format-2 envelope with a ``queue.*`` type or a format-1 envelope with a ``kindergarten.*`` type
(``type_prefix_format``); the rule steps then see the canonical type (:func:`canonical_type`), while findings name the
type as logged.

Adding a kind: its rule module ``verifier/rules/<kind>.py`` and one row in :data:`KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from verifier.rules.model import Event, Permission

__all__ = [
    "AUTHORISATION",
    "BY_NAME",
    "BY_PREFIX",
    "DATA_FIELDS",
    "KINDS",
    "LEGACY_FORMAT",
    "PREFIXES",
    "PREFIX_FORMAT",
    "RULE_WORKER_PREFIXES",
    "RULE_WORKER_SHARED",
    "STATE_PART",
    "EventRow",
    "Kind",
    "KindRules",
    "canonical_type",
    "rules_class",
]

#: The envelope format whose event types use the legacy prefixes (format 2 uses the current ones).
LEGACY_FORMAT = 1


class KindRules(Protocol):
    """What the replay needs of a kind's rules: :meth:`handle` each of its events, in log order."""

    def handle(self, ev: Event) -> None: ...


def rules_class(name: str) -> Any:
    """``"verifier.rules.petitions:PetitionRules"`` -> the class (imported when the replay starts: step 1, which reads
    this registry too, needs none of the rules)."""
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class EventRow:
    """One event type of a kind: its ``data`` fields (exactly these, no more, no fewer) and who may cause it."""

    fields: frozenset[str]
    permission: Permission
    #: Other exact field sets the type may have (``ballot.opened`` of a legacy open ballot; ``ballot.closed`` of an
    #: encrypted one, with ``decrypted_by``).
    alternatives: tuple[frozenset[str], ...] = ()


def _events(
    rows: Mapping[str, tuple[str, Permission] | tuple[str, Permission, tuple[str, ...]]],
) -> dict[str, EventRow]:
    """``suffix -> ("field field ...", permission[, ("other field set", ...)])`` as :class:`EventRow` s."""
    out = {}
    for suffix, (fields, perm, *rest) in rows.items():
        others = tuple(frozenset(f.split()) for f in (rest[0] if rest else ()))
        out[suffix] = EventRow(frozenset(fields.split()), perm, others)
    return out


@dataclass(frozen=True)
class Kind:
    """One row of the registry."""

    #: As docs/domain.md and the domain's registry name it (``kindergarten``).
    name: str
    #: The prefix of its event types in the current envelope format (``kindergarten`` for
    #: ``kindergarten.offer_issued``).
    prefix: str
    #: Suffix (``offer_issued``) -> its data fields and permission.
    events: Mapping[str, EventRow]
    #: Its rules: ``"<module>:<class>"`` of ``verifier/rules/<kind>.py``, built by the replay as
    #: ``cls(report, scratch)``, or ``cls(report, scratch, documents)`` when the kind ``cites_documents`` (the kinds
    #: whose events cite documents share the one :class:`~verifier.rules.documents.DocumentCitations`).
    rules: str
    #: Step 4's counter of this kind: (stats key, how many aggregates its rules replayed).
    count: tuple[str, Callable[[Any], int]]
    #: Its part of ``state.json`` (None: it publishes none); its rules then have ``state_items()``.
    state_part: str | None = None
    #: The prefixes its event types had in envelope format :data:`LEGACY_FORMAT` (read, never current).
    legacy_prefixes: tuple[str, ...] = ()
    #: Which process replays it with ``--workers 0`` on a large log: ``main`` (beside steps 1-3 and 5) or the rule
    #: ``worker`` (:mod:`verifier.ruleworker`), chosen so both have about as much to do. Kinds that share rule state
    #: (the document citations of the kindergarten queue and the housing register) must be on one side. ``both``:
    #: a kind that kinds of both processes read (the rule sets): both replay it, only the main process reports its
    #: findings and counts it (the worker's copy is quiet: it only answers the worker's kinds).
    process: Literal["main", "worker", "both"] = "main"
    #: Its rules cite documents (:class:`~verifier.rules.documents.DocumentCitations`, shared by such kinds).
    cites_documents: bool = False
    #: The kinds whose rules its rules ask (replayed in the same process, or in both): the replay hands it each
    #: one's rules, ``rules.read(name, their_rules)`` (petitions, queues and ballots ask the rule sets whether the
    #: rule set they name was published).
    reads: tuple[str, ...] = ()

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The current prefix, then the legacy ones."""
        return (self.prefix, *self.legacy_prefixes)

    @property
    def event_types(self) -> tuple[str, ...]:
        """Its canonical event types (current prefix)."""
        return tuple(f"{self.prefix}.{suffix}" for suffix in self.events)


_P = Permission

SERVICES = Kind(
    name="services",
    prefix="service",
    events=_events(
        {
            "registered": ("service name scopes", _P("service:admin", None, True)),
            "scopes_changed": ("service scopes", _P("service:admin", None, True)),
            "revoked": ("service reason", _P("service:admin", None, True)),
        }
    ),
    rules="verifier.rules.services:ServiceRules",
    count=("services", lambda r: len(r.services)),
)

PETITIONS = Kind(
    name="petitions",
    prefix="petition",
    events=_events(
        {
            "created": (
                "title text rules pseudonym_key author rule_set",
                _P(None, "author"),
                ("title text rules pseudonym_key author",),  # rules written inline (a city without rule sets)
            ),
            "published": ("deadline", _P("petition:moderate", None)),
            "rejected": ("reason", _P("petition:moderate", None)),
            "signed": ("petition signer identity_method", _P(None, "signer")),
            # caused by the rules themselves: {"kind": "system", "id": "rules"}
            "threshold_reached": ("count signature due_date", _P(None, None, True, "rules")),
            "responded": ("response due_date on_time", _P("petition:respond", None)),
            # appended by the clock when the response period ran out: {"kind": "system", "id": "clock"}
            "response_overdue": ("due_date response_working_days", _P(None, None, True, "clock")),
            "closed": ("reason signatures", _P("petition:close", None, True)),
        }
    ),
    rules="verifier.rules.petitions:PetitionRules",
    count=("petitions", lambda r: len(r.petitions)),
    state_part="petitions",
    reads=("rulesets",),
)

RULESETS = Kind(
    name="rulesets",
    prefix="ruleset",
    events=_events({"published": ("ruleset version applies_to rules source", _P("rules:admin", None))}),
    rules="verifier.rules.rulesets:RuleSetRules",
    count=("rule_sets", lambda r: len(r.published)),
    process="both",  # the worker's queues and ballots name rule sets too
)

BALLOTS = Kind(
    name="ballots",
    prefix="ballot",
    events=_events(
        {
            # encrypted ballots (docs/voting.md, the contract of issue #13)
            "ceremony_started": (
                "ballot title spec trustees threshold rule_set",
                _P("ballot:open", None),
                ("ballot title spec trustees threshold",),  # its kind and eligibility written inline
            ),
            "trustee_joined": ("ballot trustee encryption_key proof", _P("ballot:trustee", None)),
            "trustee_committed": ("ballot trustee commitments proof shares", _P("ballot:trustee", None)),
            "trustee_verified": ("ballot trustee", _P("ballot:trustee", None)),
            "trustee_complained": ("ballot trustee about reason", _P("ballot:trustee", None)),
            "opened": (
                "title kind options method opens_at closes_at eligibility pseudonym_key"
                " secrecy trustees threshold public_key manifest_hash rule_set",
                _P("ballot:open", None),
                (
                    # its kind and eligibility written inline (a city without ballot rule sets)
                    "title kind options method opens_at closes_at eligibility pseudonym_key"
                    " secrecy trustees threshold public_key manifest_hash",
                    "title kind options method opens_at closes_at eligibility pseudonym_key",  # legacy open ballots
                ),
            ),
            "vote_cast": ("ballot voter selection district identity_method", _P(None, "voter")),
            "vote_changed": ("ballot voter selection district identity_method", _P(None, "voter")),
            "ballot_cast": ("ballot voter district identity_method ciphertexts proofs tracker", _P(None, "voter")),
            "ballot_recast": ("ballot voter district identity_method ciphertexts proofs tracker", _P(None, "voter")),
            "voting_ended": ("voters aggregate", _P("ballot:close", None, True, "clock")),
            "decryption_shared": ("trustee shares", _P("ballot:trustee", None)),
            "closed": (
                "voters counts funded decrypted_by",  # encrypted ballots
                _P("ballot:close", None, True),
                ("voters counts funded",),  # open ballots
            ),
        }
    ),
    rules="verifier.rules.ballots:BallotRules",
    count=("ballots", lambda r: len(r.ballots)),
    state_part="ballots",
    process="worker",
    reads=("rulesets",),
)

KINDERGARTEN = Kind(
    name="kindergarten",
    prefix="kindergarten",
    legacy_prefixes=("queue",),
    events=_events(
        {
            "created": (
                "kind name institutions benefits removal_reasons acceptance_days max_preferences pseudonym_key"
                " rule_set",
                _P("queue:kindergarten:admin", None),
                # its rules written inline (a city without kindergarten rule sets)
                ("kind name institutions benefits removal_reasons acceptance_days max_preferences pseudonym_key",),
            ),
            "entry_registered": (
                "entry applicant child child_commitment birth_year institutions registered_at",
                _P("queue:kindergarten:register", "applicant"),
            ),
            "benefit_granted": ("entry code basis document_commitment", _P("queue:kindergarten:benefit", None)),
            "benefit_revoked": ("entry code reason", _P("queue:kindergarten:benefit", None)),
            "preferences_changed": ("entry institutions", _P("queue:kindergarten:register", "entry:")),
            "offer_issued": (
                "offer entry institution birth_year place expires_at",
                _P("queue:kindergarten:offer", None, True, "clock"),  # the clock passes an expired offer's place on
            ),
            "offer_accepted": ("offer entry", _P("queue:kindergarten:offer", "entry:")),
            "offer_declined": ("offer entry", _P("queue:kindergarten:offer", "entry:")),
            "offer_expired": ("offer entry", _P("queue:kindergarten:offer", None, True)),
            "entry_withdrawn": ("entry", _P("queue:kindergarten:register", "entry:")),
            "entry_removed": ("entry reason_code", _P("queue:kindergarten:remove", None)),
        }
    ),
    rules="verifier.rules.kindergarten:KindergartenRules",
    count=("kindergarten_queues", lambda r: len(r.queues)),
    state_part="kindergarten",
    process="worker",
    cites_documents=True,
    reads=("rulesets",),
)

HOUSING = Kind(
    name="housing",
    prefix="housing",
    events=_events(
        {
            "register_opened": (
                "name removal_reasons list_bases pseudonym_key rule_set",
                _P("queue:housing:admin", None),
                ("name removal_reasons list_bases pseudonym_key",),  # its tables written inline
            ),
            "entry_registered": (
                "entry applicant household_commitment registered_at",
                _P("queue:housing:register", "applicant"),
            ),
            "list_included": ("entry list code basis document_commitment", _P("queue:housing:lists", None)),
            "list_excluded": ("entry list reason", _P("queue:housing:lists", None)),
            "reregistered": ("entry year", _P("queue:housing:register", "entry:")),
            "removal_proposed": ("entry year reason_code", _P("queue:housing:remove", None, True)),
            "entry_removed": ("entry reason_code statute", _P("queue:housing:remove", None)),
            "dwelling_allocated": ("entry list dwelling", _P("queue:housing:allocate", None)),
        }
    ),
    rules="verifier.rules.housing:HousingRules",
    count=("housing_registers", lambda r: len(r.registers)),
    state_part="housing",
    process="worker",
    cites_documents=True,
    reads=("rulesets",),
)

PERSONAL_DATA = Kind(
    name="personal_data",
    prefix="personal_data",
    # the operator (system) or a service holding pii:erase records that a vault subject's data was crypto-shredded
    events=_events({"erased": ("subject reason", _P("pii:erase", None, True))}),
    rules="verifier.rules.personal_data:ErasureRules",
    count=("erasures", lambda r: len(r.erased)),
)

#: Every kind, in the order the replay reports them (step 4's stats) and publishes them (``state.json``).
KINDS: tuple[Kind, ...] = (SERVICES, RULESETS, PETITIONS, BALLOTS, KINDERGARTEN, HOUSING, PERSONAL_DATA)

BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
#: Every prefix, current or legacy, -> its kind.
BY_PREFIX: dict[str, Kind] = {p: k for k in KINDS for p in k.prefixes}
#: Every prefix, current or legacy.
PREFIXES: frozenset[str] = frozenset(BY_PREFIX)
#: The data fields of every (canonical) event type (docs/domain.md).
DATA_FIELDS: dict[str, frozenset[str]] = {f"{k.prefix}.{s}": row.fields for k in KINDS for s, row in k.events.items()}
#: docs/domain.md's table: (canonical) event type -> who may cause it.
AUTHORISATION: dict[str, Permission] = {f"{k.prefix}.{s}": row.permission for k in KINDS for s, row in k.events.items()}
#: Current prefix -> the part of ``state.json`` its kind publishes.
STATE_PART: dict[str, str] = {k.prefix: k.state_part for k in KINDS if k.state_part is not None}
#: The prefixes (current and legacy) whose replay the rule worker process does (:mod:`verifier.ruleworker`), and the
#: main process then does not.
RULE_WORKER_PREFIXES: frozenset[str] = frozenset(p for k in KINDS if k.process == "worker" for p in k.prefixes)
#: The prefixes both processes replay (``process="both"``): the rule worker gets their lines too, and its replay of
#: them is quiet (their findings and counts are the main process's).
RULE_WORKER_SHARED: frozenset[str] = frozenset(p for k in KINDS if k.process == "both" for p in k.prefixes)
#: A prefix bound to one envelope format: a legacy prefix to :data:`LEGACY_FORMAT`, the current prefix of a kind that
#: has legacy prefixes to the formats after it (here: 2). Prefixes of other kinds are valid in every format.
PREFIX_FORMAT: dict[str, int] = {
    **{p: LEGACY_FORMAT for k in KINDS for p in k.legacy_prefixes},
    **{k.prefix: LEGACY_FORMAT + 1 for k in KINDS if k.legacy_prefixes},
}

# legacy type (``queue.offer_issued``) -> canonical type (``kindergarten.offer_issued``)
_CANONICAL: dict[str, str] = {
    f"{legacy}.{s}": f"{k.prefix}.{s}" for k in KINDS for legacy in k.legacy_prefixes for s in k.events
}


def canonical_type(event_type: str) -> str:
    """The name the rules know ``event_type`` by: a legacy type's current name, any other type unchanged."""
    return _CANONICAL.get(event_type, event_type)


def _check(kinds: tuple[Kind, ...]) -> None:
    """Refuse a registry whose names, prefixes or state parts repeat, or whose document-citing kinds are split
    between the two processes (they share their citations)."""
    for what, values in (
        ("name", [k.name for k in kinds]),
        ("prefix", [p for k in kinds for p in k.prefixes]),
        ("state part", [k.state_part for k in kinds if k.state_part is not None]),
    ):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise TypeError(f"verifier registry of kinds: {what} used twice: {repeated}")
    names = {k.name: k for k in kinds}
    for k in kinds:
        for other in k.reads:
            if other not in names or names[other].process not in (k.process, "both"):
                raise TypeError(f"verifier registry of kinds: {k.name} reads {other}, which must be in its process")
    if any(k.process == "both" and (k.reads or k.state_part or k.cites_documents) for k in kinds):
        raise TypeError(
            "verifier registry of kinds: a kind replayed in both processes reads no other kind, publishes no state "
            "and cites no documents (only its rules' answers are shared)"
        )
    sides = {k.process for k in kinds if k.cites_documents}
    if len(sides) > 1:
        raise TypeError("verifier registry of kinds: the kinds that cite documents must be replayed in one process")


_check(KINDS)
