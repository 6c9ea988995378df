"""Ballots: services open and close; citizens vote (and revote: only the last vote counts) and find their own
vote by its tracker (the leaf hash of the vote event)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api import capture
from api.auth.deps import Citizen, service_scope
from api.auth.principals import CitizenPrincipal, ServicePrincipal
from api.models import EventRef
from api.problems import ApiProblem, problem_responses
from api.routers.ballots_models import (
    Ballot,
    BallotClosed,
    BallotOpened,
    Eligibility,
    MyVote,
    OpenBallot,
    Vote,
    VoteRecorded,
    tally_of,
)
from api.state import ApiState, StateDep
from api.writes import Write, perform
from domain.ballots.aggregate import vote_stream
from domain.errors import NotFound

#: its OpenAPI tag (api/app.py lists the routers)
TAG = {"name": "ballots", "description": "Polls, local votes and participatory budgets."}
router = APIRouter(prefix="/v1/ballots", tags=[TAG["name"]])

Opener = Annotated[ServicePrincipal, Depends(service_scope("ballot:open"))]
Closer = Annotated[ServicePrincipal, Depends(service_scope("ballot:close"))]
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422, 429)
Tracker = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="hex leaf hash of the vote event")]


def _eligibility(body: OpenBallot) -> dict[str, Any] | None:
    """Who may vote, as the domain takes it: with a rule set only what the caller wrote (its districts; the rule set
    gives the rest), else the whole object with its defaults."""
    if body.rule_set is not None:
        return None if body.eligibility is None else body.eligibility.model_dump(exclude_unset=True)
    return (body.eligibility or Eligibility()).model_dump()


@router.post(
    "",
    status_code=201,
    response_model=BallotOpened,
    summary="Open a ballot (service: ballot:open)",
    responses=WRITE_ERRORS,
)
def open_ballot(body: OpenBallot, service: Opener, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.open_ballot(
            by=service.actor,
            title=body.title,
            kind=body.kind if body.rule_set is not None else body.kind or "poll",
            options=[o.model_dump(exclude_none=True) for o in body.options],
            method=body.method.model_dump(exclude_none=True),
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            eligibility=_eligibility(body),
            at=at,
            secrecy=body.secrecy,
            trustees=body.trustees,
            threshold=body.threshold,
            rule_set=body.rule_set,
            rule_set_version=body.rule_set_version,
        ),
        lambda bid, events: BallotOpened(
            ballot_id=bid, status="open" if events[-1].type == "ballot.opened" else "ceremony", events=events
        ),
    )


@router.post(
    "/{ballot_id}/votes",
    status_code=201,
    response_model=VoteRecorded,
    summary="Vote or revote (citizen); answers with your tracker",
    responses=WRITE_ERRORS,
)
def vote(ballot_id: UUID, body: Vote, citizen: Citizen, state: StateDep, write: Write) -> Response:
    return cast_vote(state, citizen, ballot_id, body, write.key, write.digest(body))


def cast_vote(
    state: ApiState, citizen: CitizenPrincipal, ballot_id: UUID, body: Vote, idempotency_key: str | None, digest: bytes
) -> Response:
    """A vote by a verified citizen. The route above calls it, and so does the writer's command server for a
    vote a front process verified (api/serving/commands.py): one code path either way."""

    def answer(event: Any, events: list[EventRef]) -> VoteRecorded:
        tracker = capture.describe(state.app, event)["leaf_hash"]
        return VoteRecorded(ballot_id=ballot_id, tracker=tracker, revote=event.originator_version > 1, events=events)

    return perform(
        state,
        citizen,
        idempotency_key,
        digest,
        lambda app, at: app.cast_vote(by=citizen.identity, ballot_id=ballot_id, selection=list(body.selection), at=at),
        answer,
        201,
    )


@router.post(
    "/{ballot_id}/close",
    status_code=200,
    response_model=BallotClosed,
    summary="Close and publish the tally (service: ballot:close)",
    responses=WRITE_ERRORS,
)
def close(ballot_id: UUID, service: Closer, write: Write) -> Response:
    return write(
        service,
        None,
        lambda app, at: app.close_ballot(by=service.actor, ballot_id=ballot_id, at=at),
        lambda tally, events: BallotClosed(tally=tally_of(tally), events=events),
    )


@router.get(
    "/{ballot_id}", response_model=Ballot, summary="A ballot; its tally once closed", responses=problem_responses(404)
)
def read(ballot_id: UUID, state: StateDep) -> Ballot:
    app = state.app
    try:
        s = app.get_ballot(ballot_id).state
    except NotFound:
        c = app.get_ceremony(ballot_id).state  # an encrypted ballot whose key ceremony runs (NotFound otherwise)
        return Ballot(
            id=ballot_id, title=c["title"], status="ceremony", opened_at=None, secrecy="encrypted",
            trustees=c["trustees"], threshold=c["threshold"], public_key=None, manifest_hash=None, opened=None,
            rule_set=c.get("rule_set"),
            **{k: c["spec"][k] for k in ("kind", "options", "method", "opens_at", "closes_at", "eligibility")},
        )  # fmt: skip
    tally = s.get("tally")
    if tally is not None and s.get("decrypted_by") is not None:
        tally = {**tally, "decrypted_by": s["decrypted_by"]}
    return Ballot(
        secrecy=s["secrecy"],
        trustees=s["trustees"],
        threshold=s["threshold"],
        public_key=s["public_key"],
        manifest_hash=s["manifest_hash"],
        opened=s["opened"],
        aggregate=s.get("aggregate"),
        id=ballot_id,
        title=s["title"],
        kind=s["kind"],
        status=s["status"],
        options=s["options"],
        method=s["method"],
        opens_at=s["opens_at"],
        closes_at=s["closes_at"],
        eligibility=s["eligibility"],
        rule_set=s.get("rule_set"),
        opened_at=s["opened_at"],
        closed_at=s.get("closed_at"),
        tally=tally_of(tally) if tally else None,
    )


def _my_votes(state: StateDep, ballot_id: UUID, citizen: Citizen) -> list[MyVote]:
    app = state.app
    ballot = app.get_ballot(ballot_id)
    voter = app.voter_pseudonym(ballot, citizen.identity.subject)
    try:
        events = list(app.events.get(vote_stream(ballot_id, voter)))
    except AggregateNotFoundError:  # pragma: no cover - events.get yields nothing instead
        events = []
    out = []
    for e in events:
        d = capture.describe(app, e)
        out.append(
            MyVote(
                ballot_id=ballot_id,
                selection=list(e.selection),
                district=e.district,
                cast_at=d_time(e),
                version=d["version"],
                tracker=d["leaf_hash"],
                event_id=d["id"],
                counted=e is events[-1],
            )
        )
    return out


def d_time(event: Any) -> str:
    from domain.base import event_time

    return event_time(event)


@router.get(
    "/{ballot_id}/my-vote",
    response_model=MyVote,
    summary="Your last vote (citizen)",
    responses=problem_responses(401, 403, 404),
)
def my_vote(ballot_id: UUID, citizen: Citizen, state: StateDep) -> MyVote:
    votes = _my_votes(state, ballot_id, citizen)
    if not votes:
        raise ApiProblem(404, "not-found", "Not found", "you have not voted in this ballot")
    return votes[-1]


@router.get(
    "/{ballot_id}/votes/{tracker}",
    response_model=MyVote,
    summary="Your vote with this tracker (citizen); says whether it is the one that counts",
    responses=problem_responses(401, 403, 404),
)
def vote_by_tracker(ballot_id: UUID, tracker: Tracker, citizen: Citizen, state: StateDep) -> MyVote:
    for v in _my_votes(state, ballot_id, citizen):
        if v.tracker == tracker:
            return v
    raise ApiProblem(404, "not-found", "Not found", "none of your votes in this ballot has this tracker")
