"""The voting booth (docs/voting.md "The booth"): a static page that encrypts a citizen's ballot on their device.

``mount_booth(app)`` serves ``/booth/`` (booth.html), its scripts and styles from ``api/static/booth/``, and the two
pinned libraries it runs on (``@noble/curves``, ``@noble/hashes``) as their published ESM files straight from
``tools/node_modules`` (installed by ``make node-deps``; nothing is bundled, nothing is fetched at run time). Static,
public, no auth: the page takes the ballot id and the citizen's token from the URL fragment or a form, and calls the
ballot routes of the API from the browser.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

BOOTH = Path(__file__).parent / "static" / "booth"
NOBLE = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / "@noble"
LIBRARIES = ("curves", "hashes")

log = logging.getLogger(__name__)


def mount_booth(app: FastAPI, noble: Path = NOBLE) -> None:
    """Serve the booth under ``/booth/``. A missing library directory is logged (its files then answer 404)."""
    for lib in LIBRARIES:
        if not (noble / lib / "package.json").exists():
            log.warning("booth: %s missing; run `make node-deps` (the booth cannot encrypt without it)", noble / lib)
        app.mount(f"/booth/lib/{lib}", StaticFiles(directory=noble / lib, check_dir=False), name=f"booth-{lib}")

    @app.get("/booth", include_in_schema=False)
    def booth_redirect() -> RedirectResponse:
        return RedirectResponse("/booth/", status_code=308)

    @app.get("/booth/", include_in_schema=False)
    def booth_page() -> FileResponse:
        return FileResponse(BOOTH / "booth.html", media_type="text/html; charset=utf-8")

    app.mount("/booth", StaticFiles(directory=BOOTH), name="booth")
