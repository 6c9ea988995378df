"""The HTTP application. Minimal until the API issue: health and the latest signed checkpoint."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response

from ledger.checkpoints import latest_checkpoint


def create_app(ledger: Any) -> FastAPI:
    app = FastAPI(title="Hromada Ledger", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/checkpoint", response_class=Response)
    def checkpoint() -> Response:
        with ledger.engine.connect() as conn:
            cp = latest_checkpoint(conn)
        if cp is None:
            return Response("no checkpoint yet\n", status_code=404, media_type="text/plain")
        return Response(cp.note, media_type="text/plain; charset=utf-8")

    return app
