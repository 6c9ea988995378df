"""The receipt page passes axe-core (WCAG 2.0/2.1 A and AA rules) in Chromium, empty and with a verified, a failed
and a partly checked result, at 1280 and at 390 CSS pixels; at 390 px nothing scrolls sideways and the details
are not squeezed into a narrow column (issue #16: "six characters per line")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.receipt_site import (
    AXE,
    ORIGIN,
    Site,
    Witness,
    axe_violations,
    check_page,
    chromium,
    chromium_paths,
    with_lines,
)
from tests.api.rpc_stub import RpcStub
from tests.ports import free_port

CONTRACT = "0x" + "ab" * 20


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if chromium_paths() is None:
        pytest.fail("chromium/chromedriver missing: apt-get install chromium chromium-driver (tests install nothing)")
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `make node-deps` (axe-core is pinned in tools/package.json)")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as drv:
        yield drv


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("receipt-site"))
    try:
        yield s
    finally:
        s.close()


def viewport(browser: Any, width: int) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def cases(site: Site, chain: RpcStub) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(expected status, the page's pins, the receipt): verified, failed (a fabricated anchor), unverifiable
    (the chain RPC cannot be reached)."""
    w = Witness("w1.example")
    pins: dict[str, Any] = {
        "log_key": site.log_key,
        "rpc_url": chain.url,
        "chain_id": chain.chain_id,
        "contract": CONTRACT,
        "witnesses": [{"name": "w1", "key": w.verifier_key}],
    }
    anchor = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
    good = {**with_lines(site.receipt, w.cosign(site.body)), "anchor": anchor, "status": "anchored"}
    return [
        ("ok", pins, good),
        ("fail", pins, {**good, "anchor": {**anchor, "root": "11" * 32}}),
        ("partial", {**pins, "rpc_url": f"http://127.0.0.1:{free_port()}/"}, good),
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_no_axe_violations_and_a_readable_narrow_layout(browser: Any, site: Site, width: int) -> None:
    chain = RpcStub(11155111)
    try:
        viewport(browser, width)
        browser.get(site.url + "/")
        assert axe_violations(browser) == []
        for expected, pins, receipt in cases(site, chain):
            site.pin(**pins)
            status, text = check_page(browser, site.url, receipt)
            assert status == expected, text
            assert axe_violations(browser) == [], expected
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{expected} at {width}px scrolls sideways by {overflow}px"
            dd = browser.execute_script(
                "return Array.from(document.querySelectorAll('#result dd'), (e) => e.getBoundingClientRect().width)"
            )
            assert dd and min(dd) >= min(width * 0.7, 500), f"{expected} at {width}px: details column {dd}"
    finally:
        chain.close()
        viewport(browser, 1280)
