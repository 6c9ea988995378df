"""Headless Chromium driven by Selenium for the booth's tests and bench. Needs Debian `chromium` and
`chromium-driver` on PATH (a system prerequisite, as for tests/api/test_page.py); this module never installs them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


class ChromiumMissing(RuntimeError):
    pass


@contextmanager
def chromium() -> Iterator[Any]:
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_path):
        raise ChromiumMissing(
            "chromium/chromedriver not on PATH (system prerequisite: apt-get install chromium chromium-driver)"
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="booth-chromium-") as profile:
        opts.add_argument(f"--user-data-dir={profile}")
        drv = webdriver.Chrome(service=Service(driver_path), options=opts)
        drv.set_page_load_timeout(30)
        drv.set_script_timeout(60)
        drv.set_window_size(390, 844)  # a 390 px wide phone (the flag --window-size is clamped to 500 in headless)
        try:
            yield drv
        finally:
            drv.quit()
