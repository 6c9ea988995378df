"""Open data: public, paged lists of petitions, ballots and queues, petition signers (pseudonyms only), ballot
results and queue orders as JSON or CSV. No authentication; every answer carries a weak ETag (the number of log
events the read model has applied) and answers `If-None-Match` with 304.

Lists read the catalogue the projections keep (domain/catalogue.py): a page is a bisection and a slice, never a
scan. A ballot's counts appear only once it is closed (its published tally); nothing here counts votes."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel

from api.problems import ApiProblem, problem_responses
from api.routers.housing_models import ListName
from api.routers.open_data_models import (
    HOUSING_COLUMNS,
    KINDERGARTEN_COLUMNS,
    RESULT_COLUMNS,
    BallotPage,
    HousingOrder,
    HousingRow,
    KindergartenOrder,
    KindergartenRow,
    OpenBallot,
    OpenPetition,
    OpenQueue,
    PetitionPage,
    QueuePage,
    ResultRow,
    Results,
    Signer,
    SignerPage,
)
from api.state import StateDep
from domain.base import rfc3339
from domain.catalogue import Key, ballot_districts
from domain.errors import InvalidState, NotFound
from domain.housing.order import list_order
from domain.housing.rules import HOUSING_LISTS
from domain.kindergarten.order import kindergarten_orders, sort_key
from domain.kinds import BY_NAME
from domain.projections import Projections

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "open data", "description": "Public lists, signers, results and queue orders (JSON or CSV)."}
router = APIRouter(prefix="/v1/open", tags=[TAG["name"]])

MAX_LIMIT = 500
CSV_TYPE = "text/csv; charset=utf-8; header=present"
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=512, pattern="^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page"),
]
Since = Annotated[AwareDatetime | None, Query(description="Created at or after this instant")]
Before = Annotated[AwareDatetime | None, Query(description="Created before this instant")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="Overrides the `Accept` header")]
Id = Annotated[str, Query(min_length=1, max_length=64, pattern="^[A-Za-z0-9._/-]+$")]
CACHED = {"ETag": {"description": "Weak validator: the read model's log position and the representation"}}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": CACHED},
    304: {"description": "Not modified (If-None-Match)"},
    **problem_responses(422),
}
TABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": CACHED, "content": {"text/csv": {"schema": {"type": "string"}}}},
    304: {"description": "Not modified (If-None-Match)"},
    **problem_responses(404, 409, 422),
}


# -- plumbing ----------------------------------------------------------------------------------------------------
def _projections(state: StateDep) -> Projections:
    projections: Projections = state.app.projections
    return projections


def _only(request: Request, allowed: Iterable[str]) -> None:
    """Refuse a query parameter the endpoint does not know (a misspelt filter must not silently list everything)."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ApiProblem(422, "validation-error", "Validation error", f"unknown query parameters: {unknown}")


def _digest(name: str, filters: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps([name, sorted(filters.items())], default=str).encode()).hexdigest()[:16]


def encode_cursor(name: str, filters: Mapping[str, Any], key: Key) -> str:
    raw = json.dumps([_digest(name, filters), key[0], key[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, name: str, filters: Mapping[str, Any]) -> Key | None:
    """The key a cursor continues after; refused (422) if it is not one of ours or was made for other filters."""
    if cursor is None:
        return None
    try:
        digest, time, stream = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(time, str) and isinstance(stream, str)):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error):
        raise ApiProblem(422, "validation-error", "Validation error", "cursor is not one this API gave") from None
    if digest != _digest(name, filters):
        raise ApiProblem(422, "validation-error", "Validation error", "cursor was given for other filters")
    return time, stream


def _etag(projections: Projections, representation: str) -> str:
    return f'W/"{projections.position}-{representation}"'


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return etag in [t.strip() for t in given.split(",")] or given.strip() == "*"


def _answer(request: Request, etag: str, build: Callable[[], Response]) -> Response:
    headers = {"ETag": etag, "Cache-Control": "public, no-cache", "Vary": "Accept"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    response = build()
    response.headers.update(headers)
    return response


def wants_csv(request: Request, fmt: str | None) -> bool:
    """`format` wins; else the `Accept` media range of highest q between JSON and CSV (JSON on a tie or none)."""
    if fmt is not None:
        return fmt == "csv"
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        for kind in ("text/csv", "application/json"):
            if media.lower() == kind:
                best[kind] = max(best.get(kind, 0.0), q)
    return best.get("text/csv", 0.0) > best.get("application/json", 0.0)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(columns: Sequence[str], rows: Iterable[BaseModel]) -> bytes:
    """RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, quote or line break; UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        d = row.model_dump()
        writer.writerow([_cell(d[c]) for c in columns])
    return out.getvalue().encode("utf-8")


def _table(
    request: Request, fmt: str | None, body: BaseModel, columns: Sequence[str], rows: Sequence[BaseModel], position: int
) -> Response:
    csv_ = wants_csv(request, fmt)
    etag = f'W/"{position}-{"csv" if csv_ else "json"}"'
    if csv_:
        return _answer(request, etag, lambda: Response(to_csv(columns, rows), media_type=CSV_TYPE))
    return _answer(request, etag, lambda: JSONResponse(body.model_dump(mode="json")))


def _time(at: AwareDatetime | None) -> str | None:
    return None if at is None else rfc3339(at)


def _stream(projections: Projections, kind_name: str, stream: UUID) -> dict[str, Any]:
    s = str(stream)
    if projections.kinds.get(s) != BY_NAME[kind_name].prefix:
        raise NotFound(f"no such {kind_name} stream", stream=s)
    return projections.streams[s]


# -- lists -------------------------------------------------------------------------------------------------------
def _petition(projections: Projections, pid: str, s: Mapping[str, Any]) -> OpenPetition:
    return OpenPetition(
        id=UUID(pid),
        title=s["title"],
        status=s["status"],
        signatures=projections.signature_count(pid),
        threshold=s["rules"]["threshold"],
        threshold_reached=s["threshold_reached"],
        created_at=s["created_at"],
        published_at=s.get("published_at"),
        deadline=s.get("deadline"),
        response_due=s.get("due_date"),
        responded=s["responded"],
        closed_at=s.get("closed_at"),
        rule_set=s.get("rule_set"),
    )


def _ballot(bid: str, s: Mapping[str, Any]) -> OpenBallot:
    closed = s["status"] == "closed"
    tally = s.get("tally") if closed else None  # never a count before the close
    return OpenBallot(
        id=UUID(bid),
        title=s["title"],
        kind=s["kind"],
        status=s["status"],
        districts=list(ballot_districts(s)),
        opens_at=s["opens_at"],
        closes_at=s["closes_at"],
        opened_at=s["opened_at"],
        closed_at=s.get("closed_at"),
        voters=tally.get("voters") if tally else None,
        counts=tally.get("counts") if tally else None,
        rule_set=s.get("rule_set"),
    )


def _queue(projections: Projections, qid: str, key: Key) -> OpenQueue:
    s = projections.streams[qid]
    kindergarten = projections.kinds[qid] == BY_NAME["kindergarten"].prefix
    return OpenQueue(
        id=UUID(qid),
        kind="kindergarten" if kindergarten else "housing",
        name=s["name"],
        created_at=key[0],
        registrations=s["registrations"],
        institutions=list(s["institutions"]) if kindergarten else None,
        rule_set=s.get("rule_set"),
    )


def _list(
    request: Request,
    state: StateDep,
    name: str,
    filters: dict[str, str | None],
    since: AwareDatetime | None,
    before: AwareDatetime | None,
    cursor: str | None,
    limit: int,
    item: Callable[[Projections, str, Key], BaseModel],
    page_model: type[BaseModel],
) -> Response:
    given = {k: v for k, v in filters.items() if v is not None}
    start, end = _time(since), _time(before)
    scope = {**given, "since": start, "before": end}
    after = decode_cursor(cursor, name, scope)
    projections = _projections(state)
    with projections._lock:  # the projections are fed by concurrent writers
        etag = _etag(projections, "json")
        page = projections.catalogue.page(name, given, after=after, start=start, end=end, limit=limit)
        items = [item(projections, key[1], key) for key in page.streams]
    nxt = None if page.more is None else encode_cursor(name, scope, page.more)
    body = page_model(items=items, next_cursor=nxt, limit=limit)
    return _answer(request, etag, lambda: JSONResponse(body.model_dump(mode="json")))


@router.get(
    "/petitions",
    response_model=PetitionPage,
    summary="Petitions in creation order, paged",
    responses=LIST_RESPONSES,
)
def petitions(
    request: Request,
    state: StateDep,
    status: Annotated[Literal["pending", "published", "rejected", "closed"] | None, Query()] = None,
    created_since: Since = None,
    created_before: Before = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    _only(request, ("status", "created_since", "created_before", "cursor", "limit"))
    return _list(
        request,
        state,
        "petitions",
        {"status": status},
        created_since,
        created_before,
        cursor,
        limit,
        lambda p, sid, _: _petition(p, sid, p.streams[sid]),
        PetitionPage,
    )


@router.get(
    "/ballots",
    response_model=BallotPage,
    summary="Ballots in opening order, paged; counts only once closed",
    responses=LIST_RESPONSES,
)
def ballots(
    request: Request,
    state: StateDep,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    kind: Annotated[Literal["poll", "local_vote", "participatory_budget"] | None, Query()] = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    created_since: Since = None,
    created_before: Before = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    _only(request, ("status", "kind", "district", "created_since", "created_before", "cursor", "limit"))
    return _list(
        request,
        state,
        "ballots",
        {"status": status, "kind": kind, "district": district},
        created_since,
        created_before,
        cursor,
        limit,
        lambda p, sid, _: _ballot(sid, p.streams[sid]),
        BallotPage,
    )


@router.get(
    "/queues",
    response_model=QueuePage,
    summary="Kindergarten queues and housing registers in creation order, paged",
    responses=LIST_RESPONSES,
)
def queues(
    request: Request,
    state: StateDep,
    kind: Annotated[Literal["kindergarten", "housing"] | None, Query()] = None,
    institution: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    created_since: Since = None,
    created_before: Before = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    _only(request, ("kind", "institution", "created_since", "created_before", "cursor", "limit"))
    return _list(
        request,
        state,
        "queues",
        {"kind": kind, "institution": institution},
        created_since,
        created_before,
        cursor,
        limit,
        lambda p, sid, key: _queue(p, sid, key),
        QueuePage,
    )


@router.get(
    "/petitions/{petition_id}/signers",
    response_model=SignerPage,
    summary="A petition's signers: pseudonyms and times in signing order, paged (never identities)",
    responses={**LIST_RESPONSES, **problem_responses(404, 422)},
)
def signers(
    request: Request, petition_id: UUID, state: StateDep, cursor: Cursor = None, limit: Limit = 100
) -> Response:
    _only(request, ("cursor", "limit"))
    name = f"signers/{petition_id}"
    after = decode_cursor(cursor, name, {})
    projections = _projections(state)
    with projections._lock:
        _stream(projections, "petitions", petition_id)
        etag = _etag(projections, "json")
        page = projections.catalogue.signer_page(str(petition_id), after=after, limit=limit)
    nxt = None if page.more is None else encode_cursor(name, {}, page.more)
    body = SignerPage(
        petition=petition_id,
        items=[Signer(signer=signer, signed_at=at) for at, signer in page.streams],
        next_cursor=nxt,
        limit=limit,
    )
    return _answer(request, etag, lambda: JSONResponse(body.model_dump(mode="json")))


# -- tables (JSON or CSV) ----------------------------------------------------------------------------------------
def result_rows(ballot: Mapping[str, Any]) -> list[ResultRow]:
    """One row per option in the ballot's option order, from the tally its ``ballot.closed`` published."""
    tally = ballot["tally"]
    counts = tally.get("counts") or {}
    funded_by_district = tally.get("funded")
    funded = {o for chosen in (funded_by_district or {}).values() for o in chosen}
    return [
        ResultRow(
            option=o["id"],
            title=o["title"],
            district=o.get("district"),
            cost=o.get("cost"),
            votes=counts.get(o["id"], 0),
            funded=None if funded_by_district is None else o["id"] in funded,
        )
        for o in ballot["options"]
    ]


@router.get(
    "/ballots/{ballot_id}/results",
    response_model=Results,
    summary="A closed ballot's published results (JSON, or CSV by Accept or format=csv)",
    responses=TABLE_RESPONSES,
)
def results(request: Request, ballot_id: UUID, state: StateDep, format: Format = None) -> Response:
    _only(request, ("format",))
    projections = _projections(state)
    with projections._lock:
        s = _stream(projections, "ballots", ballot_id)
        if s["status"] != "closed" or s.get("tally") is None:
            raise InvalidState("results are published when the ballot closes", ballot=str(ballot_id))
        rows = result_rows(s)
        body = Results(
            ballot=ballot_id,
            title=s["title"],
            kind=s["kind"],
            closed_at=s["closed_at"],
            voters=s["tally"]["voters"],
            rule_set=s.get("rule_set"),
            rows=rows,
        )
        position = projections.position
    return _table(request, format, body, RESULT_COLUMNS, rows, position)


@router.get(
    "/kindergarten/{queue_id}/order",
    response_model=KindergartenOrder,
    summary="A kindergarten queue's order, every group or one (JSON, or CSV by Accept or format=csv)",
    responses=TABLE_RESPONSES,
)
def kindergarten_order(
    request: Request,
    queue_id: UUID,
    state: StateDep,
    institution: Id | None = None,
    birth_year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    format: Format = None,
) -> Response:
    _only(request, ("institution", "birth_year", "format"))
    projections = _projections(state)
    with projections._lock:
        s = _stream(projections, "kindergarten", queue_id)
        rows = []
        for group, ids in kindergarten_orders(s).items():  # one pass and a sort per group, not a scan per group
            inst, year = group.rsplit("/", 1)
            if (institution is not None and inst != institution) or (
                birth_year is not None and int(year) != birth_year
            ):
                continue
            for pos, eid in enumerate(ids, start=1):
                rank, registered_at, _ = sort_key(s, eid)
                rows.append(
                    KindergartenRow(
                        institution=inst,
                        birth_year=int(year),
                        position=pos,
                        entry=eid,
                        benefit_rank=rank,
                        registered_at=registered_at,
                        offer_pending=s["entries"][eid]["offer"] is not None,
                    )
                )
        position = projections.position
    body = KindergartenOrder(queue=queue_id, rule_set=s.get("rule_set"), rows=rows)
    return _table(request, format, body, KINDERGARTEN_COLUMNS, rows, position)


@router.get(
    "/housing/{register_id}/order",
    response_model=HousingOrder,
    summary="A housing register's lists in order, every list or one (JSON, or CSV by Accept or format=csv)",
    responses=TABLE_RESPONSES,
)
def housing_order(
    request: Request,
    register_id: UUID,
    state: StateDep,
    list: Annotated[ListName | None, Query()] = None,
    format: Format = None,
) -> Response:
    _only(request, ("list", "format"))
    projections = _projections(state)
    with projections._lock:
        s = _stream(projections, "housing", register_id)
        rows = []
        for name in HOUSING_LISTS:
            if list is not None and name != list:
                continue
            for pos, eid in enumerate(list_order(s, name), start=1):
                e = s["entries"][eid]
                included = None if name == "general" else e["lists"][name]["included_at"]
                rows.append(
                    HousingRow(
                        list=name, position=pos, entry=eid, registered_at=e["registered_at"], included_at=included
                    )
                )
        position = projections.position
    body = HousingOrder(housing_register=register_id, rule_set=s.get("rule_set"), rows=rows)
    return _table(request, format, body, HOUSING_COLUMNS, rows, position)
