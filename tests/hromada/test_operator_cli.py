"""The operator commands of issue #15 through `hromada`: `service revoke|scopes`, `rules publish|list`, `erase`,
`keys rotate-pseudonym`. Each one writes through the domain's command (the same one the API runs), says what it did,
and refuses bad input with a message and a non-zero exit."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain import errors
from domain.identity import Actor
from hromada.cli import app
from hromada.settings import load
from ledger.runtime import Ledger

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HROMADA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "city"
    assert hromada("init", "--data-dir", str(d)).exit_code == 0
    return d


def hromada(*args: str) -> Any:
    return runner.invoke(app, list(args))


def ledger_of(data_dir: Path) -> Ledger:
    return Ledger(load(ledger={"data_dir": data_dir}).ledger)


# -- service revoke / scopes ---------------------------------------------------------------------------------
def test_service_revoke_revokes_the_service_in_the_log_and_its_keys(data: Path) -> None:
    d = str(data)
    assert (
        hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d).exit_code == 0
    )
    assert (
        hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d).exit_code == 0
    )
    r = hromada("service", "revoke", "city.education", "--reason", "department merged", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert "revoked city.education (2 API keys revoked)" in r.output
    keys = hromada("service", "keys", "--data-dir", d)
    assert keys.output.count("revoked ") == 2 and "active" not in keys.output

    with ledger_of(data) as ledger:
        svc = ledger.app.get_service("city.education")
        assert svc.revoked
        with pytest.raises(errors.ServiceRevoked):  # its writes are refused by the domain
            ledger.app.create_kindergarten_queue(
                by=Actor.service("city.education"), name="x", institutions=["a"], at=datetime.now(UTC)
            )

    again = hromada("service", "revoke", "city.education", "--reason", "again", "--data-dir", d)
    assert again.exit_code == 1 and "already revoked" in again.output
    readd = hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d)
    assert readd.exit_code == 1 and "revoked" in readd.output and "hk_" not in readd.output


def test_service_revoke_refuses_bad_input(data: Path) -> None:
    d = str(data)
    unknown = hromada("service", "revoke", "nobody", "--reason", "x", "--data-dir", d)
    assert unknown.exit_code == 1 and "no such service 'nobody'" in unknown.output
    assert hromada("service", "add", "city.education", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    no_reason = hromada("service", "revoke", "city.education", "--data-dir", d)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank = hromada("service", "revoke", "city.education", "--reason", "  ", "--data-dir", d)
    assert blank.exit_code == 1 and "reason" in blank.output


def test_service_scopes_replaces_the_logged_scopes(data: Path) -> None:
    d = str(data)
    assert hromada("service", "add", "city.education", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    r = hromada(
        "service", "scopes", "city.education", "--scope", "queue:housing:*", "--scope", "ballot:open", "--data-dir", d
    )
    assert r.exit_code == 0, r.output
    assert "city.education: ballot:open, queue:housing:*" in r.output
    with ledger_of(data) as ledger:
        assert ledger.app.get_service("city.education").scopes == ["ballot:open", "queue:housing:*"]
    same = hromada(
        "service", "scopes", "city.education", "--scope", "queue:housing:*", "--scope", "ballot:open", "--data-dir", d
    )
    assert same.exit_code == 1 and "unchanged" in same.output
    bad = hromada("service", "scopes", "city.education", "--scope", "Bad Scope", "--data-dir", d)
    assert bad.exit_code == 1 and "malformed scope" in bad.output
    unknown = hromada("service", "scopes", "nobody", "--scope", "x", "--data-dir", d)
    assert unknown.exit_code == 1 and "no such service" in unknown.output


# -- rules publish / list ------------------------------------------------------------------------------------
def _legal(d: str) -> None:
    assert hromada("service", "add", "city.legal", "--scope", "rules:admin", "--data-dir", d).exit_code == 0


def test_rules_publish_and_list(data: Path, tmp_path: Path) -> None:
    d = str(data)
    _legal(d)
    empty = hromada("rules", "list", "--data-dir", d)
    assert empty.exit_code == 0 and "no rule sets published" in empty.output
    shipped = hromada("rules", "publish", "kyiv", "--data-dir", d)
    assert shipped.exit_code == 0, shipped.output
    assert "published kyiv version 1 (by city.legal)" in shipped.output

    from domain.petitions.rules import STATUTES

    own = tmp_path / "town.json"
    doc = {**STATUTES["hradyzk"], "$comment": "ignored", "rules": {**STATUTES["hradyzk"]["rules"], "threshold": 50}}
    own.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = hromada("rules", "publish", str(own), "--name", "town", "--version", "3", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert "published town version 3" in r.output

    listed = hromada("rules", "list", "--data-dir", d)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].startswith("kyiv  v1  petition  ") and lines[1].startswith("town  v3  petition  ")
    as_json = [json.loads(line) for line in hromada("rules", "list", "--json", "--data-dir", d).output.splitlines()]
    assert [(v["ruleset"], v["version"], v["rules"]["threshold"]) for v in as_json] == [
        ("kyiv", 1, 6000),
        ("town", 3, 50),
    ]

    # the same write path as POST /v1/rule-sets: in the log, by the service, and a petition can name it
    with ledger_of(data) as ledger:
        published = ledger.app.get_rule_set("town")
        assert published.state["version"] == 3 and published.state["rules"]["threshold"] == 50
        events = list(ledger.app.events.get(published.id))
        assert events[0].actor == {"kind": "service", "id": "city.legal"}


def test_rules_publish_refuses_bad_input(data: Path, tmp_path: Path) -> None:
    d = str(data)
    no_service = hromada("rules", "publish", "kyiv", "--data-dir", d)
    assert no_service.exit_code == 1 and "hromada service add city.legal --scope rules:admin" in no_service.output
    assert hromada("service", "add", "city.clerk", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    no_scope = hromada("rules", "publish", "kyiv", "--service", "city.clerk", "--data-dir", d)
    assert no_scope.exit_code == 1 and "lacks the required scope" in no_scope.output
    _legal(d)
    assert hromada("rules", "publish", "kyiv", "--data-dir", d).exit_code == 0
    twice = hromada("rules", "publish", "kyiv", "--data-dir", d)
    assert twice.exit_code == 1 and "already published" in twice.output

    missing = hromada("rules", "publish", str(tmp_path / "nope.json"), "--data-dir", d)
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    assert hromada("rules", "publish", str(bad_json), "--data-dir", d).exit_code == 2
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"ruleset": "x", "version": 1}), encoding="utf-8")
    r = hromada("rules", "publish", str(partial), "--data-dir", d)
    assert r.exit_code == 1 and "missing applies_to, rules, source" in r.output
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({**kyiv_statute(), "threshold": 2}), encoding="utf-8")
    r = hromada("rules", "publish", str(extra), "--data-dir", d)
    assert r.exit_code == 1 and "unknown field(s) threshold" in r.output
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**kyiv_statute(), "version": 2, "rules": {"threshold": "many"}}), encoding="utf-8")
    r = hromada("rules", "publish", str(wrong), "--data-dir", d)
    assert r.exit_code == 1 and "rules" in r.output
    assert hromada("rules", "publish", "kyiv", "--version", "0", "--data-dir", d).exit_code == 1
    with ledger_of(data) as ledger:
        assert sorted(ledger.app.projections.rule_sets.items()) == [("kyiv", 1)]


def kyiv_statute() -> dict[str, Any]:
    from domain.petitions.rules import STATUTES

    return dict(STATUTES["kyiv"])
