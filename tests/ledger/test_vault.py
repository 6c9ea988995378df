"""The vault's SQL store (ledger/vault.py) on SQLite and PostgreSQL: values round-trip, a put replaces, put_many is
one transaction (all or nothing), and the vault seals and opens records through it."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import SubjectErased
from domain.pii import PersonalDataVault
from ledger.db.engine import make_engine
from ledger.vault import SqlKeyValueStore


@pytest.fixture
def store(database_url: str) -> Any:
    s = SqlKeyValueStore(make_engine(database_url))
    yield s
    s.close()


def test_get_put_replace_delete_and_prefixes(store: SqlKeyValueStore) -> None:
    assert store.get("a") is None and store.get_many([]) == []
    store.put("a", b"1")
    store.put("a", b"2")  # replaces
    store.put_many([("b/x", b"\x00\xff"), ("b/y", b"3")])
    assert store.get_many(["b/y", "nope", "a", "b/x"]) == [b"3", None, b"2", b"\x00\xff"]
    assert sorted(store.keys("b/")) == ["b/x", "b/y"]
    assert list(store.keys("b_")) == []  # LIKE wildcards in a prefix are literal
    store.delete("a")
    store.delete("a")  # deleting what is absent is no error
    assert store.get("a") is None


def test_put_many_writes_all_or_nothing(store: SqlKeyValueStore) -> None:
    store.put("kept", b"old")
    with pytest.raises(Exception, match=r"(?i)null"):  # the driver's error: the second key violates NOT NULL
        store.put_many([("kept", b"new"), (None, b"bad")])  # type: ignore[list-item]
    assert store.get("kept") == b"old"  # the first item was rolled back with the second


def test_the_vault_seals_opens_and_erases_through_it(store: SqlKeyValueStore) -> None:
    vault = PersonalDataVault(store, b"k" * 32)
    first = vault.seal("s1", {"name": "Олена"})
    second = vault.seal("s1", {"name": "Олена", "born": 2021})  # the same data key, a new record
    assert vault.open("s1", first).data == {"name": "Олена"}
    assert vault.open("s1", second).data == {"name": "Олена", "born": 2021}
    assert sorted(store.keys("")) == sorted(["dk/s1", f"rec/s1/{first}", f"rec/s1/{second}"])
    vault.erase("s1", at="2026-03-02T08:00:00.000000Z")
    assert sorted(store.keys("")) == ["erased/s1"]
    with pytest.raises(SubjectErased):
        vault.seal("s1", {"name": "again"})
