"""`hromada demo --events N` at the sizes issue 14 names: its simulated time must fit the windows it opens.

At 100,000 events the encrypted budget's ballots, 600 simulated seconds apart, overran the ballot's 14 days, so
the clock closed it mid-phase and the next ballot was refused (`WindowClosed`: the command crashed); at a million
the petitions' signatures would overrun their 60-day period the same way. And the kindergarten's admission
campaign lasted longer the longer the queue (42 simulated years at a million), while every ignored offer expired
each 30 days and passed its place on: the log grew with the square of the size (1,584,912 events for
``--events 1000000``, 125,348 for 100,000). :func:`hromada.demo.spread` shrinks a phase's steps once they would
not fit its window, and leaves smaller demos' logs as they were."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hromada.demo import spread
from tests.hromada.demo_bundle import bundle_events, demo_bundle

DAY = 86400
CASTS = ("ballot.vote_cast", "ballot.vote_changed", "ballot.ballot_cast", "ballot.ballot_recast")


def _at(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def test_steps_that_fit_are_kept_and_steps_that_do_not_shrink_to_the_window() -> None:
    assert spread(600, 14 * DAY, 1) == 1.0
    assert spread(600, 14 * DAY, 2016) == 1.0  # 2,016 x 600 s is 14 days exactly
    assert spread(600, 14 * DAY, 4032) == 0.5
    assert spread(600, 14 * DAY, 0) == 1.0
    assert 600 * spread(600, 14 * DAY, 26_666) * 26_666 == pytest.approx(14 * DAY)


def test_the_demo_at_a_hundred_thousand_events_casts_every_ballot_within_its_window(tmp_path: Path) -> None:
    """The default demo (the encrypted budget included), as a user runs it at the issue's middle size."""
    events = bundle_events(demo_bundle(tmp_path, 100_000))
    assert 100_000 <= len(events) <= 120_000  # linear: the admission campaign once took longer with the queue
    windows: dict[str, tuple[datetime, datetime]] = {}
    for e in events:
        d = e["data"]
        assert isinstance(d, dict)
        if e["type"] == "ballot.opened":
            windows[str(e["stream"])] = (_at(d["opens_at"]), _at(d["closes_at"]))
    cast = [e for e in events if e["type"] in CASTS]
    assert sum(e["type"] in CASTS[2:] for e in cast) > 2_016  # encrypted: more than 600 s apart could fit
    for e in cast:
        d = e["data"]
        assert isinstance(d, dict)
        opens, closes = windows[str(d["ballot"])]
        assert opens <= _at(e["time"]) < closes, e["id"]
    closed = [e for e in events if e["type"] == "ballot.closed"]
    assert len(closed) == 2  # the open budget and the encrypted one, each closed with its tally
