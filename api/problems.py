"""The HTTP edge of errors: every :class:`core.errors.DomainError`, HTTP error and validation
failure answered as ``application/problem+json`` (RFC 9457) with a stable ``type`` URI. The
``Problem`` model is the one schema of every error answer in the OpenAPI document
(``api.openapi``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from psycopg import InterfaceError, OperationalError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core import errors
from core.errors import DatabaseUnavailable, DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "urn:kol:problem:"


class ValidationIssue(BaseModel):
    """One way the request failed its schema."""

    loc: list[str | int] = Field(description="where: `query`/`path`/`body`… then the field")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. `missing`, `less_than_equal`")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details). ``type`` is stable: clients branch on it,
    never on ``title`` or ``detail``."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(pattern=f"^{PROBLEM_BASE}[a-z0-9-]+$",
                      description=f"`{PROBLEM_BASE}<slug>`; the slugs are listed per response")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(default="", description="what went wrong, for a person to read")
    errors: list[ValidationIssue] = Field(
        default_factory=list, description="`validation-error` only: each failure")


def problem_body(*, status: int, slug: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": HTTPStatus(status).phrase,
                            "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def problem_response(exc: DomainError) -> JSONResponse:
    return JSONResponse(problem_body(status=exc.status, slug=exc.slug, detail=exc.detail,
                                     **exc.extra),
                        status_code=exc.status, headers=exc.headers,
                        media_type=PROBLEM_MEDIA_TYPE)


# Errors that Starlette and FastAPI raise themselves, outside any route's code.
_FRAMEWORK_SLUGS = {400: errors.MalformedBody.slug, 404: errors.NotFound.slug,
                    405: "method-not-allowed"}


def _allowed_methods(request: Request) -> str:
    """Every method the path answers. Starlette names only those of the first route that
    matches the path, though another route may serve the same path with other methods."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and route.methods:
            methods.update(route.methods)
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # The database unreachable, restarting, or a connection lost: an honest 503 the client
        # may retry, never a 500. (PoolTimeout is an OperationalError.)
        retry_after = request.app.state.settings.db_retry_after_seconds
        return problem_response(DatabaseUnavailable(retry_after=retry_after))

    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(InterfaceError, _database)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        headers = dict(exc.headers or {})
        if status == 405:
            headers["Allow"] = _allowed_methods(request)
        return JSONResponse(
            problem_body(status=status, slug=_FRAMEWORK_SLUGS.get(status, "http-error"),
                         detail=str(exc.detail or "")),
            status_code=status, headers=headers or None, media_type=PROBLEM_MEDIA_TYPE)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        return problem_response(errors.ValidationFailed(errors=issues))
