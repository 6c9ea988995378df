"""Idempotency-Key: the first answer to (principal, key) is stored with a hash of the request; a retry of the
same request gets that answer again (header `Idempotency-Replayed: true`) and writes nothing; the same key with
a different request is refused (422); a retry while the first is still running gets 409.

Answers with status < 500 are kept (so a retried domain refusal is refused identically); server errors are
not kept, the key is released and the client may retry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, domain_problem, ledger_problem
from api.schema import api_idempotency
from domain.errors import DomainError
from ledger.errors import LedgerError

MAX_KEY_CHARS = 200


def request_hash(method: str, path: str, body: Any) -> bytes:
    raw = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{raw}".encode()).digest()


def _json(result: Any) -> Any:
    """A route's result as JSON data: a pydantic model dumps itself in one call (what `jsonable_encoder` would
    produce, without walking the dumped dict again)."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return jsonable_encoder(result)


class IdempotencyStore:
    def __init__(self, engine: Engine, keep_seconds: float) -> None:
        self.engine = engine
        self.keep_seconds = keep_seconds
        self._last_purge = 0.0

    def _purge(self, now: float) -> None:
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        with self.engine.begin() as conn:
            conn.execute(delete(api_idempotency).where(api_idempotency.c.created < now - self.keep_seconds))

    def run(
        self,
        principal: str,
        key: str | None,
        digest: bytes,
        fn: Callable[[], Any],
        status_code: int,
    ) -> Response:
        """Run `fn` (returning a JSON-able result) at most once per (principal, key)."""
        if key is None:
            return JSONResponse(_json(fn()), status_code=status_code)
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            raise ApiProblem(
                422, "validation-error", "Validation error", "Idempotency-Key must be 1-200 printable characters"
            )
        now = time.time()
        self._purge(now)
        t = api_idempotency.c
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(api_idempotency).values(
                        principal=principal, key=key, request_hash=digest, status=0, created=now
                    )
                )
        except SqlIntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(select(api_idempotency).where(t.principal == principal, t.key == key)).first()
            if row is None:  # released in between: one more try is fine
                return self.run(principal, key, digest, fn, status_code)
            if bytes(row.request_hash) != digest:
                raise ApiProblem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused with another request",
                    "this Idempotency-Key was already used for a different request",
                ) from None
            if row.status == 0:
                raise ApiProblem(
                    409,
                    "idempotency-in-progress",
                    "Request with this idempotency key in progress",
                    "the first request with this key is still running; retry later",
                    headers={"Retry-After": "1"},
                ) from None
            return Response(
                bytes(row.body or b""),
                status_code=int(row.status),
                media_type=row.media_type,
                headers={"Idempotency-Replayed": "true"},
            )
        response: Response
        try:
            response = JSONResponse(_json(fn()), status_code=status_code)
        except DomainError as e:
            response = domain_problem(e)
        except LedgerError as e:
            response = ledger_problem(e)
        except BaseException:
            self._release(principal, key)
            raise
        if response.status_code >= 500:
            self._release(principal, key)
            return response
        media = PROBLEM_MEDIA_TYPE if response.status_code >= 400 else "application/json"
        with self.engine.begin() as conn:
            conn.execute(
                update(api_idempotency)
                .where(t.principal == principal, t.key == key)
                .values(status=response.status_code, media_type=media, body=bytes(response.body))
            )
        return response

    def _release(self, principal: str, key: str) -> None:
        t = api_idempotency.c
        with self.engine.begin() as conn:
            conn.execute(delete(api_idempotency).where(t.principal == principal, t.key == key))
