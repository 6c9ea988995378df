"""The rule replay's spill store: bounded LRU caches in front of a scratch SQLite file (verifier.rules.store),
and rule checks that must still fire when the state they need was evicted to disk."""

from __future__ import annotations

import random
from pathlib import Path

from tests.verifier_rules.builder import History, audit, codes, findings
from verifier.rules.kindergarten import Entry
from verifier.rules.store import OrderedIndex, Scratch, Slice, SpillMap, slots_codec
from verifier.spill import KeyFilter


def test_lru_evicts_beyond_the_bound_and_reads_back_live_values() -> None:
    scratch = Scratch(cache_items=4)
    m: SpillMap[list[int]] = scratch.map("m", (repr, eval))  # a trivial codec
    for i in range(20):
        m[f"k{i:02}"] = [i]
        scratch.maintain()
        assert m.cached <= 4
    assert scratch.used and scratch.evicted >= 16
    assert m.get("k00") == [0]  # read back from disk
    v = m["k00"]
    v.append(100)  # changed in place: the cached object is the live one ...
    for i in range(20, 40):  # ... and is written when it is evicted again
        m[f"k{i:02}"] = [i]
        scratch.maintain()
    assert m["k00"] == [0, 100]
    assert "k39" in m and "nope" not in m and m.get("nope", 7) == 7
    assert m.pop("k05") == [5] and "k05" not in m and m.pop("k05") is None
    assert len(m) == 39
    assert [k for k, _ in m.items()] == sorted(f"k{i:02}" for i in range(40) if i != 5)
    scratch.close()


def test_recently_used_values_stay_cached() -> None:
    scratch = Scratch(cache_items=8)
    m: SpillMap[int] = scratch.map("m")
    m["hot"] = 1
    for i in range(100):
        m[str(i)] = i
        assert m.get("hot") == 1  # touched every time: never the least recently used
        scratch.maintain()
    assert "hot" in m._mem
    scratch.close()


def test_slots_codec_round_trips_an_entry_and_slices_share_one_map() -> None:
    scratch = Scratch(cache_items=1)
    entries: SpillMap[Entry] = scratch.map("e", slots_codec(Entry))
    qa, qb = Slice(entries, "a" * 36), Slice(entries, "b" * 36)
    qa["x"] = Entry("cit", "chd", 2023, ["k1", "k2"], "t", {"b1"}, "waiting", None, 2)
    qb["x"] = Entry("cit2", "chd2", 2022, ["k1"], "t2")
    scratch.maintain()
    assert entries.cached <= 1
    got = qa["x"]
    assert (got.applicant, got.benefits, got.institutions, got.rank) == ("cit", {"b1"}, ["k1", "k2"], 2)
    assert qb["x"].applicant == "cit2" and list(qa) == ["x"] and len(qb) == 1
    scratch.close()


def test_ordered_index_matches_a_sorted_set() -> None:
    rng = random.Random(3)
    scratch = Scratch()
    index: OrderedIndex = scratch.index("ix", ("g",), ("rank", "t", "id"))
    model: set[tuple[str, int, str, str]] = set()
    for _ in range(2000):
        row = (rng.choice("ab"), rng.randint(1, 3), f"t{rng.randint(0, 30):02}", f"e{rng.randint(0, 9)}")
        if rng.random() < 0.6:
            index.add(row)
            model.add(row)
        else:
            index.discard(row)
            model.discard(row)
        if rng.random() < 0.05:
            for g in "ab":
                want = sorted(r[1:] for r in model if r[0] == g)
                assert list(index.iter_group((g,))) == want
                assert index.first((g,)) == (want[0] if want else None)
    assert index.groups() == sorted({(r[0],) for r in model})
    scratch.close()


def _ballot_with_a_revote_after_eviction() -> tuple[History, str]:
    # tests/verifier_rules/conftest.py keeps 2 values per map: voter 0's first vote is on disk when the
    # revote and the second vote_cast come, and has to be read back.
    h = History()
    h.city()
    ballot = h.ballot(method={"type": "approval", "max_choices": 2}, hours=24)
    h.vote(ballot, 0, ["a"])
    for v in range(1, 8):
        h.vote(ballot, v, ["b"])
    return h, ballot


def test_revote_replaces_an_evicted_vote_in_the_tally(tmp_path: Path) -> None:
    h, ballot = _ballot_with_a_revote_after_eviction()
    h.vote(ballot, 0, ["a", "b"])  # vote_changed: only this one counts
    h.wait(hours=25)
    h.close_ballot(ballot, {"voters": 8, "counts": {"a": 1, "b": 8, "c": 0}, "funded": None})
    report = audit(h.write(tmp_path / "ok"))
    assert codes(report, 4) == []
    assert next(s for s in report.steps if s.number == 4).stats["rule_state_values_spilled_to_disk"] > 0

    h.events.pop()  # a tally that counts voter 0 twice
    h.close_ballot(ballot, {"voters": 9, "counts": {"a": 2, "b": 8, "c": 0}, "funded": None})
    [f] = findings(audit(h.write(tmp_path / "twice")), 4)
    assert (f.code, f.index) == ("tally_mismatch", len(h.events) - 1)


def test_duplicate_vote_found_after_the_first_vote_was_evicted(tmp_path: Path) -> None:
    h, ballot = _ballot_with_a_revote_after_eviction()
    h.vote(ballot, 0, ["b"], etype="ballot.vote_cast")  # a second vote_cast in voter 0's stream
    h.wait(hours=25)
    h.close_ballot(ballot, {"voters": 8, "counts": {"a": 1, "b": 7, "c": 0}, "funded": None})  # not counted
    [f] = findings(audit(h.write(tmp_path / "dup")), 4)
    assert (f.code, f.index, f.found) == ("second_vote_cast", len(h.events) - 2, 2)


def test_duplicate_child_found_after_the_first_entry_was_evicted(tmp_path: Path) -> None:
    h = History()
    q = h.queue()
    h.register_child(q, 1)
    for n in range(2, 10):
        h.register_child(q, n)
    first = h.events[-9]
    h.register_child(q, 10)
    h.events[-1]["data"]["child"] = first["data"]["child"]  # a second waiting entry for child 1
    report = audit(h.write(tmp_path / "b"))
    assert "duplicate_child" in codes(report, 4)


def test_key_filter_never_misses_a_written_key_across_growth() -> None:
    written: list[str] = []
    f = KeyFilter(lambda: iter(written), bits=64)
    for i in range(0, 5000, 250):
        batch = [f"stream-{j}" for j in range(i, i + 250)]
        written.extend(batch)
        f.add_all(batch)
        assert all(k in f for k in written)
    false = sum(f"other-{j}" in f for j in range(10_000))
    assert false < 1000  # about 2% expected
