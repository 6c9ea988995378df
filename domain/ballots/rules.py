"""Ballot rules: the specification frozen into ``ballot.opened`` (options, method, window, eligibility), the ballot
defaults a ``ballot`` rule set publishes (its kind and who may vote), and the tally every ``ballot.closed`` carries
(docs/domain.md "Ballots"). The shipped example rule set is ``statutes/budget-example.json``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain import checks
from domain.base import rfc3339
from domain.errors import InvalidInput
from domain.statutes import read_statutes

BALLOT_KINDS = ("poll", "local_vote", "participatory_budget")
METHODS = ("single", "approval", "budget")
_OPTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_OPTIONS = 500


#: Costs and budgets stay exact in every JSON reader (IEEE doubles).
MAX_AMOUNT = 2**53 - 1


def _positive_int(value: Any, field: str, top: int = MAX_AMOUNT) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top:
        raise InvalidInput(f"{field} must be an integer from 1 to {top}", field=field)
    return value


#: A window within these years: their instants compare as strings (4-digit years), and converting them to UTC
#: cannot overflow datetime (year 1 at +05:00 did: a 500).
FIRST_YEAR, LAST_YEAR = 2000, 2200


def _instant(at: Any, field: str) -> str:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise checks.refuse(field, "must be a timezone-aware datetime")
    try:
        utc = at.astimezone(UTC)
    except OverflowError as e:
        raise checks.refuse(field, f"must be an instant of {FIRST_YEAR}-{LAST_YEAR}") from e
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise checks.refuse(field, f"must be an instant of {FIRST_YEAR}-{LAST_YEAR}", found=utc.year)
    return rfc3339(utc)


def validate_ballot(
    *,
    title: str,
    kind: str,
    options: Iterable[Mapping[str, Any]],
    method: Mapping[str, Any],
    opens_at: datetime,
    closes_at: datetime,
    eligibility: Mapping[str, Any],
) -> dict[str, Any]:
    """Validate and normalise a ballot specification into the ``ballot.opened`` data (minus key)."""
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        raise InvalidInput("title must be 1-300 characters", field="title")
    if kind not in BALLOT_KINDS:
        raise InvalidInput("unknown ballot kind", expected=list(BALLOT_KINDS), found=str(kind))
    mtype = method.get("type") if isinstance(method, Mapping) else None
    if mtype not in METHODS:
        raise InvalidInput("unknown voting method", expected=list(METHODS), found=str(mtype))
    opts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(options):
        if not isinstance(raw, Mapping):
            raise checks.refuse(f"options[{i}]", "must be an object")
        oid = raw.get("id")
        if not isinstance(oid, str) or not _OPTION_ID.fullmatch(oid):
            raise InvalidInput("malformed option id", option=str(oid))
        if oid in seen:
            raise InvalidInput("duplicate option id", option=oid)
        seen.add(oid)
        otitle = raw.get("title")
        if not isinstance(otitle, str) or not otitle.strip() or len(otitle) > 300:
            raise InvalidInput("option title must be 1-300 characters", option=oid)
        opt: dict[str, Any] = {"id": oid, "title": otitle.strip()}
        if mtype == "budget":
            opt["cost"] = _positive_int(raw.get("cost"), f"options.{oid}.cost")
            district = raw.get("district")
            if not isinstance(district, str) or not 1 <= len(district) <= 64:
                raise InvalidInput("budget options need a district", option=oid)
            opt["district"] = district
        elif "cost" in raw or "district" in raw:
            raise InvalidInput("cost and district are only for the budget method", option=oid)
        opts.append(opt)
    if not 1 <= len(opts) <= MAX_OPTIONS or (mtype != "budget" and len(opts) < 2):
        raise InvalidInput("wrong number of options", found=len(opts))
    norm_method: dict[str, Any] = {"type": mtype}
    if mtype == "approval":
        k = _positive_int(method.get("max_choices"), "method.max_choices")
        if k > len(opts):
            raise InvalidInput("max_choices exceeds the number of options", max_choices=k, options=len(opts))
        norm_method["max_choices"] = k
    elif mtype == "budget":
        budgets = method.get("budgets")
        if not isinstance(budgets, Mapping) or not budgets:
            raise InvalidInput("budget method needs budgets per district")
        norm_method["budgets"] = {str(d): _positive_int(v, f"budgets.{d}") for d, v in sorted(budgets.items())}
        for opt in opts:
            if opt["district"] not in norm_method["budgets"]:
                raise InvalidInput("option's district has no budget", option=opt["id"], district=opt["district"])
    o, c = _instant(opens_at, "opens_at"), _instant(closes_at, "closes_at")
    if not o < c:
        raise InvalidInput("opens_at must be before closes_at", opens_at=o, closes_at=c)
    methods = eligibility.get("identity_methods")
    if not isinstance(methods, list | tuple) or not methods or not all(isinstance(m, str) for m in methods):
        raise InvalidInput("eligibility.identity_methods must be a non-empty list")
    for i, m in enumerate(checks.array(methods, "eligibility.identity_methods", 20, min_items=1)):
        checks.code(m, f"eligibility.identity_methods[{i}]")
    min_age = eligibility.get("min_age")
    if min_age is not None:
        _positive_int(min_age, "eligibility.min_age", 150)
    districts = eligibility.get("districts")
    if districts is not None:
        if not isinstance(districts, list | tuple) or not districts or not all(isinstance(d, str) for d in districts):
            raise InvalidInput("eligibility.districts must be a non-empty list or null")
        for i, d in enumerate(checks.array(districts, "eligibility.districts", MAX_OPTIONS, min_items=1)):
            checks.text(d, f"eligibility.districts[{i}]", 64)
        districts = sorted(set(districts))
    if mtype == "budget":
        districts = sorted(set(districts or norm_method["budgets"]))
        if not set(districts) <= set(norm_method["budgets"]):
            raise InvalidInput("an eligible district has no budget")
    return {
        "title": title.strip(),
        "kind": kind,
        "options": opts,
        "method": norm_method,
        "opens_at": o,
        "closes_at": c,
        "eligibility": {"identity_methods": sorted(set(methods)), "min_age": min_age, "districts": districts},
    }


#: The fields of a ballot rule set, each the field of ``ballot.opened`` it fixes: the ballot's ``kind`` and, of its
#: ``eligibility``, who may vote (``identity_methods``, ``min_age``; the districts are the ballot's own).
BALLOT_RULE_FIELDS = ("kind", "eligibility")
BALLOT_RULE_ELIGIBILITY = ("identity_methods", "min_age")
STATUTES_DIR = Path(__file__).with_name("statutes")


def validate_ballot_rules(rules: Any) -> dict[str, Any]:
    """A ``ballot`` rule set's rules as a ballot freezes them (``kind``; ``eligibility.identity_methods`` sorted,
    ``eligibility.min_age`` or null), or InvalidInput naming the field (``rules.<field>``)."""
    r = checks.mapping(rules, "rules", BALLOT_RULE_FIELDS, BALLOT_RULE_FIELDS)
    if r["kind"] not in BALLOT_KINDS:
        raise checks.refuse("rules.kind", f"must be one of {list(BALLOT_KINDS)}", found=str(r["kind"])[:100])
    e = checks.mapping(r["eligibility"], "rules.eligibility", BALLOT_RULE_ELIGIBILITY, ("identity_methods",))
    methods = checks.array(e["identity_methods"], "rules.eligibility.identity_methods", 20, min_items=1)
    for i, m in enumerate(methods):
        checks.code(m, f"rules.eligibility.identity_methods[{i}]")
    min_age = e.get("min_age")
    if min_age is not None:
        checks.integer(min_age, "rules.eligibility.min_age", 1, 150)
    return {"kind": r["kind"], "eligibility": {"identity_methods": sorted(set(methods)), "min_age": min_age}}


#: Name -> the shipped example ballot rule set (``statutes/``), as ``hromada rules publish`` publishes it.
STATUTES: dict[str, dict[str, Any]] = read_statutes(STATUTES_DIR)


def compute_tally(ballot: Mapping[str, Any], votes: Iterable[list[str]]) -> dict[str, Any]:
    """Tally of the counted votes (each a selection of option ids).

    ``counts[o]`` = number of counted votes whose selection contains ``o``; ``voters`` = number of counted
    votes. Budget method: per district, options sorted by (count descending, position in ``options``) are
    funded greedily while their cost fits the remaining district budget; options with 0 votes are never
    funded; an option that does not fit is skipped and the next is tried."""
    order = [o["id"] for o in ballot["options"]]
    counts = dict.fromkeys(order, 0)
    voters = 0
    for selection in votes:
        voters += 1
        for oid in selection:
            counts[oid] += 1
    return tally_of_counts(ballot, voters, counts)


def tally_of_counts(ballot: Mapping[str, Any], voters: int, counts: dict[str, int]) -> dict[str, Any]:
    """The tally from the counts (an encrypted ballot's come from the decryption): ``funded`` as above."""
    order = [o["id"] for o in ballot["options"]]
    tally: dict[str, Any] = {"voters": voters, "counts": counts, "funded": None}
    if ballot["method"]["type"] == "budget":
        index = {oid: i for i, oid in enumerate(order)}
        funded: dict[str, list[str]] = {}
        for district, budget in ballot["method"]["budgets"].items():
            remaining = budget
            chosen: list[str] = []
            candidates = [o for o in ballot["options"] if o["district"] == district and counts[o["id"]] > 0]
            candidates.sort(key=lambda o: (-counts[o["id"]], index[o["id"]]))
            for o in candidates:
                if o["cost"] <= remaining:
                    chosen.append(o["id"])
                    remaining -= o["cost"]
            funded[district] = chosen
        tally["funded"] = funded
    return tally
