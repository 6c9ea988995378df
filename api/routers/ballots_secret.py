"""Encrypted ballots (docs/voting.md): the trustees' key ceremony, opening with the joint key, a citizen's
encrypted ballot (every proof checked before anything is written), the end of voting, the trustees' decryption
shares and a ballot's status by its tracker. Opening the ceremony and the close are in `api/routers/ballots.py`."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.auth.deps import Citizen, service_scope
from api.auth.principals import ServicePrincipal
from api.models import EventRef, Written
from api.problems import ApiProblem, problem_responses
from api.routers.ballots import TAG, WRITE_ERRORS, Closer, Opener
from api.routers.ballots_secret_models import (
    BallotCast,
    CastBallot,
    Ceremony,
    Commit,
    Complain,
    DecryptionShares,
    Join,
    TrackerStatus,
    Verify,
    VoterInfo,
    VotingEnded,
)
from api.state import StateDep
from api.writes import Write, perform
from domain.ballots.crypto.ballot import statement
from domain.errors import NotFound
from ledger.envelope import event_id

router = APIRouter(prefix="/v1/ballots", tags=[TAG["name"]])

Trustee = Annotated[ServicePrincipal, Depends(service_scope("ballot:trustee"))]
TrackerPath = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="hex tracker of an encrypted ballot")]


# -- the key ceremony -------------------------------------------------------------------------------------------
@router.get(
    "/{ballot_id}/ceremony",
    response_model=Ceremony,
    summary="An encrypted ballot's key ceremony (public)",
    responses=problem_responses(404),
)
def ceremony(ballot_id: UUID, state: StateDep) -> Ceremony:
    c = state.app.get_ceremony(ballot_id)
    s = c.state
    try:
        state.app.get_ballot(ballot_id)
        status = "opened"
    except NotFound:
        status = c.status
    return Ceremony.model_validate(
        dict(
            ballot=ballot_id,
            title=s["title"],
            threshold=s["threshold"],
            trustees=s["trustees"],
            status=status,
            joined=s["joined"],
            committed=s["committed"],
            verified=s["verified"],
            complaints=s["complaints"],
        )
    )


@router.post(
    "/{ballot_id}/ceremony/join",
    status_code=201,
    response_model=Written,
    summary="Trustee: post your encryption key and its proof (service: ballot:trustee)",
    responses=WRITE_ERRORS,
)
def join(ballot_id: UUID, body: Join, service: Trustee, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.join_ceremony(
            by=service.actor, ballot_id=ballot_id, encryption_key=body.encryption_key, proof=body.proof, at=at
        ),
    )


@router.post(
    "/{ballot_id}/ceremony/commit",
    status_code=201,
    response_model=Written,
    summary="Trustee: post your commitments, their proof and a sealed share for every other trustee",
    responses=WRITE_ERRORS,
)
def commit(ballot_id: UUID, body: Commit, service: Trustee, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.commit_ceremony(
            by=service.actor,
            ballot_id=ballot_id,
            commitments=body.commitments,
            proof=body.proof,
            shares=body.shares,
            at=at,
        ),
    )


@router.post(
    "/{ballot_id}/ceremony/verify",
    status_code=201,
    response_model=Written,
    summary="Trustee: every share sent to you checked out",
    responses=WRITE_ERRORS,
)
def verify(ballot_id: UUID, body: Verify, service: Trustee, write: Write) -> Response:
    return write(service, body, lambda app, at: app.verify_ceremony(by=service.actor, ballot_id=ballot_id, at=at))


@router.post(
    "/{ballot_id}/ceremony/complain",
    status_code=201,
    response_model=Written,
    summary="Trustee: a share sent to you is wrong (the ceremony dies)",
    responses=WRITE_ERRORS,
)
def complain(ballot_id: UUID, body: Complain, service: Trustee, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.complain_ceremony(
            by=service.actor, ballot_id=ballot_id, about=body.about, reason=body.reason, at=at
        ),
    )


@router.post(
    "/{ballot_id}/open",
    status_code=201,
    response_model=Written,
    summary="Open an encrypted ballot once every trustee verified (service: ballot:open)",
    responses=WRITE_ERRORS,
)
def open_encrypted(ballot_id: UUID, service: Opener, write: Write) -> Response:
    return write(service, None, lambda app, at: app.open_encrypted(by=service.actor, ballot_id=ballot_id, at=at))


# -- casting ----------------------------------------------------------------------------------------------------
@router.get(
    "/{ballot_id}/voter",
    response_model=VoterInfo,
    summary="Your voter pseudonym and the options your ballot covers (citizen)",
    responses=problem_responses(401, 403, 404),
)
def voter(ballot_id: UUID, citizen: Citizen, state: StateDep) -> VoterInfo:
    app = state.app
    ballot = app.get_ballot(ballot_id)
    s = ballot.state
    district = citizen.identity.district if s["eligibility"]["districts"] is not None else None
    if s["method"]["type"] == "budget" and district not in s["method"]["budgets"]:
        raise ApiProblem(403, "forbidden", "Forbidden", "your district has no part in this ballot")
    return VoterInfo(
        ballot_id=ballot_id,
        voter=app.voter_pseudonym(ballot, citizen.identity.subject),
        district=district,
        identity_method=citizen.identity.method,
        ballot_options=list(statement(s, district).options),
    )


@router.post(
    "/{ballot_id}/ballots",
    status_code=201,
    response_model=BallotCast,
    summary="Cast an encrypted ballot, or a later one (citizen): every proof is checked, the last one counts",
    responses=WRITE_ERRORS,
)
def cast(ballot_id: UUID, body: CastBallot, citizen: Citizen, state: StateDep, write: Write) -> Response:
    def answer(event: Any, events: list[EventRef]) -> BallotCast:
        return BallotCast(
            ballot_id=ballot_id, tracker=event.tracker, revote=event.originator_version > 1, events=events
        )

    return perform(
        state,
        citizen,
        write.key,
        write.digest(body),
        lambda app, at: app.cast_ballot(by=citizen.identity, ballot_id=ballot_id, body=body.model_dump(), at=at),
        answer,
        201,
    )


@router.get(
    "/{ballot_id}/trackers/{tracker}",
    response_model=TrackerStatus,
    summary="Whether the ballot with this tracker counted (no auth: the tracker is the voter's secret handle)",
    responses=problem_responses(404),
)
def tracker(ballot_id: UUID, tracker: TrackerPath, state: StateDep) -> TrackerStatus:
    found = state.app.projections.tracker(tracker)
    if found is None or found[0] != str(ballot_id):
        raise ApiProblem(404, "not-found", "Not found", "no ballot with this tracker")
    _, _, version, stream, last = found
    status = state.app.get_ballot(ballot_id).status
    verdict = "cast" if status == "open" else "counted" if last else "superseded"
    return TrackerStatus.model_validate(
        {"tracker": tracker, "event_id": str(event_id(UUID(stream), version)), "status": verdict}
    )


# -- the end, the shares ----------------------------------------------------------------------------------------
@router.post(
    "/{ballot_id}/end",
    status_code=200,
    response_model=VotingEnded,
    summary="End voting of an encrypted ballot: the aggregate of every voter's last ballot (service: ballot:close)",
    responses=WRITE_ERRORS,
)
def end(ballot_id: UUID, service: Closer, write: Write) -> Response:
    return write(
        service,
        None,
        lambda app, at: app.end_voting(by=service.actor, ballot_id=ballot_id, at=at),
        lambda data, events: VotingEnded(voters=data["voters"], aggregate=data["aggregate"], events=events),
    )


@router.post(
    "/{ballot_id}/decryption-shares",
    status_code=201,
    response_model=Written,
    summary="Trustee: post your decryption shares of the aggregate, each with its proof",
    responses=WRITE_ERRORS,
)
def decryption_shares(ballot_id: UUID, body: DecryptionShares, service: Trustee, write: Write) -> Response:
    return write(
        service,
        body,
        lambda app, at: app.share_decryption(by=service.actor, ballot_id=ballot_id, shares=body.shares, at=at),
    )
