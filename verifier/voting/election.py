"""One encrypted ballot, fed event by event in log order (docs/voting.md §3-§6, the contract of issue #13): the key
ceremony's state machine and proofs, ``ballot.opened`` against the ceremony, every cast ballot, the aggregate of
each voter's last ballot, every decryption share and the published tally. :meth:`Election.feed` returns the
findings of one event.

Memory: per ballot O(options + trustees); per voter one spill-map value (the voter's last counted ciphertexts,
keyed by the voter stream) and one diagnosis row (the first ciphertext's ``a`` -> the ballot event), both in the
rule replay's scratch maps, so an audit's memory stays flat in the number of voters. The aggregate is a running
sum (a recast subtracts the voter's previous ciphertexts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from verifier.rules.model import Event, Violation, pseudonym_problem, stream_id
from verifier.voting import ballot as bal
from verifier.voting import precheck
from verifier.voting.group import Bad, Pt, point, total
from verifier.voting.hashing import manifest_hash, tracker
from verifier.voting.proofs import decryption_ok, knowledge_ok
from verifier.voting.tally import count, joint_key, share_key

__all__ = ["PLAINTEXT_FIELDS", "SPEC_FIELDS", "Election"]

#: The fields of ``ceremony_started``'s ``spec``: ``ballot.opened`` repeats them unchanged.
SPEC_FIELDS = frozenset({"kind", "options", "method", "opens_at", "closes_at", "eligibility"})
#: Fields that would carry a choice or a count: never in an encrypted ballot's events before ``ballot.closed``.
PLAINTEXT_FIELDS = frozenset({"selection", "counts", "choices", "tally", "randomness", "plaintext"})
MAX_TRUSTEES = 15
_COMPACT = 256


class Store(Protocol):
    """What the election needs of a map (a dict, or the rule replay's spill map)."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...  # pending points per option before they are summed


@dataclass
class _Sum:
    """A running sum of points: appended, summed in batches."""

    pending: list[Pt] = field(default_factory=list)
    covered: int = 0  # counted ballots covering this option

    def add(self, p: Pt) -> None:
        self.pending.append(p)
        if len(self.pending) > _COMPACT:
            self.pending = [total(self.pending)]

    def value(self) -> Pt:
        self.pending = [total(self.pending)]
        return self.pending[0]


class Election:
    """One encrypted ballot. ``last``: voter stream -> ``(event id, indexes, [a, b, a, b, ...] hex)`` of the
    voter's last valid ballot; ``firsts``: ``"<ballot>:<option>:<a hex>"`` -> ``(event id, voter stream)``."""

    def __init__(self, ballot_id: str, last: Store, firsts: Store) -> None:
        self.id = ballot_id
        self.last = last
        self.firsts = firsts
        self.started = False
        self.title: str | None = None
        self.spec: dict[str, Any] = {}
        self.rule_set: Any = None  # the ballot rule set ceremony_started names (ballot.opened repeats it)
        self.trustees: list[str] = []  # service of trustee i at i-1
        self.threshold = 0
        self.joined: dict[int, Pt] = {}
        self.committed: dict[int, list[Pt]] = {}
        self.verified: set[int] = set()
        self.dead = False
        self.opened: dict[str, Any] | None = None
        self.manifest = b""
        self.h: Pt | None = None
        self.sums: list[tuple[_Sum, _Sum]] = []
        self.voters = 0
        self.ended: dict[str, Any] | None = None  # the voting_ended data
        self.aggregate: list[tuple[Pt, Pt] | None] = []
        self.shares: dict[int, list[Pt | None]] = {}  # valid shares, in log order
        self.share_keys: dict[int, Pt] = {}
        self.closed = False
        self.counts: dict[str, int] | None = None
        self._out: list[Violation] = []
        self._ev: Event | None = None

    # -- plumbing -------------------------------------------------------------------------------------------
    def _fail(self, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self._out.append(Violation(self._ev, code, message, expected, found))

    def feed(self, ev: Event) -> list[Violation]:
        """The findings of one event of this ballot (its ceremony stream, its stream, or a voter stream)."""
        self._out, self._ev = [], ev
        if not self.closed:
            leaked = sorted(PLAINTEXT_FIELDS & set(ev.data))
            if leaked or ev.type in ("ballot.vote_cast", "ballot.vote_changed"):
                self._fail(
                    "voting.plaintext_before_close",
                    f"{ev.logged_type} of an encrypted ballot carries a plaintext choice or count before ballot.closed",
                    "ciphertexts only",
                    leaked or ev.type,
                )
        handler = getattr(self, "_" + ev.type.removeprefix("ballot."), None)
        if handler is not None and ev.type not in ("ballot.vote_cast", "ballot.vote_changed"):
            handler(ev)
        return self._out

    def _trustee(self, ev: Event) -> int | None:
        """The event's trustee index, checked against the ceremony's list and the actor."""
        i = ev.data.get("trustee")
        if type(i) is not int or not 1 <= i <= len(self.trustees):
            self._fail(
                "voting.not_trustee",
                "trustee must be an index of the ceremony's trustees",
                f"1..{len(self.trustees)}",
                i,
            )
            return None
        want = {"kind": "service", "id": self.trustees[i - 1]}
        if dict(ev.actor) != want:
            self._fail("voting.not_trustee", f"only trustee {i}'s service may act as trustee {i}", want, ev.actor)
            return None
        return i

    # -- the ceremony -----------------------------------------------------------------------------------------
    def _ceremony_started(self, ev: Event) -> None:
        d = ev.data
        want = stream_id("ballot", self.id, "ceremony")
        if ev.stream != want or ev.version != 1:
            self._fail(
                "voting.ceremony_order",
                "ceremony_started opens S('ballot', id, 'ceremony') at version 1",
                [want, 1],
                [ev.stream, ev.version],
            )
        if self.started:
            self._fail("voting.ceremony_order", "a ballot's ceremony starts once", "once", "again")
            return
        self.started = True
        spec, trustees, k = d.get("spec"), d.get("trustees"), d.get("threshold")
        if type(spec) is not dict or spec.keys() != SPEC_FIELDS:
            self._fail(
                "voting.bad_ceremony", "spec holds exactly the ballot's frozen fields", sorted(SPEC_FIELDS), spec
            )
        else:
            self.spec = spec
        self.rule_set = d.get("rule_set")
        ok = type(trustees) is list and all(
            type(t) is dict and t.keys() == {"index", "service"} and t["index"] == n + 1 and type(t["service"]) is str
            for n, t in enumerate(trustees)
        )
        if not ok or not (type(k) is int and 1 <= k <= len(trustees) <= MAX_TRUSTEES):  # type: ignore[arg-type]
            self._fail(
                "voting.bad_ceremony",
                "trustees are indexes 1..n with services, 1 <= threshold <= n <= 15",
                None,
                {"trustees": trustees, "threshold": k},
            )
            self.dead = True
            return
        assert isinstance(trustees, list) and isinstance(k, int)
        self.trustees = [t["service"] for t in trustees]
        self.threshold = k
        self.title = d.get("title")

    def _live(self, ev: Event, what: str) -> bool:
        if not self.started or self.dead or self.opened is not None:
            state = "not started" if not self.started else "dead" if self.dead else "over (the ballot is open)"
            self._fail("voting.ceremony_order", f"{ev.logged_type} in a ceremony that is {state}", what, state)
            return False
        if ev.stream != stream_id("ballot", self.id, "ceremony"):
            self._fail(
                "voting.ceremony_order",
                "ceremony events are in the ceremony stream",
                stream_id("ballot", self.id, "ceremony"),
                ev.stream,
            )
        return True

    def _trustee_joined(self, ev: Event) -> None:
        if not self._live(ev, "joining") or (i := self._trustee(ev)) is None:
            return
        if i in self.joined or self.committed:
            self._fail("voting.ceremony_order", f"trustee {i} joins once, before anyone commits", "joining", "late")
            return
        try:
            key = point(ev.data.get("encryption_key"), "encryption_key")
        except Bad as e:
            self._fail("voting.bad_proof", f"trustee {i}: {e}", "a point", ev.data.get("encryption_key"))
            return
        if not knowledge_ok((self.id, f"trustee/{i}/encryption"), key, ev.data.get("proof")):
            self._fail("voting.bad_proof", f"trustee {i}: the proof of knowledge of the encryption key fails")
            return
        self.joined[i] = key

    def _trustee_committed(self, ev: Event) -> None:
        if not self._live(ev, "committing") or (i := self._trustee(ev)) is None:
            return
        n = len(self.trustees)
        if len(self.joined) != n or i in self.committed or self.verified:
            self._fail(
                "voting.ceremony_order",
                f"trustee {i} commits once, after all {n} joined, before any verify",
                "committing",
                sorted(self.joined),
            )
            return
        d = ev.data
        raw = d.get("commitments")
        try:
            if type(raw) is not list or len(raw) != self.threshold:
                raise Bad(f"a trustee commits to exactly {self.threshold} coefficients")
            cs = [point(c, f"commitments[{e}]") for e, c in enumerate(raw)]
        except Bad as e:
            self._fail("voting.bad_proof", f"trustee {i}: {e}", None, raw)
            return
        if not knowledge_ok((self.id, f"trustee/{i}/secret"), cs[0], d.get("proof")):
            self._fail("voting.bad_proof", f"trustee {i}: the proof of knowledge of the secret fails")
            return
        shares: list[Any] = d.get("shares") if type(d.get("shares")) is list else []  # type: ignore[assignment]
        to = [s.get("to") if type(s) is dict else None for s in shares]
        others = [j for j in range(1, n + 1) if j != i]
        if (
            not all(type(t) is int for t in to)
            or sorted(t for t in to if type(t) is int) != others
            or not all(_sealed(s) for s in shares)
        ):
            self._fail(
                "voting.bad_ceremony",
                f"trustee {i} sends one sealed share {{to, ephemeral, box}} to every other trustee",
                others,
                to,
            )
            return
        self.committed[i] = cs

    def _trustee_verified(self, ev: Event) -> None:
        if not self._live(ev, "verifying") or (i := self._trustee(ev)) is None:
            return
        if len(self.committed) != len(self.trustees) or i in self.verified:
            self._fail(
                "voting.ceremony_order",
                f"trustee {i} verifies once, after all committed",
                "verifying",
                sorted(self.committed),
            )
            return
        self.verified.add(i)

    def _trustee_complained(self, ev: Event) -> None:
        if not self._live(ev, "any") or (i := self._trustee(ev)) is None:
            return
        about = ev.data.get("about")
        if type(about) is not int or about == i or not 1 <= about <= len(self.trustees):
            self._fail("voting.not_trustee", "about names another trustee", "an index", about)
        self.dead = True

    # -- opening ----------------------------------------------------------------------------------------------
    def _opened(self, ev: Event) -> None:
        d = ev.data
        n = len(self.trustees)
        if not self.started or self.dead or len(self.verified) != n or n == 0 or self.opened is not None:
            self._fail(
                "voting.ceremony_order",
                "an encrypted ballot opens once, after every trustee verified",
                f"{n} verified",
                sorted(self.verified),
            )
            if self.opened is not None or not self.started:
                return
        changed = sorted(f for f in SPEC_FIELDS if self.spec.get(f) != d.get(f))
        if d.get("title") != self.title:
            changed.insert(0, "title")
        trustees = [{"index": j + 1, "service": s} for j, s in enumerate(self.trustees)]
        if d.get("trustees") != trustees:
            changed.append("trustees")
        if d.get("threshold") != self.threshold:
            changed.append("threshold")
        if d.get("rule_set") != self.rule_set:
            changed.append("rule_set")
        if changed:
            self._fail(
                "voting.spec_changed",
                f"ballot.opened differs from its ceremony_started at {changed}",
                {f: self.spec.get(f) for f in changed if f in SPEC_FIELDS},
                {f: d.get(f) for f in changed},
            )
        h = joint_key(self.committed) if len(self.committed) == n and n else None
        if h is None or h.zero or d.get("public_key") != h.hex():
            self._fail(
                "voting.bad_public_key",
                "public_key is the sum of every trustee's first commitment",
                None if h is None or h.zero else h.hex(),
                d.get("public_key"),
            )
        manifest = manifest_hash(self.id, d)
        if d.get("manifest_hash") != manifest.hex():
            self._fail(
                "voting.bad_manifest",
                "manifest_hash is SHA-256(JCS({ballot, opened}))",
                manifest.hex(),
                d.get("manifest_hash"),
            )
        self.opened = dict(d)
        self.manifest = manifest
        self.h = h if h is not None and not h.zero else None
        self.sums = [(_Sum(), _Sum()) for _ in d.get("options") or ()]

    # -- casting ----------------------------------------------------------------------------------------------
    def _ballot_cast(self, ev: Event) -> None:
        self._ballot(ev)

    def _ballot_recast(self, ev: Event) -> None:
        self._ballot(ev)

    def _ballot(self, ev: Event) -> None:
        d = ev.data
        o = self.opened
        if o is None or self.h is None:
            self._fail("voting.ceremony_order", "a ballot for an encrypted ballot that is not open", "opened", None)
            return
        voter = d.get("voter")
        district = d.get("district")
        errors: list[tuple[str, str, Any, Any]] = []
        if type(voter) is not str:
            self._fail("voting.ineligible", "voter is the voter pseudonym", "a string", voter)
            return
        want = stream_id("ballot", self.id, "voter", voter)
        if ev.stream != want:
            errors.append(
                (
                    "voting.ballot_stream",
                    f"voter {voter}'s ballots are in S('ballot', B, 'voter', voter)",
                    want,
                    ev.stream,
                )
            )
        wrong = pseudonym_problem(voter, "vot", int(o.get("pseudonym_key") or 0))
        if wrong is not None:
            errors.append(("voting.ineligible", "voter is a voter pseudonym of the ballot's key", wrong, voter))
        if ev.type == "ballot.ballot_cast" and ev.version != 1:
            errors.append(("voting.cast_order", "a voter's later ballots are ballot_recast", 1, ev.version))
        elif ev.type == "ballot.ballot_recast" and ev.version < 2:
            errors.append(
                ("voting.cast_order", "ballot_recast follows ballot_cast in the voter stream", ">= 2", ev.version)
            )
        if self.ended is not None:
            errors.append(
                ("voting.ballot_after_end", "no ballot is accepted after ballot.voting_ended", "before", "after")
            )
        elif not str(o.get("opens_at")) <= ev.time < str(o.get("closes_at")):
            errors.append(
                (
                    "voting.ballot_outside_window",
                    "a ballot is valid only at opens_at <= time < closes_at",
                    [o.get("opens_at"), o.get("closes_at")],
                    ev.time,
                )
            )
        elig = o.get("eligibility") or {}
        if d.get("identity_method") not in (elig.get("identity_methods") or ()):
            errors.append(
                (
                    "voting.ineligible",
                    "identity method not eligible",
                    elig.get("identity_methods"),
                    d.get("identity_method"),
                )
            )
        districts = elig.get("districts")
        if (district not in districts) if districts is not None else (district is not None):
            errors.append(("voting.ineligible", "district not eligible", districts, district))
        if d.get("ballot") != self.id:
            errors.append(("voting.ineligible", "ballot names this ballot", self.id, d.get("ballot")))
        try:
            st = bal.statement(o, district if type(district) is str else None)
        except (ValueError, KeyError, TypeError) as e:
            errors.append(("voting.ineligible", str(e), None, district))
            st = None
        cts = None
        if st is not None:
            try:
                cts = precheck.checked(ev.index, self.manifest, self.h, st)
                if cts is None:
                    cts = bal.check(d, manifest=self.manifest, h=self.h, st=st)
            except bal.Refused as e:
                good_tracker = d.get("tracker") == tracker(d)
                if e.where == "tracker":
                    errors.append(("voting.bad_tracker", f"{e}", tracker(d), d.get("tracker")))
                elif not good_tracker:
                    errors.append(
                        (
                            "voting.changed_ciphertext",
                            f"the ballot was changed after it was made: {e.where} fails and the tracker is not "
                            "its hash, so the voter's tracker names another ballot",
                            e.where,
                            d.get("tracker"),
                        )
                    )
                else:
                    errors.append(("voting.bad_proof", f"{e}", "a valid proof", e.where))
        for code, message, expected, found in errors:
            self._fail(code, message, expected, found)
        if errors or cts is None or st is None:
            return
        old = self.last.get(ev.stream)
        if old is None:
            self.voters += 1
        else:
            _, idx, flat = old
            for n, i in enumerate(idx):
                sa, sb = self.sums[i]
                sa.add(-point(flat[2 * n]))
                sb.add(-point(flat[2 * n + 1]))
                sa.covered -= 1
        flat = []
        for i, (a, b) in zip(st.indexes, cts, strict=True):
            sa, sb = self.sums[i]
            sa.add(a)
            sb.add(b)
            sa.covered += 1
            flat += (a.hex(), b.hex())
        self.last[ev.stream] = (ev.id, list(st.indexes), flat)
        self.firsts[f"{self.id}:{st.indexes[0]}:{flat[0]}"] = (ev.id, ev.stream)

    # -- tally --------------------------------------------------------------------------------------------------
    def _voting_ended(self, ev: Event) -> None:
        d = ev.data
        o = self.opened
        if o is None or self.ended is not None or ev.stream != self.id:
            self._fail(
                "voting.end_order", "voting_ended once, in the ballot's stream, after it opened", "once", "again"
            )
            return
        if ev.time < str(o.get("closes_at")):
            self._fail(
                "voting.end_order", "voting_ended only at time >= closes_at", f">= {o.get('closes_at')}", ev.time
            )
        self.ended = dict(d)
        if d.get("voters") != self.voters:
            self._fail(
                "voting.voters_mismatch",
                "voters is the number of voters with a counted ballot",
                self.voters,
                d.get("voters"),
            )
        ours = [None if sa.covered == 0 else (sa.value(), sb.value()) for sa, sb in self.sums]
        raw = d.get("aggregate")
        published: list[tuple[Pt, Pt] | None] = []
        try:
            if type(raw) is not list or len(raw) != len(ours):
                raise Bad(f"aggregate holds one pair or null per option ({len(ours)})")
            for n, pair in enumerate(raw):
                published.append(None if pair is None else bal.pairs([pair], f"aggregate[{n}]")[0])
        except (Bad, bal.Refused) as e:
            self._fail("voting.aggregate_mismatch", f"aggregate: {e}", None, raw)
            self.aggregate = [None] * len(ours)
            return
        self.aggregate = published
        for n, (mine, theirs) in enumerate(zip(ours, published, strict=True)):
            if mine != theirs:
                self._diagnose(n, mine, theirs)
                break

    def _diagnose(self, n: int, mine: tuple[Pt, Pt] | None, theirs: tuple[Pt, Pt] | None) -> None:
        """Name the ballot a wrong aggregate left out or added (when it is one ballot's first ciphertext)."""
        zero = Pt(None)
        a_mine = mine[0] if mine else zero
        a_theirs = theirs[0] if theirs else zero
        for sign, diff in (("dropped", a_mine - a_theirs), ("added", a_theirs - a_mine)):
            hit = None if diff.zero else self.firsts.get(f"{self.id}:{n}:{diff.hex()}")
            if hit is None:
                continue
            event_id, stream = hit
            last = self.last.get(stream)
            counted = last is not None and last[0] == event_id
            if sign == "dropped" and counted:
                self._fail(
                    "voting.ballot_dropped",
                    f"the aggregate leaves out the counted ballot {event_id} (option {n})",
                    event_id,
                    "missing",
                )
                return
            if sign == "added" and not counted:
                self._fail(
                    "voting.double_counted",
                    f"the aggregate also adds ballot {event_id}, superseded by a "
                    f"later ballot of its voter (option {n})",
                    "superseded",
                    event_id,
                )
                return
        self._fail(
            "voting.aggregate_mismatch",
            f"aggregate[{n}] is not the sum of every voter's last ballot",
            None if mine is None else {"a": mine[0].hex(), "b": mine[1].hex()},
            None if theirs is None else {"a": theirs[0].hex(), "b": theirs[1].hex()},
        )

    def _decryption_shared(self, ev: Event) -> None:
        if self.ended is None or self.opened is None or self.h is None or self.closed or ev.stream != self.id:
            self._fail(
                "voting.share_order",
                "decryption shares only after voting_ended, before closed, in the ballot's stream",
                "after voting_ended",
                "before",
            )
            return
        if (j := self._trustee(ev)) is None:
            return
        if j in self.shares:
            self._fail("voting.share_order", f"trustee {j} shares once", "once", "again")
            return
        raw = ev.data.get("shares")
        if type(raw) is not list or len(raw) != len(self.aggregate):
            self._fail(
                "voting.bad_share", f"shares hold one share or null per option ({len(self.aggregate)})", None, raw
            )
            return
        if j not in self.share_keys:
            self.share_keys[j] = share_key(self.committed, j)
        sj = self.share_keys[j]
        got: list[Pt | None] = []
        for n, (agg, share) in enumerate(zip(self.aggregate, raw, strict=True)):
            if agg is None:
                if share is not None:
                    self._fail("voting.bad_share", f"shares[{n}] must be null: aggregate[{n}] is null", None, share)
                    return
                got.append(None)
                continue
            try:
                if type(share) is not dict or share.keys() != {"d", "proof"}:
                    raise Bad("must be {d, proof}")
                dj = point(share["d"], f"shares[{n}].d")
            except Bad as e:
                self._fail("voting.bad_share", f"trustee {j}: shares[{n}] {e}", None, share)
                return
            if not decryption_ok(self.manifest, self.h, j, (f"option/{n}",), sj, agg[0], dj, share["proof"]):
                self._fail(
                    "voting.bad_share",
                    f"trustee {j}: the decryption proof of shares[{n}] fails against S_{j}",
                    sj.hex(),
                    share,
                )
                return
            got.append(dj)
        self.shares[j] = got

    def close(self, ev: Event) -> tuple[tuple[dict[str, int], int] | None, list[Violation]]:
        """The counts (option id -> count) and voters the shares decrypt, after checking ``decrypted_by`` (None
        when they cannot be computed), and the findings."""
        self._out, self._ev = [], ev
        return self._close(ev), self._out

    def _close(self, ev: Event) -> tuple[dict[str, int], int] | None:
        if self.ended is None or self.opened is None or self.closed:
            self._fail("voting.end_order", "an encrypted ballot closes once, after voting_ended", "once", "again")
            return None
        self.closed = True
        q = sorted(list(self.shares)[: self.threshold])
        if len(q) < self.threshold:
            self._fail(
                "voting.not_enough_shares",
                f"closing needs {self.threshold} valid decryption shares",
                self.threshold,
                len(q),
            )
            return None
        if ev.data.get("decrypted_by") != q:
            self._fail(
                "voting.tally_mismatch",
                "decrypted_by is the sorted first threshold trustees with valid shares",
                q,
                ev.data.get("decrypted_by"),
            )
        voters = int(self.ended.get("voters") or 0) if type(self.ended.get("voters")) is int else self.voters
        counts: dict[str, int] = {}
        for n, opt in enumerate(self.opened.get("options") or ()):
            agg = self.aggregate[n] if n < len(self.aggregate) else None
            if agg is None:
                counts[opt["id"]] = 0
                continue
            try:
                counts[opt["id"]] = count(agg[1], {j: self.shares[j][n] for j in q}, voters)  # type: ignore[misc]
            except Bad as e:
                self._fail("voting.tally_mismatch", f"option {opt['id']}: {e}", f"0..{voters}", None)
                return None
        return counts, voters


def _sealed(s: Any) -> bool:
    if type(s) is not dict or s.keys() != {"to", "ephemeral", "box"}:
        return False
    try:
        point(s["ephemeral"])
        box = s["box"]
        return type(box) is str and len(box) == 96 and box == box.lower() and bytes.fromhex(box) is not None
    except (Bad, ValueError):
        return False
