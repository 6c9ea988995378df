"""Shared by the receipt page tests (tests/api/test_receipt_page_*.py) and the screenshot script
(tests/api/receipt_screenshots.py): a served ledger with a signed petition, headless Chromium driven by Selenium
(Debian `chromium` + `chromium-driver`, never installed from here), the page's pins switched per test, and
axe-core (pinned in tools/package.json, `make node-deps`) injected into the page."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.auth.keys import add_service
from api.auth.tokens import DevIssuer
from api.settings import ApiSettings
from ledger import note
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import publish_statutes
from tests.ports import free_port

ORIGIN = "receipts.hromada.local/city"
AXE = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / "axe-core" / "axe.min.js"
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PETITION_TITLE = "Ліхтарі в парку Шевченка"


def chromium_paths() -> tuple[str, str] | None:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    import os

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are missing: apt-get install chromium chromium-driver")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = paths[0]
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    drv = webdriver.Chrome(service=Service(paths[1]), options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


class Site:
    """A ledger served on 127.0.0.1 with one published petition and one signature under it (the receipt)."""

    def __init__(self, data_dir: Path) -> None:
        self.ledger = Ledger(Settings(data_dir=data_dir, origin=ORIGIN, checkpoint_every_events=1))
        self.app = create_app(self.ledger, settings=ApiSettings())
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=free_port(), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.server.config.port}"
        issuer = DevIssuer(data_dir)
        council = {"Authorization": f"Bearer {add_service(self.ledger, 'city.council', ['petition:*'])}"}
        publish_statutes(self.ledger)
        with httpx.Client(base_url=self.url) as http:
            r = http.post(
                "/v1/petitions",
                json={"title": PETITION_TITLE, "text": "Освітлення парку.", "rule_set": "hradyzk"},
                headers={"Authorization": f"Bearer {issuer.issue('author')}"},
            )
            assert r.status_code == 201, r.text
            pid = r.json()["petition_id"]
            assert http.post(f"/v1/petitions/{pid}/publish", headers=council).status_code == 200
            r = http.post(f"/v1/petitions/{pid}/signatures", headers={"Authorization": f"Bearer {issuer.issue('me')}"})
            assert r.status_code in (200, 201), r.text
            self.event = r.json()["events"][0]
            assert self.event["type"] == "petition.signed"
            for i in range(3):  # more leaves so the proof has several steps
                token = issuer.issue(f"s{i}")
                http.post(f"/v1/petitions/{pid}/signatures", headers={"Authorization": f"Bearer {token}"})
            self.ledger.integrate_and_checkpoint()
            self.receipt: dict[str, Any] = http.get(self.event["receipt"]).json()
            self.log_key: str = http.get("/v1/log").json()["verifier_key"]
        assert self.receipt["status"] == "proved"

    @property
    def size(self) -> int:
        return int(self.receipt["checkpoint"].split("\n")[1])

    @property
    def root(self) -> bytes:
        return base64.b64decode(self.receipt["checkpoint"].split("\n")[2])

    @property
    def body(self) -> str:
        """The checkpoint body (what the log and the witnesses sign)."""
        note_text: str = self.receipt["checkpoint"]
        return note_text[: note_text.index("\n\n") + 1]

    def pin(self, **receipt_settings: Any) -> None:
        """Serve other deploy-time pins at /receipt-config.json (HROMADA_RECEIPT_<NAME>)."""
        fields = {f"receipt_{k}": v for k, v in receipt_settings.items()}
        self.app.state.api.settings = ApiSettings(**fields)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.ledger.close()


class Witness:
    """A C2SP witness key that cosigns checkpoint bodies (as `hromada witness serve` would)."""

    def __init__(self, name: str) -> None:
        self.signer = note.generate_signer(name)
        pub = self.signer.public_key
        self.verifier_key = note.Verifier(name, note.key_id(name, note.ALG_COSIGNATURE_V1, pub), pub, 4).verifier_key()

    def cosign(self, body: str, timestamp: int = 1_790_000_000) -> str:
        return note.cosign(body, self.signer.name, self.signer.seed, timestamp)


def with_lines(receipt: dict[str, Any], *lines: str) -> dict[str, Any]:
    """The receipt with signature lines appended to its checkpoint note (as GET /checkpoint serves cosignatures)."""
    return {**receipt, "checkpoint": receipt["checkpoint"] + "".join(lines)}


def check_page(browser: Any, url: str, receipt: dict[str, Any], key: str = "") -> tuple[str, str]:
    """Paste ``receipt`` into the page, press Verify; (data-status, the result's text)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/")
    browser.execute_script("document.getElementById('receipt').value = arguments[0];", json.dumps(receipt))
    if key:
        browser.execute_script("document.getElementById('key').value = arguments[0];", key)
    browser.find_element(By.ID, "verify").click()
    result = browser.find_element(By.ID, "result")
    WebDriverWait(browser, 30).until(lambda _: result.get_attribute("data-status") not in ("idle", None))
    return str(result.get_attribute("data-status")), str(result.text)


def axe_violations(browser: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1 A and AA violations of the page as it is now."""
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} missing: run `make node-deps` (axe-core is pinned in tools/package.json)")
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map((n) => n.target.join(' '))})))).catch((e) => done([{id: 'axe-error', help: String(e)}]));"
    )
    return list(found)
