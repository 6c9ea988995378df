"""Issue #13 "Show it", end to end in real headless Chromium against the real API (not a stub): a 3-of-5 ceremony,
then a citizen opens the booth, chooses, audits one ballot (Benaloh: its choices shown, never sent), casts
another; voting ends, three trustees decrypt (two absent), the ballot closes with the cast choice counted; the
booth's tracker status then says "counted", and the receipt page says what the receipt is (a ballot and its
tracker, no choice) and verifies it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain.ballots.crypto import trustee as tr
from tests.api.conftest import integrate
from tests.api.receipt_site import check_page
from tests.api.test_secret_ballots import OPTIONS, TRUSTEES, _ceremony
from tests.booth.chromium import ChromiumMissing, chromium
from tests.booth.test_booth_page import _choose, _step, _wait
from tests.ports import free_port
from tests.witness.servers import serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as drv:
            yield drv
    except ChromiumMissing as e:
        pytest.fail(str(e))


def test_booth_to_counted_through_the_real_api(
    browser: Any, ledger: Any, clock: Any, api_settings: Any, service_key: Any, citizen: Any
) -> None:
    svc = service_key("city.council", "ballot:open", "ballot:close")
    keys = [service_key(t, "ballot:trustee") for t in TRUSTEES]
    voter = citizen("e2e-voter", district="podil")
    app = create_app(ledger, settings=api_settings, clock=clock, create_tables=False)
    with serve_in_thread(app, free_port()) as url, httpx.Client(base_url=url, timeout=30) as http:
        body = {
            "title": "Громадський бюджет 2027",
            "kind": "participatory_budget",
            "options": OPTIONS,
            "method": {"type": "budget", "budgets": {"podil": 1000, "obolon": 200}},
            "opens_at": clock.now.isoformat(),
            "closes_at": (clock.now + timedelta(days=7)).isoformat(),
            "trustees": TRUSTEES,
            "threshold": 3,
        }
        r = http.post("/v1/ballots", json=body, headers=svc)
        assert r.status_code == 201, r.text
        bid = str(r.json()["ballot_id"])
        secrets = _ceremony(http, bid, keys)
        assert http.post(f"/v1/ballots/{bid}/open", headers=svc).status_code == 201

        # the booth: choose, audit (never sent), choose again, cast
        token = voter["Authorization"].removeprefix("Bearer ")
        browser.get(f"{url}/booth/#ballot={bid}&token={token}")
        _step(browser, "choose")
        _choose(browser, ["park"])
        browser.find_element("id", "encrypt").click()
        _step(browser, "sealed")
        audited = browser.find_element("id", "tracker").text
        browser.find_element("id", "audit").click()
        _step(browser, "audited")
        assert browser.find_element("id", "audit-result").get_attribute("data-ok") == "true"
        assert browser.find_element("id", "audit-choices").get_attribute("data-ids") == "park"
        browser.find_element("id", "again").click()
        _step(browser, "choose")
        _choose(browser, ["gym", "lib"])
        browser.find_element("id", "encrypt").click()
        _step(browser, "sealed")
        cast = browser.find_element("id", "tracker").text
        assert cast != audited
        browser.find_element("id", "cast").click()
        _step(browser, "done")
        assert browser.find_element("id", "done-tracker").text == cast
        assert http.get(f"/v1/ballots/{bid}/trackers/{audited}").status_code == 404  # the audited one never arrived
        status = http.get(f"/v1/ballots/{bid}/trackers/{cast}").json()
        assert status["status"] == "cast"
        cast_event = status["event_id"]

        # the close: voting ends, trustees 1 and 4 absent, three shares, the tally
        clock.advance(days=8)
        assert http.post(f"/v1/ballots/{bid}/end", headers=svc).status_code == 200
        ceremony = http.get(f"/v1/ballots/{bid}/ceremony").json()
        for i in (2, 3, 5):
            share = tr.decryption_body(secrets[i], ceremony, http.get(f"/v1/ballots/{bid}").json())
            r = http.post(f"/v1/ballots/{bid}/decryption-shares", json=share, headers=keys[i - 1])
            assert r.status_code == 201, r.text
        closed = http.post(f"/v1/ballots/{bid}/close", headers=svc)
        assert closed.status_code == 200, closed.text
        assert closed.json()["tally"]["counts"] == {"park": 0, "gym": 1, "lib": 1, "ramps": 0}

        # the booth's status link now says counted
        browser.find_element("id", "status-link").click()
        _step(browser, "status")
        _wait(browser, lambda d: d.find_element("id", "status-result").get_attribute("data-status") == "counted")

        # the receipt of the cast ballot: the page says what it is, shows the tracker, never a choice, verifies it
        integrate(ledger)
        receipt = http.get(f"/v1/receipts/{cast_event}").json()
        assert "gym" not in json.dumps(receipt["event"]) and "lib" not in json.dumps(receipt["event"]["data"])
        result, text = check_page(browser, url, receipt)
        assert result in ("ok", "partial"), text  # nothing failed; the chain and key pins are not configured here
        assert "бюлетень" in text.lower() and cast[:8] in text
