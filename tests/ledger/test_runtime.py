"""The ledger builds the city application from its settings (the domain reads none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.identity import Pseudonymizer
from hromada.settings import load
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.runtime import Ledger


def test_pseudonym_keys_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HROMADA_PSEUDONYM_KEYS is read by the settings tree (hromada/settings.py), handed to the ledger and by it to
    CityApp (tests/domain/test_app.py checks that CityApp itself refuses to start without a pseudonymizer and never
    looks at the environment)."""
    keys = f"1={'ab' * 32}"
    monkeypatch.delenv("HROMADA_PRODUCTION", raising=False)
    monkeypatch.setenv("HROMADA_PSEUDONYM_KEYS", keys)
    with Ledger(load(ledger={"data_dir": tmp_path}).ledger) as ledger:
        pseudonymizer = ledger.app.pseudonymizer  # type: ignore[attr-defined]
        assert pseudonymizer.current == 1
        assert pseudonymizer.citizen("diia:1") == Pseudonymizer.from_text(keys).citizen("diia:1")
    assert not (tmp_path / "pseudonym.keys").exists()  # the setting was used, nothing generated

    # without keys: a production ledger refuses to start
    monkeypatch.delenv("HROMADA_PSEUDONYM_KEYS")
    with pytest.raises(ConfigurationError, match="HROMADA_PSEUDONYM_KEYS"):
        Settings(
            data_dir=tmp_path,
            production=True,
            log_key="unused",
            database_url="sqlite://",
            vault_key="00" * 32,
            vault_url="sqlite://",
        )
    # a development ledger generates its keys once, 0600, and uses them
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        citizen = ledger.app.pseudonymizer.citizen("diia:1")  # type: ignore[attr-defined]
        generated = (tmp_path / "pseudonym.keys").read_text().strip()
        assert (tmp_path / "pseudonym.keys").stat().st_mode & 0o777 == 0o600
        assert citizen == Pseudonymizer.from_text(generated).citizen("diia:1")


def test_a_store_written_before_the_contexts_moved_still_loads(tmp_path: Path) -> None:
    """Rows name their event classes by topic; rows written when the aggregates lived in domain/petition.py,
    domain/queue_kindergarten.py, ... still decode (domain/topics.py), and the app decides on them."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select, update

    from domain.identity import Actor, CitizenIdentity

    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    operator, edu = Actor.system("operator"), Actor.service("kyiv.education")
    moved = {
        "domain.services.aggregate:": "domain.service:",
        "domain.kindergarten.aggregate:": "domain.queue_kindergarten:",
    }
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        app: Any = ledger.app
        app.register_service(by=operator, service="kyiv.education", name="Edu", scopes=["queue:*"], at=t0)
        queue = app.create_kindergarten_queue(by=edu, name="q", institutions=["k1"], at=t0)
        entry = app.register_kindergarten_entry(
            by=CitizenIdentity(subject="diia:1", method="diia"),
            queue_id=queue,
            child_key="c1",
            child_data={"name": "child"},
            birth_year=2024,
            institutions=["k1"],
            at=t0,
        )
        ev = ledger.integrator.events
        with ledger.engine.begin() as conn:
            for new, old in moved.items():
                conn.execute(update(ev).values(topic=func.replace(ev.c.topic, new, old)))
            topics = {t.split(":")[0] for t in conn.execute(select(ev.c.topic)).scalars()}
        assert topics == {"domain.service", "domain.queue_kindergarten"}
    with Ledger(Settings(data_dir=tmp_path)) as ledger:
        app = ledger.app
        assert app.get_service("kyiv.education").scopes == ["queue:*"]
        assert app.entry_positions(queue, entry) == {"k1": 1}
        offer = app.issue_offer(by=edu, queue_id=queue, institution="k1", birth_year=2024, place="p1", at=t0)
        app.accept_offer(by=edu, queue_id=queue, offer=offer, at=t0 + timedelta(days=1))
        assert app.get_kindergarten_queue(queue).entry(entry)["status"] == "placed"
