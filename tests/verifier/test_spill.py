"""verifier.spill: the on-disk half shared by step 1's stream versions and the rule steps' spill maps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from verifier.envelope import StreamVersions
from verifier.rules.store import Scratch
from verifier.spill import ABSENT, DiskTable, KeyFilter, ScratchFile


def test_disk_table_round_trip_replace_delete_scan_count() -> None:
    f = ScratchFile("hromada-verify-test-", "t.db")
    t = DiskTable(f, "t")
    assert not t.exists and not f.used
    assert t.get("a") is ABSENT and t.count() == 0 and list(t.scan()) == []
    t.delete("a")  # nothing written yet: no table, no error
    t.write([("b", 2), ("a", b"\x00bytes"), ("c/x", "three")])
    assert t.exists and f.used
    assert (t.get("a"), t.get("b"), t.get("c/x"), t.get("zz")) == (b"\x00bytes", 2, "three", ABSENT)
    t.write([("b", 20)])  # replaced, not duplicated
    assert t.get("b") == 20 and t.count() == 3
    t.delete("b")
    assert t.get("b") is ABSENT and t.count() == 2
    assert list(t.scan()) == [("a", b"\x00bytes"), ("c/x", "three")]
    assert list(t.scan("c/")) == [("c/x", "three")] and list(t.scan("d")) == []
    directory = Path(f.db.execute("PRAGMA database_list").fetchone()[2]).parent
    assert directory.exists()
    f.close()
    assert not directory.exists()  # the scratch file and its directory are gone


def test_disk_table_many_keys_in_random_batches_across_filter_growth() -> None:
    rng = random.Random(3)
    f = ScratchFile("hromada-verify-test-", "t.db")
    t = DiskTable(f, "t")
    t.filter_bits = 64  # grows many times
    truth: dict[str, int] = {}
    for _ in range(40):
        batch = {f"k{rng.randrange(5000)}": rng.randrange(10**6) for _ in range(200)}
        t.write(list(batch.items()))
        truth.update(batch)
        probe = rng.sample(sorted(truth), 50)
        assert all(t.get(k) == truth[k] for k in probe)
    assert all(t.get(f"never{n}") is ABSENT for n in range(200))
    assert t.count() == len(truth)
    assert list(t.scan()) == sorted(truth.items())
    f.close()


def test_disk_table_names_are_identifiers() -> None:
    with pytest.raises(ValueError, match="identifier"):
        DiskTable(ScratchFile("x", "t.db"), "t; DROP TABLE x")


def test_both_owners_use_the_disk_table() -> None:
    versions = StreamVersions(max_in_memory=4)
    versions.expected_streams = 100
    for i in range(20):
        versions.set(f"s{i:02}", i + 1)
    assert versions.spilled and isinstance(versions._disk, DiskTable)
    assert [versions.get(f"s{i:02}") for i in range(20)] == list(range(1, 21))
    assert versions._disk.filter_bits == 1 << 20  # sized from expected_streams (at least 2^20 bits)
    versions.close()
    scratch = Scratch(cache_items=4)
    m = scratch.map("m")
    for i in range(20):
        m[f"k{i:02}"] = i
        scratch.maintain()
    assert m._disk.exists and m.cached <= 4
    assert [m[f"k{i:02}"] for i in range(20)] == list(range(20))
    assert len(m) == 20 and [k for k, _ in m.items("k1")] == [f"k1{i}" for i in range(10)]
    scratch.close()


def test_key_filter_is_exported_where_it_was() -> None:
    from verifier import envelope

    assert envelope.KeyFilter is KeyFilter
