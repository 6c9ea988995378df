"""hromada-verify audit on encrypted ballots (docs/voting.md, verifier/voting/): the tamper cases of issue #13, each
caught with a finding naming the event, failure cases first; then a lawful ballot audits clean."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.verifier_rules.builder import History, audit, findings
from tests.verifier_voting.builder import Encrypted, Hook

VOTES = {1: [["o0", "o1"]], 2: [["o2"]], 3: [["o0", "o4", "o5"]]}


def _audit(
    tmp_path: Path, tamper: dict[str, Hook] | None = None, votes: Any = None, **kw: Any
) -> tuple[Encrypted, Any]:
    h = History()
    h.city()
    e = Encrypted(h, tamper=tamper or {}, **kw)
    e.run(votes or VOTES)
    report = audit(h.write(tmp_path / "b"))
    return e, report


def _got(report: Any) -> list[tuple[str, str | None]]:
    return [(f.code, f.event_id) for step in (4, 5) for f in findings(report, step)]


def test_a_ballot_with_a_wrong_proof_in_the_log(tmp_path: Path) -> None:
    from domain.ballots.crypto.hashing import tracker

    def swap(d: dict[str, Any]) -> dict[str, Any]:  # option 0's proof replaced by option 1's; tracker recomputed
        p = d["proofs"]
        d = {**d, "proofs": {**p, "options": [p["options"][1], *p["options"][1:]]}}
        return {**d, "tracker": tracker(d)}

    e, report = _audit(tmp_path, {"cast:2:0": swap})
    bad = e.events["cast:2:0"]["id"]
    assert ("voting.bad_proof", bad) in _got(report)
    [f] = findings(report, 4, "voting.bad_proof")
    assert f.found == "proofs.options[0]"
    # the ledger counted it, the verifier did not: the aggregate names the ballot it should not hold
    assert ("voting.aggregate_mismatch", e.events["ended"]["id"]) in _got(report) or (
        "voting.voters_mismatch",
        e.events["ended"]["id"],
    ) in _got(report)


def test_a_changed_ciphertext(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> dict[str, Any]:
        cts = d["ciphertexts"]
        return {**d, "ciphertexts": [cts[1], *cts[1:]]}

    e, report = _audit(tmp_path, {"cast:1:0": change})
    assert ("voting.changed_ciphertext", e.events["cast:1:0"]["id"]) in _got(report)


def test_a_dropped_ballot(tmp_path: Path) -> None:
    h = History()
    h.city()
    e = Encrypted(h)
    e.tamper["ended"] = lambda d: _drop(d, e.events["cast:1:0"]["data"]["ciphertexts"])
    e.run(VOTES)
    report = audit(h.write(tmp_path / "b"))
    ended = e.events["ended"]["id"]
    got = [(f.code, f.event_id, f.expected) for f in findings(report, 4)]
    assert ("voting.ballot_dropped", ended, e.events["cast:1:0"]["id"]) in got
    assert ("voting.voters_mismatch", ended, 3) in got


def _drop(d: dict[str, Any], cast: list[dict[str, str]]) -> dict[str, Any]:
    from domain.ballots.crypto.group import decode_point

    agg = []
    for o, pair in enumerate(d["aggregate"]):
        a = decode_point(pair["a"]) - decode_point(cast[o]["a"])
        b = decode_point(pair["b"]) - decode_point(cast[o]["b"])
        agg.append(None if a.is_identity else {"a": a.hex(), "b": b.hex()})
    return {"voters": d["voters"] - 1, "aggregate": agg}


def _add(d: dict[str, Any], cast: list[dict[str, str]]) -> dict[str, Any]:
    from domain.ballots.crypto.group import decode_point

    agg = []
    for o, pair in enumerate(d["aggregate"]):
        agg.append(
            {
                "a": (decode_point(pair["a"]) + decode_point(cast[o]["a"])).hex(),
                "b": (decode_point(pair["b"]) + decode_point(cast[o]["b"])).hex(),
            }
        )
    return {**d, "aggregate": agg}


def test_a_second_counted_ballot(tmp_path: Path) -> None:
    h = History()
    h.city()
    e = Encrypted(h)
    e.tamper["ended"] = lambda d: _add(d, e.events["cast:1:0"]["data"]["ciphertexts"])
    e.run({1: [["o0"], ["o1", "o2"]], 2: [["o3"]]})
    report = audit(h.write(tmp_path / "b"))
    got = [(f.code, f.event_id, f.found) for f in findings(report, 4)]
    assert got[0] == ("voting.double_counted", e.events["ended"]["id"], e.events["cast:1:0"]["id"]), got


def test_a_forged_decryption_share(tmp_path: Path) -> None:
    from domain.ballots.crypto.group import decode_point

    def forge(d: dict[str, Any]) -> dict[str, Any]:
        s = list(d["shares"])
        s[3] = {**s[3], "d": (decode_point(s[3]["d"]) + decode_point(s[2]["d"])).hex()}
        return {**d, "shares": s}

    e, report = _audit(tmp_path, {"share:2": forge})
    share = e.events["share:2"]["id"]
    got = _got(report)
    assert ("voting.bad_share", share) in got
    [f] = findings(report, 4, "voting.bad_share")
    assert "shares[3]" in f.message
    # with only trustee 1's valid share left, the close cannot have been decrypted
    assert ("voting.not_enough_shares", e.events["closed"]["id"]) in got


def test_a_tally_off_by_one(tmp_path: Path) -> None:
    def off(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "counts": {**d["counts"], "o4": d["counts"]["o4"] + 1}}

    e, report = _audit(tmp_path, {"closed": off})
    [f] = findings(report, 4)
    assert (f.code, f.event_id, f.expected, f.found) == ("voting.tally_mismatch", e.events["closed"]["id"], 1, 2)
    assert "$.counts.o4" in f.message


def test_interim_plaintext_before_close(tmp_path: Path) -> None:
    def leak(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "counts": {"o0": 2}}

    e, report = _audit(tmp_path, {"ended": leak})
    got = _got(report)
    assert ("voting.plaintext_before_close", e.events["ended"]["id"]) in got
    assert ("data_fields", e.events["ended"]["id"]) in got


def test_a_plaintext_vote_on_an_encrypted_ballot_is_reported_and_not_counted(tmp_path: Path) -> None:
    h = History()
    h.city()
    e = Encrypted(h)
    e.tamper["opened"] = lambda d: d
    # a vote_cast slipped in for the encrypted ballot, right after it opened: emitted by hand
    orig = e._emit

    def emit(name: str, *args: Any) -> dict[str, Any]:
        env = orig(name, *args)
        if name == "opened":
            h.vote(e.bid, 9, ["o0"])
            e.events["plain"] = h.events[-1]
        return env

    setattr(e, "_emit", emit)  # noqa: B010 - an instance override of the emitter
    e.run(VOTES)
    report = audit(h.write(tmp_path / "b"))
    assert _got(report) == [("voting.plaintext_before_close", e.events["plain"]["id"])]


def test_a_trustee_impersonated_and_a_spec_changed(tmp_path: Path) -> None:
    def other_actor(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "trustee": 3}  # trustee.2's service posts as trustee 3

    def changed(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "method": {"type": "approval", "max_choices": 6}}

    e, report = _audit(tmp_path, {"joined:2": other_actor, "opened": changed})
    got = _got(report)
    assert got[0] == ("voting.not_trustee", e.events["joined:2"]["id"])
    assert ("voting.spec_changed", e.events["opened"]["id"]) in got


def test_a_lawful_encrypted_ballot_audits_clean(tmp_path: Path) -> None:
    e, report = _audit(tmp_path, votes={1: [["o0", "o1"], ["o5"]], 2: [["o2"]], 3: [["o0", "o4", "o5"]]})
    assert _got(report) == []
    assert e.events["closed"]["data"]["counts"] == {"o0": 1, "o1": 0, "o2": 1, "o3": 0, "o4": 1, "o5": 2}


def test_a_lawful_encrypted_budget_with_a_trustee_absent_audits_clean(tmp_path: Path) -> None:
    options = [
        {"id": "park", "title": "Park", "district": "d1", "cost": 700},
        {"id": "lib", "title": "Library", "district": "d1", "cost": 400},
        {"id": "road", "title": "Road", "district": "d2", "cost": 900},
    ]
    h = History()
    h.city()
    e = Encrypted(
        h,
        options=options,
        method={"type": "budget", "budgets": {"d1": 1000, "d2": 1000}},
        districts=["d1", "d2"],
        trustees=5,
        threshold=3,
    )
    e.run({1: [["park"]], 2: [["lib"]], 3: [["road"]], 4: [["lib"]]}, {1: "d1", 2: "d1", 3: "d2", 4: "d1"}, (5, 2, 4))
    report = audit(h.write(tmp_path / "b"))
    assert _got(report) == []
    assert e.events["closed"]["data"]["funded"] == {"d1": ["lib"], "d2": ["road"]}


def _open_ballot(h: History, manifest: str | None = None) -> tuple[str, dict[str, Any]]:
    import uuid

    from domain.ballots.crypto.hashing import manifest_hash
    from tests.verifier_rules.builder import instant, svc

    bid = str(uuid.uuid4())
    opened: dict[str, Any] = {
        "title": "Poll",
        "kind": "poll",
        "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        "method": {"type": "single"},
        "opens_at": instant(h.now),
        "closes_at": instant(h.now + timedelta(hours=1)),
        "eligibility": {"identity_methods": ["diia"], "min_age": 16, "districts": None},
        "pseudonym_key": 1,
        "secrecy": "open",
        "trustees": [],
        "threshold": None,
        "public_key": None,
    }
    opened["manifest_hash"] = manifest or manifest_hash(bid, opened).hex()
    return bid, h.emit(bid, "ballot.opened", svc("council"), opened)


def test_an_open_ballot_with_a_wrong_manifest_hash_or_an_encrypted_ballot_cast(tmp_path: Path) -> None:
    from tests.verifier_rules.builder import cit, pseudonym
    from verifier.rules.model import stream_id

    h = History()
    h.city()
    bid, opened = _open_ballot(h, "00" * 32)
    voter = pseudonym("vot", 1)
    data: dict[str, Any] = {
        "ballot": bid,
        "voter": voter,
        "district": None,
        "identity_method": "diia",
        "ciphertexts": [],
        "proofs": {},
        "tracker": "00" * 32,
    }
    cast = h.emit(stream_id("ballot", bid, "voter", voter), "ballot.ballot_cast", cit(voter), data)
    report = audit(h.write(tmp_path / "b"))
    assert _got(report) == [("voting.bad_manifest", opened["id"]), ("voting.wrong_secrecy", cast["id"])]


def test_a_new_open_ballot_audits_as_before(tmp_path: Path) -> None:
    from tests.verifier_rules.builder import svc

    h = History()
    h.city()
    bid, _ = _open_ballot(h)
    h.vote(bid, 1, ["a"])
    h.vote(bid, 2, ["b"])
    h.vote(bid, 1, ["b"])
    h.wait(hours=1)
    h.emit(bid, "ballot.closed", svc("council"), {"voters": 2, "counts": {"a": 0, "b": 2}, "funded": None})
    assert _got(audit(h.write(tmp_path / "b"))) == []
