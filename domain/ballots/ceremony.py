"""An encrypted ballot's key ceremony (docs/voting.md §5), in its own stream ``S("ballot", <id>, "ceremony")``:
``ceremony_started`` by the opening service, then every trustee joins, commits and verifies (or complains, which
kills the ceremony for good). The ledger checks each proof before it decides; the secrets never reach it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.ballots.crypto import ceremony as cer
from domain.ballots.crypto.group import CryptoError, Point, decode_point
from domain.base import LedgerAggregate, stream_id
from domain.errors import CeremonyOutOfOrder, InvalidInput, InvalidProof, NotATrustee

CEREMONY_TYPES = (
    "ballot.ceremony_started",
    "ballot.trustee_joined",
    "ballot.trustee_committed",
    "ballot.trustee_verified",
    "ballot.trustee_complained",
)


def ceremony_stream(ballot_id: UUID | str) -> UUID:
    return stream_id("ballot", str(ballot_id), "ceremony")


def ceremony_status(state: Mapping[str, Any]) -> str:
    n = len(state["trustees"])
    if state["complaints"]:
        return "dead"
    if len(state["joined"]) < n:
        return "joining"
    if len(state["committed"]) < n:
        return "committing"
    if len(state["verified"]) < n:
        return "verifying"
    return "complete"


def fold_ceremony(
    state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]
) -> None:
    if type_ == "ballot.ceremony_started":
        state.update(dict(data), joined={}, committed={}, verified=[], complaints=[], started_at=time)
    elif type_ == "ballot.trustee_joined":
        state["joined"][str(data["trustee"])] = {"encryption_key": data["encryption_key"], "proof": data["proof"]}
    elif type_ == "ballot.trustee_committed":
        state["committed"][str(data["trustee"])] = {k: data[k] for k in ("commitments", "proof", "shares")}
    elif type_ == "ballot.trustee_verified":
        state["verified"].append(data["trustee"])
    elif type_ == "ballot.trustee_complained":
        state["complaints"].append({k: data[k] for k in ("trustee", "about", "reason")})
    state["status"] = ceremony_status(state)


def check_trustees(services: Any, threshold: Any) -> list[dict[str, Any]]:
    """``[{"index": 1, "service": ...}, ...]`` from the service ids in index order, ``1 <= k <= n <= 15``."""
    if not isinstance(services, list | tuple) or not all(isinstance(s, str) and s for s in services):
        raise InvalidInput("trustees must be a list of service ids", field="trustees")
    n = len(services)
    if len(set(services)) != n:
        raise InvalidInput("a trustee is named twice", field="trustees")
    if not 1 <= n <= cer.MAX_TRUSTEES:
        raise InvalidInput(f"1 to {cer.MAX_TRUSTEES} trustees", field="trustees", found=n)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= n:
        raise InvalidInput("threshold must be from 1 to the number of trustees", field="threshold", found=threshold)
    return [{"index": i, "service": s} for i, s in enumerate(services, start=1)]


class Ceremony(LedgerAggregate):
    class Event(LedgerAggregate.Event):
        pass

    class Started(Event, LedgerAggregate.Created):
        TYPE: ClassVar[str] = "ballot.ceremony_started"
        ballot: str
        title: str
        spec: dict[str, Any]
        trustees: list[dict[str, Any]]
        threshold: int
        #: ``{"name", "version"}`` of the published ``ballot`` rule set the spec's kind and eligibility came from
        #: (``ballot.opened`` repeats it); absent when they were written inline.
        rule_set: dict[str, Any] | None = None
        OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rule_set"})

        def __post_init__(self) -> None:
            if self.__dict__.get("rule_set", 0) is None:
                del self.__dict__["rule_set"]

    class Joined(Event):
        TYPE: ClassVar[str] = "ballot.trustee_joined"
        ballot: str
        trustee: int
        encryption_key: str
        proof: dict[str, str]

    class Committed(Event):
        TYPE: ClassVar[str] = "ballot.trustee_committed"
        ballot: str
        trustee: int
        commitments: list[str]
        proof: dict[str, str]
        shares: list[dict[str, Any]]

    class Verified(Event):
        TYPE: ClassVar[str] = "ballot.trustee_verified"
        ballot: str
        trustee: int

    class Complained(Event):
        TYPE: ClassVar[str] = "ballot.trustee_complained"
        ballot: str
        trustee: int
        about: int
        reason: str

    @staticmethod
    def fold(state: dict[str, Any], type_: str, time: str, actor: Mapping[str, str], data: Mapping[str, Any]) -> None:
        fold_ceremony(state, type_, time, actor, data)

    @classmethod
    def start(
        cls,
        *,
        ballot_id: UUID,
        spec: Mapping[str, Any],
        trustees: list[dict[str, Any]],
        threshold: int,
        at: datetime,
        actor: Mapping[str, str],
        rule_set: Mapping[str, Any] | None = None,
    ) -> Ceremony:
        body = {k: v for k, v in spec.items() if k != "title"}
        result: Ceremony = cls._start(
            cls.Started,
            id=ceremony_stream(ballot_id),
            at=at,
            actor=actor,
            ballot=str(ballot_id),
            title=spec["title"],
            spec=body,
            trustees=trustees,
            threshold=threshold,
            **({} if rule_set is None else {"rule_set": dict(rule_set)}),
        )
        return result

    @property
    def ballot(self) -> str:
        return str(self.state["ballot"])

    @property
    def status(self) -> str:
        return str(self.state["status"])

    def trustee_index(self, service: str) -> int:
        for t in self.state["trustees"]:
            if t["service"] == service:
                return int(t["index"])
        raise NotATrustee("this service is not a trustee of the ballot", ballot=self.ballot, service=service)

    def _expect(self, status: str, trustee: int, done: Any, step: str) -> None:
        if self.status != status:
            raise CeremonyOutOfOrder(
                f"trustees {step} when the ceremony is {status}", ballot=self.ballot, status=self.status, step=step
            )
        if str(trustee) in done or trustee in done:
            raise CeremonyOutOfOrder(f"this trustee already did: {step}", ballot=self.ballot, trustee=trustee)

    def join(self, *, trustee: int, encryption_key: Any, proof: Any, at: datetime, actor: Mapping[str, str]) -> None:
        self._expect("joining", trustee, self.state["joined"], "join")
        try:
            cer.check_joined(self.ballot, {"index": trustee, "encryption_key": encryption_key, "proof": proof})
        except CryptoError as e:
            raise InvalidProof(str(e), proof="proof", trustee=trustee) from None
        self._emit(
            self.Joined, at=at, actor=actor, ballot=self.ballot, trustee=trustee, encryption_key=encryption_key,
            proof=proof,
        )  # fmt: skip

    def commit(
        self, *, trustee: int, commitments: Any, proof: Any, shares: Any, at: datetime, actor: Mapping[str, str]
    ) -> None:
        self._expect("committing", trustee, self.state["committed"], "commit")
        data = {"index": trustee, "commitments": commitments, "proof": proof, "shares": shares}
        indexes = [t["index"] for t in self.state["trustees"]]
        try:
            cer.check_committed(self.ballot, data, self.state["threshold"], indexes)
        except CryptoError as e:
            where = "proof" if "proof" in str(e) else "commitments" if "coefficient" in str(e) else "shares"
            raise InvalidProof(str(e), proof=where, trustee=trustee) from None
        for i, s in enumerate(shares):
            if not isinstance(s, dict) or set(s) != {"to", "ephemeral", "box"}:
                raise InvalidProof("a share is {to, ephemeral, box}", proof=f"shares[{i}]", trustee=trustee)
            try:
                decode_point(s["ephemeral"], "ephemeral")
                bytes.fromhex(str(s["box"]))
            except (CryptoError, ValueError) as e:
                raise InvalidProof(str(e), proof=f"shares[{i}]", trustee=trustee) from None
        self._emit(
            self.Committed, at=at, actor=actor, ballot=self.ballot, trustee=trustee, commitments=commitments,
            proof=proof, shares=shares,
        )  # fmt: skip

    def verify(self, *, trustee: int, at: datetime, actor: Mapping[str, str]) -> None:
        self._expect("verifying", trustee, self.state["verified"], "verify")
        self._emit(self.Verified, at=at, actor=actor, ballot=self.ballot, trustee=trustee)

    def complain(self, *, trustee: int, about: Any, reason: Any, at: datetime, actor: Mapping[str, str]) -> None:
        if self.status not in ("committing", "verifying"):
            raise CeremonyOutOfOrder("complaints are about commitments", ballot=self.ballot, status=self.status)
        if not isinstance(about, int) or str(about) not in self.state["committed"] or about == trustee:
            raise InvalidInput("about must name another trustee that committed", field="about", found=about)
        if not isinstance(reason, str) or not 1 <= len(reason) <= 500:
            raise InvalidInput("reason must be 1-500 characters", field="reason")
        self._emit(self.Complained, at=at, actor=actor, ballot=self.ballot, trustee=trustee, about=about, reason=reason)

    def commitments(self) -> dict[int, list[Point]]:
        return {int(i): [decode_point(c) for c in d["commitments"]] for i, d in self.state["committed"].items()}

    def joint_key(self) -> Point:
        if self.status != "complete":
            raise CeremonyOutOfOrder(
                "the ballot opens once every trustee verified", ballot=self.ballot, status=self.status
            )
        return cer.joint_key(self.commitments())
