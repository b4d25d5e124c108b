"""The HTTP edge of errors: every :class:`core.errors.DomainError`, HTTP error and validation
failure answered as ``application/problem+json`` (RFC 9457) with a stable ``type`` URI."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DatabaseUnavailable, DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "urn:kol:problem:"


def problem_response(*, status: int, slug: str, detail: str = "",
                     headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": HTTPStatus(status).phrase,
                            "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


_SLUG_BY_STATUS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                   405: "method-not-allowed", 409: "conflict", 422: "validation-error",
                   429: "too-many-requests"}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(status=exc.status, slug=exc.slug, detail=exc.detail,
                                headers=exc.headers, **exc.extra)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # The database unreachable, restarting, or a connection lost: an honest 503 the client
        # may retry, never a 500. (PoolTimeout is an OperationalError.)
        retry_after = request.app.state.settings.db_retry_after_seconds
        return problem_response(status=DatabaseUnavailable.status, slug=DatabaseUnavailable.slug,
                                detail=DatabaseUnavailable.default_detail,
                                headers={"Retry-After": str(retry_after)})

    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(InterfaceError, _database)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(status=exc.status_code,
                                slug=_SLUG_BY_STATUS.get(exc.status_code, "http-error"),
                                detail=str(exc.detail or ""), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        return problem_response(status=422, slug="validation-error",
                                detail="the request did not validate", errors=errors)
