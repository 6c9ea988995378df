"""The one place that turns errors into RFC 9457 problem responses (`application/problem+json`).

Every domain error (`domain.errors.DomainError` subclass) has a stable `code`; its problem `type` is
`https://hromada.example/problems/<code with dashes>` (e.g. `.../duplicate-signature`) and never changes.
Ledger errors, validation errors and the API's own refusals (authentication, scopes, rate limits, idempotency)
get their own stable types here. Bad input never produces a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as de
from ledger.errors import EnvelopeError, LedgerError, StorageTampered
from ledger.export import ExportError
from ledger.receipts import ProofRequestError, ReceiptError

log = logging.getLogger("hromada.api")

PROBLEM_BASE = "https://hromada.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


class Problem(BaseModel):
    """RFC 9457 problem details, with the domain's machine-readable `code` and `evidence`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://hromada.example/problems/duplicate-signature",
                    "title": "Duplicate signature",
                    "status": 409,
                    "detail": "this citizen already signed",
                    "code": "duplicate_signature",
                    "evidence": {"petition": "0b9c…", "signer": "cit:v1:…"},
                }
            ]
        },
    )

    type: str = Field(description="Stable URI of the problem type.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="Stable machine-readable code (domain errors).")
    evidence: dict[str, Any] | None = Field(default=None, description="The facts: ids, expected vs found.")


class ApiProblem(Exception):
    """A refusal of the HTTP layer itself (authentication, scopes, rate limits, idempotency ...)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


#: HTTP status for a domain error: the domain suggests one; server-side faults stay 5xx.
def domain_status(err: de.DomainError) -> int:
    status = int(getattr(err, "status", 422))
    return status if 400 <= status < 600 else 422


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem_body(
    status: int, slug: str, title: str, detail: str | None = None, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, slug, title, detail, instance, **extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def domain_problem(err: de.DomainError, instance: str | None = None) -> JSONResponse:
    status = domain_status(err)
    if status >= 500:
        log.error("server-side domain error %s: %s %s", err.code, err.message, err.evidence)
    return problem_response(
        status,
        err.code.replace("_", "-"),
        _title(err.code),
        err.message,
        instance=instance,
        code=err.code,
        evidence=jsonable_encoder(err.evidence),
        # invalid-proof names the failed proof at the top level too (docs/voting.md: "proofs.options[3]")
        proof=err.proof if isinstance(err, de.InvalidProof) else None,
    )


def ledger_problem(err: LedgerError, instance: str | None = None) -> JSONResponse:
    if isinstance(err, ReceiptError):
        return problem_response(
            404,
            "unknown-event",
            "Unknown event",
            str(err),
            instance=instance,
            code="unknown_event",
            evidence={"event_id": err.event_id},
        )
    if isinstance(err, StorageTampered):
        return problem_response(
            503,
            "storage-tampered",
            "Storage tampered",
            f"{err} (the ledger found its own store changed; nothing it proves now can be trusted)",
            instance=instance,
            code="storage_tampered",
            evidence={"where": err.where, "expected": err.expected, "found": err.found},
        )
    if isinstance(err, ProofRequestError):
        return problem_response(
            422, "proof-unavailable", "Proof unavailable", str(err), instance=instance, code="proof_unavailable"
        )
    if isinstance(err, ExportError):
        return problem_response(
            404, "export-unavailable", "Export unavailable", str(err), instance=instance, code="export_unavailable"
        )
    if isinstance(err, EnvelopeError):
        return problem_response(
            422, "invalid-input", "Invalid input", str(err), instance=instance, code="invalid_input"
        )
    log.error("ledger error: %s", err)
    return problem_response(
        503, "ledger-unavailable", "Ledger unavailable", str(err), instance=instance, code="ledger_unavailable"
    )


#: Problem types of the HTTP layer (documented in docs/api.md and the OpenAPI description).
API_PROBLEMS: dict[str, tuple[int, str]] = {
    "unauthenticated": (401, "Authentication required"),
    "invalid-token": (401, "Invalid token"),
    "forbidden": (403, "Forbidden"),
    "missing-scope": (403, "Missing scope"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "idempotency-key-reused": (422, "Idempotency key reused with another request"),
    "idempotency-in-progress": (409, "Request with this idempotency key in progress"),
    "bad-request": (400, "Bad request"),
    "payload-too-large": (413, "Payload too large"),
    "header-fields-too-large": (431, "Request header fields too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-error": (422, "Validation error"),
    "rate-limited": (429, "Too many requests"),
    "concurrent-modification": (409, "Concurrent modification"),
    "not-ready": (503, "Not ready"),
    "internal-error": (500, "Internal error"),
}

_HTTP_SLUGS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def problem_for(exc: BaseException, instance: str | None = None) -> JSONResponse:
    """The problem response for any error raised while answering a request for `instance` (the path). The
    HTTP app's exception handlers and the writer's command server (api/serving/commands.py) both answer with it."""
    if isinstance(exc, de.DomainError):
        return domain_problem(exc, instance)
    if isinstance(exc, LedgerError):
        return ledger_problem(exc, instance)
    if isinstance(exc, ApiProblem):
        return problem_response(
            exc.status, exc.slug, exc.title, exc.detail, instance=instance, headers=exc.headers, **exc.extra
        )
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation-error",
            "Validation error",
            "the request does not match the schema",
            instance=instance,
            code="validation_error",
            errors=errors,
        )
    if isinstance(exc, StarletteHTTPException):
        slug = _HTTP_SLUGS.get(exc.status_code, "http-error" if exc.status_code < 500 else "internal-error")
        title = API_PROBLEMS.get(slug, (exc.status_code, "HTTP error"))[1]
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code, slug, title, detail, instance=instance, headers=getattr(exc, "headers", None)
        )
    if isinstance(exc, IntegrityError):
        return problem_response(
            409,
            "concurrent-modification",
            "Concurrent modification",
            "another request changed the same record; try again",
            instance=instance,
            code="concurrent_modification",
        )
    log.exception("unhandled error on %s", instance, exc_info=exc)
    return problem_response(500, "internal-error", "Internal error", None, instance=instance)


def install(app: FastAPI) -> None:
    """Register the exception handlers that make every error a problem response."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return problem_for(exc, request.url.path)

    for cls in (
        de.DomainError,
        LedgerError,
        ApiProblem,
        RequestValidationError,
        StarletteHTTPException,
        IntegrityError,
        Exception,
    ):
        app.add_exception_handler(cls, on_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem responses."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        out[s] = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": _STATUS_TEXT.get(s, "Problem")}
    return out


_STATUS_TEXT = {
    400: "Bad request",
    401: "Not authenticated (problem)",
    403: "Not allowed (problem)",
    404: "Not found (problem)",
    409: "Conflict with the current state (problem)",
    410: "Gone (problem)",
    413: "Payload too large (problem)",
    422: "Invalid input (problem)",
    429: "Rate limited (problem, Retry-After)",
    503: "Not ready (problem)",
}


def install_openapi(app: FastAPI) -> None:
    """Document every error as `application/problem+json`: FastAPI's own 422 (HTTPValidationError) is replaced,
    error responses declared with `problem_responses` carry the Problem schema under the problem media type, and
    each operation gets a `default` problem response (401, 429, 413 ... can happen anywhere)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            license_info=app.license_info,
        )
        ref = {"$ref": "#/components/schemas/Problem"}
        doc.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in doc["components"]["schemas"]:
            doc["components"]["schemas"]["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        for path_item in doc.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                for status, resp in list(responses.items()):
                    if status == "default" or int(status) < 400:
                        continue
                    resp["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
                    if status == "422":
                        resp["description"] = "Invalid input (problem)"
                responses["default"] = {
                    "description": "Problem (RFC 9457)",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
                }
        for name in ("HTTPValidationError", "ValidationError"):
            doc["components"]["schemas"].pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
