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


def test_service_revoke_refuses_bad_input(data: Path, tmp_path: Path) -> None:
    d = str(data)
    unknown = hromada("service", "revoke", "nobody", "--reason", "x", "--data-dir", d)
    assert unknown.exit_code == 1 and "no such service 'nobody'" in unknown.output
    assert hromada("service", "add", "city.education", "--scope", "petition:*", "--data-dir", d).exit_code == 0
    no_reason = hromada("service", "revoke", "city.education", "--data-dir", d)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank = hromada("service", "revoke", "city.education", "--reason", "  ", "--data-dir", d)
    assert blank.exit_code == 1 and "reason" in blank.output
    elsewhere = tmp_path / "typo"
    mistyped = hromada("service", "revoke", "city.education", "--reason", "x", "--data-dir", str(elsewhere))
    assert mistyped.exit_code == 2 and "no ledger at" in mistyped.output and not elsewhere.exists()


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
    assert hromada("rules", "publish", "kyiv", "--data-dir", str(tmp_path / "typo")).exit_code == 2
    with ledger_of(data) as ledger:
        assert sorted(ledger.app.projections.rule_sets.items()) == [("kyiv", 1)]


def test_rules_publish_takes_the_queue_and_ballot_statutes(data: Path, tmp_path: Path) -> None:
    """The shipped kindergarten, housing and ballot statutes by name, and a file of one's own for any kind; a rule
    set whose rules do not fit its kind is refused naming the field."""
    from domain.kindergarten.rules import STATUTES

    d = str(data)
    _legal(d)
    for name in ("kindergarten-example", "housing-example", "budget-example"):
        r = hromada("rules", "publish", name, "--data-dir", d)
        assert r.exit_code == 0 and f"published {name} version 1" in r.output, r.output
    own = tmp_path / "kg.json"
    doc = STATUTES["kindergarten-example"]
    own.write_text(json.dumps({**doc, "rules": {**doc["rules"], "acceptance_days": 14}}), encoding="utf-8")
    assert hromada("rules", "publish", str(own), "--version", "2", "--data-dir", d).exit_code == 0
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**doc, "ruleset": "x", "rules": {**doc["rules"], "benefits": []}}), encoding="utf-8")
    r = hromada("rules", "publish", str(wrong), "--data-dir", d)
    assert r.exit_code == 1 and "rules.benefits" in r.output, r.output
    listed = [line.split("  ")[:3] for line in hromada("rules", "list", "--data-dir", d).output.splitlines()]
    assert listed == [
        ["budget-example", "v1", "ballot"],
        ["housing-example", "v1", "housing"],
        ["kindergarten-example", "v2", "kindergarten"],
    ]
    with ledger_of(data) as ledger:
        published = ledger.app.get_rule_set("kindergarten-example")
        assert published.state["rules"]["acceptance_days"] == 14


def kyiv_statute() -> dict[str, Any]:
    from domain.petitions.rules import STATUTES

    return dict(STATUTES["kyiv"])


# -- erase ---------------------------------------------------------------------------------------------------
def _entry(data_dir: Path) -> str:
    """A kindergarten entry with a child's data in the vault; its vault subject."""
    from domain.identity import CitizenIdentity

    assert hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", str(data_dir))
    with ledger_of(data_dir) as ledger:
        app = ledger.app
        edu = Actor.service("city.education")
        q = app.create_kindergarten_queue(by=edu, name="Дитсадки", institutions=["ds-1"], at=datetime.now(UTC))
        entry = app.register_kindergarten_entry(
            by=CitizenIdentity("dev:mom", "diia"),
            queue_id=q,
            child_key="CERT-1",
            child_data={"name": "Марія"},
            birth_year=2023,
            institutions=["ds-1"],
            at=datetime.now(UTC),
        )
        return str(app.kindergarten_subject(entry))


def test_erase_shreds_the_subject_and_the_log_records_it(data: Path, tmp_path: Path) -> None:
    d = str(data)
    subject = _entry(data)
    r = hromada("erase", subject, "--reason", "subject_request", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"erased {subject} (subject_request) at ")
    with ledger_of(data) as ledger:
        assert not ledger.app.vault.holds(subject)
        assert ledger.app.erasure(subject)["reason"] == "subject_request"
    again = hromada("erase", subject, "--reason", "subject_request", "--data-dir", d)
    assert again.exit_code == 1 and "already erased" in again.output

    # the exported bundle holds the erasure (no personal data) and audits clean
    bundle = tmp_path / "b.tar.gz"
    assert hromada("checkpoint", "--data-dir", d).exit_code == 0
    exported = hromada("export", "--data-dir", d, "--out", str(bundle))
    assert exported.exit_code == 0, exported.output
    from verifier.cli import app as verify

    audited = runner.invoke(verify, ["audit", str(bundle), "--offline", "--json"])
    assert audited.exit_code == 0, audited.output
    report = json.loads(audited.output)
    assert all(not s["findings"] for s in report["steps"]), report


def test_erase_refuses_bad_input(data: Path, tmp_path: Path) -> None:
    d = str(data)
    subject = _entry(data)
    unknown = hromada("erase", "kindergarten.nobody", "--reason", "court_order", "--data-dir", d)
    assert unknown.exit_code == 1 and "holds no personal data for 'kindergarten.nobody'" in unknown.output
    bad_subject = hromada("erase", "petition.x", "--reason", "court_order", "--data-dir", d)
    assert bad_subject.exit_code == 1 and "kindergarten.<entry id> or housing.<entry id>" in bad_subject.output
    free_text = hromada("erase", subject, "--reason", "mother asked", "--data-dir", d)
    assert free_text.exit_code == 1 and "unknown erasure reason" in free_text.output
    no_reason = hromada("erase", subject, "--data-dir", d)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    missing_dir = hromada("erase", subject, "--reason", "court_order", "--data-dir", str(tmp_path / "nope"))
    assert missing_dir.exit_code == 2 and "no ledger at" in missing_dir.output
    with ledger_of(data) as ledger:
        assert ledger.app.vault.holds(subject)  # nothing was erased


# -- keys rotate-pseudonym -----------------------------------------------------------------------------------
def _open_things(data_dir: Path, n: int) -> tuple[Any, Any]:
    """A petition (under kyiv) and a kindergarten queue opened now; their ids."""
    from domain.identity import CitizenIdentity

    with ledger_of(data_dir) as ledger:
        app = ledger.app
        now = datetime.now(UTC)
        p = app.create_petition(
            by=CitizenIdentity(f"dev:author{n}", "diia"), title=f"P{n}", text="t", rule_set="kyiv", at=now
        )
        q = app.create_kindergarten_queue(
            by=Actor.service("city.education"), name=f"Q{n}", institutions=["ds-1"], at=now
        )
        return p, q


def _register(app: Any, q: Any, who: str) -> str:
    from domain.identity import CitizenIdentity

    entry = app.register_kindergarten_entry(
        by=CitizenIdentity(who, "diia"),
        queue_id=q,
        child_key=f"CERT-{who}",
        child_data={"name": "Марія"},
        birth_year=2023,
        institutions=["ds-1"],
        at=datetime.now(UTC),
    )
    return str(app.get_kindergarten_queue(q).entry(entry)["applicant"])


def test_rotate_pseudonym_adds_a_current_version_and_open_aggregates_keep_theirs(data: Path, tmp_path: Path) -> None:
    d = str(data)
    _legal(d)
    assert hromada("rules", "publish", "kyiv", "--data-dir", d).exit_code == 0
    assert (
        hromada("service", "add", "city.education", "--scope", "queue:kindergarten:*", "--data-dir", d).exit_code == 0
    )
    p1, q1 = _open_things(data, 1)
    keys = data / "pseudonym.keys"
    before = keys.read_text().strip()
    assert before.startswith("1=") and "," not in before

    r = hromada("keys", "rotate-pseudonym", "--data-dir", d)
    assert r.exit_code == 0, r.output
    assert "pseudonym key version 2 added" in r.output and "(versions 1, 2)" in r.output
    after = keys.read_text().strip()
    assert after.startswith(before + ",2=") and after.split(",2=")[1] not in r.output  # old key kept, new one not shown
    assert keys.stat().st_mode & 0o777 == 0o600
    assert not list(data.glob(".pseudonym.keys.*"))  # no partial file left

    p2, q2 = _open_things(data, 2)
    with ledger_of(data) as ledger:
        app = ledger.app
        assert app.pseudonymizer.current == 2 and app.pseudonymizer.versions() == [1, 2]
        assert app.get_petition(p1).state["pseudonym_key"] == 1 and app.get_petition(p2).state["pseudonym_key"] == 2
        assert str(app.get_petition(p2).state["author"]).startswith("cit:v2:")
        queues = (app.get_kindergarten_queue(q1), app.get_kindergarten_queue(q2))
        assert [q.state["pseudonym_key"] for q in queues] == [1, 2]
        # the same citizen: v1 pseudonym in the queue opened before, v2 in the new one
        assert _register(app, q1, "dev:mom").startswith("cit:v1:")
        assert _register(app, q2, "dev:mom").startswith("cit:v2:")

    again = hromada("keys", "rotate-pseudonym", "--data-dir", d)
    assert again.exit_code == 0 and "version 3" in again.output and "(versions 1, 2, 3)" in again.output

    assert hromada("checkpoint", "--data-dir", d).exit_code == 0
    bundle = tmp_path / "rotated.tar.gz"
    assert hromada("export", "--data-dir", d, "--out", str(bundle)).exit_code == 0
    from verifier.cli import app as verify

    audited = runner.invoke(verify, ["audit", str(bundle), "--offline", "--json"])
    assert audited.exit_code == 0, audited.output


def test_rotate_pseudonym_refuses_what_it_cannot_rotate(data: Path, tmp_path: Path) -> None:
    inline = f"1={'ab' * 32}"
    r = runner.invoke(
        app, ["keys", "rotate-pseudonym", "--data-dir", str(data)], env={"HROMADA_PSEUDONYM_KEYS": inline}
    )
    assert r.exit_code == 1 and "holds the keys themselves" in r.output and inline not in r.output
    missing = hromada("keys", "rotate-pseudonym", "--data-dir", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "no ledger at" in missing.output
    broken = tmp_path / "broken.keys"
    broken.write_text("1=not-hex\n")
    r = runner.invoke(
        app, ["keys", "rotate-pseudonym", "--data-dir", str(data)], env={"HROMADA_PSEUDONYM_KEYS": str(broken)}
    )
    assert r.exit_code == 1 and "malformed pseudonym key list" in r.output
    assert broken.read_text() == "1=not-hex\n"  # untouched
    # a key file named by the setting is rotated in place
    named = tmp_path / "secret" / "pseudonym.keys"
    named.parent.mkdir()
    named.write_text(f"1={'cd' * 32};current=1\n")
    r = runner.invoke(
        app, ["keys", "rotate-pseudonym", "--data-dir", str(data)], env={"HROMADA_PSEUDONYM_KEYS": str(named)}
    )
    assert r.exit_code == 0, r.output
    assert named.read_text().startswith(f"1={'cd' * 32},2=") and ";current" not in named.read_text()
