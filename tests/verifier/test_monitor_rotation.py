"""The monitor after the log's key rotation (docs/formats.md §3): pinned to the ORIGINAL key, it follows the
hand-overs the ledger lists at ``GET /v1/log/handovers`` and keeps following the log; a checkpoint signed by the
retired key after its hand-over, or a hand-over list that does not reach the signing key, is an alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hromada.demo import Demo
from ledger import note
from ledger.config import Settings
from ledger.keys import generate_signer_file
from ledger.runtime import Ledger
from verifier.monitor.follow import Monitor
from verifier.note import parse_checkpoint_body, parse_note, parse_verifier_key


@pytest.fixture
def city(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with Ledger(Settings(data_dir=tmp_path / "data")) as ledger:
        demo = Demo(ledger, events=200, seed=5)
        demo.register_services()
        demo.publish_statutes()
        demo.kindergarten()
        demo.checkpoint()
        old = ledger.signer
        original = old.verifier_key
        with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
            yield {"ledger": ledger, "demo": demo, "original": original, "old": old, "client": client}


def _monitor(city: dict[str, Any], state: Path, client: httpx.Client | None = None) -> Monitor:
    return Monitor("http://testserver", state, parse_verifier_key(city["original"]), client=client or city["client"])


def _rotate(city: dict[str, Any], tmp_path: Path) -> None:
    ledger = city["ledger"]
    ledger.rotate_key(generate_signer_file(tmp_path / "new.key", ledger.settings.origin))
    city["demo"].housing()
    city["demo"].checkpoint()


def test_a_checkpoint_of_the_retired_key_after_its_hand_over_alerts(city: dict[str, Any], tmp_path: Path) -> None:
    _rotate(city, tmp_path)
    old: note.Signer = city["old"]

    def handle(request: httpx.Request) -> httpx.Response:
        answer = city["client"].get(request.url.path)
        body = answer.content
        if request.url.path == "/checkpoint":  # the operator signs the current tree with the retired key
            cp = parse_checkpoint_body(parse_note(body).text)
            body = old.sign(note.format_checkpoint(cp.origin, cp.size, cp.root, [])).encode()
        return httpx.Response(answer.status_code, content=body)

    assert not _monitor(city, tmp_path / "m").run_round().findings  # it has seen the hand-over (kept on disk)
    city["demo"].petitions()  # more events, and a checkpoint the operator signs with the retired key
    city["demo"].checkpoint()
    got = _monitor(city, tmp_path / "m", httpx.Client(transport=httpx.MockTransport(handle))).run_round()
    assert [f.code for f in got.findings] == ["monitor_checkpoint_invalid"]
    assert "hand-over" in got.findings[0].message, got.findings[0].message


def test_a_hand_over_list_that_does_not_reach_the_key_alerts(city: dict[str, Any], tmp_path: Path) -> None:
    _rotate(city, tmp_path)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/log/handovers":  # the ledger hides its hand-over
            return httpx.Response(200, json={"handovers": []})
        answer = city["client"].get(request.url.path)
        return httpx.Response(answer.status_code, content=answer.content)

    got = _monitor(city, tmp_path / "m", httpx.Client(transport=httpx.MockTransport(handle))).run_round()
    assert [f.code for f in got.findings] == ["monitor_checkpoint_invalid"]


def test_the_monitor_follows_a_rotation_from_the_original_key(city: dict[str, Any], tmp_path: Path) -> None:
    before = _monitor(city, tmp_path / "m").run_round()
    assert not before.findings and before.size > 0
    _rotate(city, tmp_path)
    listed = city["client"].get("/v1/log/handovers").json()["handovers"]
    assert [h["old_key"] for h in listed] == [city["original"]]
    assert listed[0]["new_key"] == city["ledger"].signer.verifier_key
    after = _monitor(city, tmp_path / "m").run_round()  # a restart: the same state directory
    assert not after.findings, [f.message for f in after.findings]
    assert after.size > before.size and after.new == after.size - before.size
