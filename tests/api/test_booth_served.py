"""The API serves the voting booth (api/booth.py): the page, its scripts, and every ES module they import, through
the page's import map, from the pinned @noble packages in tools/node_modules; none of it is in the OpenAPI schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.booth import mount_booth

IMPORT = re.compile(r"""(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*['"]([^'"]+)['"]""")


def test_the_booth_page_is_served_in_ukrainian_without_auth(client: Any) -> None:
    r = client.get("/booth/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<html lang="uk">' in r.text and "Таємне голосування" in r.text
    assert client.get("/booth", follow_redirects=False).headers["location"] == "/booth/"
    for asset in ("booth.js", "booth.css", "crypto.js"):
        assert client.get(f"/booth/{asset}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/booth")]


def test_every_module_the_booth_imports_resolves_through_the_import_map(client: Any) -> None:
    page = client.get("/booth/").text
    found = re.search(r'<script type="importmap">(.*?)</script>', page, re.S)
    assert found is not None
    imports: dict[str, str] = json.loads(found.group(1))["imports"]

    def resolve(spec: str, base: str) -> str:
        for prefix, target in imports.items():
            if spec.startswith(prefix):
                return target + spec[len(prefix) :]
        assert spec.startswith("."), f"bare import {spec!r} in {base} not covered by the import map"
        parts = base.rsplit("/", 1)[0].split("/")
        for piece in spec.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        return "/".join(parts)

    seen: set[str] = set()
    todo = ["/booth/booth.js"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        r = client.get(url)
        assert r.status_code == 200, url
        assert "javascript" in r.headers["content-type"], url
        for m in IMPORT.finditer(r.text):
            todo.append(resolve(m.group(1) or m.group(2), url))
    assert "/booth/lib/curves/secp256k1.js" in seen and "/booth/lib/hashes/sha2.js" in seen
    assert len(seen) > 5


def test_missing_libraries_are_logged_and_answer_a_problem_naming_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = FastAPI()
    mount_booth(app, noble=tmp_path / "nowhere")
    assert "make node-deps" in caplog.text
    with TestClient(app) as c:
        assert c.get("/booth/").status_code == 200
        r = c.get("/booth/lib/curves/secp256k1.js")
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert str(tmp_path / "nowhere" / "curves") in r.json()["detail"]
