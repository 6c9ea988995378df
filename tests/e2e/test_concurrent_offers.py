"""Two city workers offer the same kindergarten place at the same moment from two processes' worth of
connections (two applications on one PostgreSQL database): exactly one offer is made."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.errors import DomainError
from hromada.demo import EDU, OPERATOR, citizen
from ledger.config import Settings
from ledger.runtime import Ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.postgres
def test_two_offers_for_one_place_cannot_both_succeed(pg_server_url: str, tmp_path: Path) -> None:
    from tests.pg import create_database

    url = create_database(pg_server_url).replace("postgresql://", "postgresql+psycopg://")
    settings = Settings(data_dir=tmp_path, database_url=url)
    with Ledger(settings) as first:
        app = first.app
        app.register_service(  # type: ignore[attr-defined]
            by=OPERATOR, service=EDU.id, name="Education", scopes=["queue:kindergarten:*"], at=T0
        )
        queue = app.create_kindergarten_queue(by=EDU, name="q", institutions=["dnz-1"], at=T0)  # type: ignore[attr-defined]
        for i in range(3):
            app.register_kindergarten_entry(  # type: ignore[attr-defined]
                by=citizen(i), queue_id=queue, child_key=f"c{i}", child_data={"name": f"c{i}"}, birth_year=2023,
                institutions=["dnz-1"], at=T0 + timedelta(minutes=i),
            )  # fmt: skip
        with Ledger(settings) as second:
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def offer(ledger: Ledger) -> None:
                barrier.wait()
                try:
                    ledger.app.issue_offer(  # type: ignore[attr-defined]
                        by=EDU, queue_id=queue, institution="dnz-1", birth_year=2023, place="group-1/seat-1",
                        at=T0 + timedelta(days=1),
                    )  # fmt: skip
                    outcomes.append("offered")
                except DomainError as e:
                    outcomes.append(type(e).__name__)

            threads = [threading.Thread(target=offer, args=(x,)) for x in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert sorted(outcomes) == ["PlaceUnavailable", "offered"]
        offers = [
            r
            for r in app.recorder.select_notifications(start=1, limit=1000)
            if b'"kindergarten.offer_issued"' in r.state
        ]
        assert len(offers) == 1
