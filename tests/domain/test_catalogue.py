"""The catalogue the projections keep for the open-data lists: kept incrementally as events are applied, equal to a
replay of the log in any delivery order, streams move between filtered lists when their status changes, and a page
after a key continues strictly after it."""

from __future__ import annotations

from domain.catalogue import Catalogue, index_keys
from domain.petitions.rules import SUMY
from domain.projections import Projections, record_of
from tests.domain.conftest import CITY, EDU, T0, citizen, days, make_app


def _ids(projections: Projections, name: str, limit: int = 100, **filters: str) -> list[str]:
    return [s for _, s in projections.catalogue.page(name, filters, limit=limit).streams]


def test_incremental_equals_replay_and_status_moves() -> None:
    app = make_app()
    pids = [
        str(app.create_petition(by=citizen(i), title=f"t{i}", text="x", rules=SUMY, at=T0 + days(i))) for i in range(4)
    ]
    live = app.projections
    assert _ids(live, "petitions") == pids and _ids(live, "petitions", status="pending") == pids
    app.publish_petition(by=CITY, petition_id=pids[1], at=T0 + days(5))
    app.reject_petition(by=CITY, petition_id=pids[2], reason="no", at=T0 + days(5))
    assert _ids(live, "petitions", status="pending") == [pids[0], pids[3]]
    assert _ids(live, "petitions", status="published") == [pids[1]]
    assert _ids(live, "petitions", status="rejected") == [pids[2]]
    assert _ids(live, "petitions") == pids  # the unfiltered list keeps its order
    for i in range(3):
        app.sign_petition(by=citizen(f"s{i}"), petition_id=pids[1], at=T0 + days(6 + i))
    q = str(app.create_kindergarten_queue(by=EDU, name="q", institutions=["k1", "k2"], at=T0 + days(9)))
    assert _ids(live, "queues", institution="k2") == [q] and _ids(live, "queues", kind="housing") == []

    records = [record_of(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 1000)]
    replayed, shuffled = Projections(), Projections()
    replayed.apply_all(records)
    for r in reversed(records):
        shuffled.apply(r)
    for p in (replayed, shuffled):
        assert p.catalogue.lists == live.catalogue.lists
        assert p.catalogue.signers == live.catalogue.signers
    signers = live.catalogue.signer_page(pids[1], after=None, limit=10).streams
    assert len(signers) == 3 and [t for t, _ in signers] == sorted(t for t, _ in signers)
    assert all("diia" not in s for _, s in signers)  # pseudonyms, not subjects


def test_pages_after_a_key_and_time_bounds() -> None:
    c = Catalogue()
    state = {"status": "pending"}
    for i in range(10):
        c.update("petitions", f"s{i}", f"2026-01-0{i % 5 + 1}T00:00:00.000000Z", state)
    page = c.page("petitions", {}, limit=4)
    assert len(page.streams) == 4 and page.more == page.streams[-1]
    seen = list(page.streams)
    while page.more is not None:
        page = c.page("petitions", {}, after=page.more, limit=4)
        seen += page.streams
    assert seen == sorted(seen) and len(set(seen)) == 10
    bounded = c.page("petitions", {}, start="2026-01-02T00:00:00.000000Z", end="2026-01-04T00:00:00.000000Z", limit=10)
    assert {t for t, _ in bounded.streams} == {"2026-01-02T00:00:00.000000Z", "2026-01-03T00:00:00.000000Z"}
    assert bounded.more is None
    exact = c.page("petitions", {}, limit=10)
    assert exact.more is None and len(exact.streams) == 10  # a full last page says it is the last
    c.update("elsewhere", "x", "2026-01-01T00:00:00.000000Z", state)  # a kind without facets is not listed
    assert not c.listed("x")


def test_index_keys_cover_every_combination() -> None:
    keys = index_keys("ballots", {"status": ("open",), "district": ("a", "b")})
    assert keys == {
        ("ballots", ()),
        ("ballots", (("status", "open"),)),
        ("ballots", (("district", "a"),)),
        ("ballots", (("district", "b"),)),
        ("ballots", (("district", "a"), ("status", "open"))),
        ("ballots", (("district", "b"), ("status", "open"))),
    }
