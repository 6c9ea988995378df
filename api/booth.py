"""The voting booth (docs/voting.md "The booth"): a static page that encrypts a citizen's ballot on their device.

``mount_booth(app)`` serves ``/booth/`` (booth.html), its scripts and styles from ``api/static/booth/``, and the two
pinned libraries it runs on (``@noble/curves``, ``@noble/hashes``) as their published ESM files straight from
``tools/node_modules`` (installed by ``make node-deps``; nothing is bundled, nothing is fetched at run time). Static,
public, no auth: the page takes the ballot id and the citizen's token from the URL fragment or a form, and calls the
ballot routes of the API from the browser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.problems import problem_response

BOOTH = Path(__file__).parent / "static" / "booth"
NOBLE = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / "@noble"
LIBRARIES = ("curves", "hashes")

log = logging.getLogger(__name__)


def mount_booth(app: FastAPI, noble: Path = NOBLE) -> None:
    """Serve the booth under ``/booth/``. A missing library is logged, and its files answer a 503 problem naming
    the directory (the page then says it cannot load its cryptography)."""
    for lib in LIBRARIES:
        where = noble / lib
        if (where / "package.json").exists():
            app.mount(f"/booth/lib/{lib}", StaticFiles(directory=where), name=f"booth-{lib}")
            continue
        log.warning("booth: %s missing; run `make node-deps` (the booth cannot encrypt without it)", where)
        app.add_api_route(f"/booth/lib/{lib}/{{path:path}}", _missing(where), include_in_schema=False)

    @app.get("/booth", include_in_schema=False)
    def booth_redirect() -> RedirectResponse:
        return RedirectResponse("/booth/", status_code=308)

    @app.get("/booth/", include_in_schema=False)
    def booth_page() -> FileResponse:
        return FileResponse(BOOTH / "booth.html", media_type="text/html; charset=utf-8")

    app.mount("/booth", StaticFiles(directory=BOOTH), name="booth")


def _missing(where: Path) -> Callable[[str], JSONResponse]:
    def missing(path: str) -> JSONResponse:
        detail = f"{where} is not installed on this server (run `make node-deps`)"
        return problem_response(503, "not-ready", "Not ready", detail)

    return missing
