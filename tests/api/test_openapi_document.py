"""How error responses reach the OpenAPI document: read from the ``raise`` statements below each
route (``api.raises``), with the framework's and the middlewares' own problems, never typed per
route. The live server is held to the document by ``test_schemathesis.py``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.routing import RouteContext
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.middleware.base import BaseHTTPMiddleware

from api import openapi, problems
from api.deps import AdminViewer, CurrentViewer
from api.raises import declares
from core import errors
from tests.api.helpers import make_user
from tests.conftest import unique
from tests.stack import ROOT


class Overbooked(errors.Conflict):
    """The slot is taken."""

    slug = "overbooked"


class Note(BaseModel):
    text: str


class TooBig(errors.DomainError):
    """The body is larger than the limit."""

    status = 413
    slug = "too-big"


def _book(slot: int) -> None:
    if slot > 3:
        raise Overbooked()


def _book_or_skip(slot: int) -> int:
    try:
        _book(slot)
    except Overbooked:
        return 0
    return slot


@declares(errors.BrokerUnavailable)
def _through_a_library() -> None:
    """Fails with a library error that an exception handler would answer as a problem."""


class _Limit(BaseHTTPMiddleware):
    @staticmethod
    def problems_for(route: RouteContext) -> Iterable[type[errors.DomainError]]:
        return [TooBig] if route.body_field is not None else []

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        return await call_next(request)


def _document() -> dict[str, Any]:
    app = FastAPI()
    problems.install(app)
    app.add_middleware(_Limit)

    @app.post("/slots/{slot}")
    def book(slot: int, viewer: CurrentViewer) -> None:
        _book(slot)

    @app.get("/slots/{slot}")
    def peek(slot: int, viewer: AdminViewer) -> int:
        return _book_or_skip(slot)

    @app.delete("/slots")
    def clear() -> None:
        _through_a_library()

    openapi.install(app)
    return app.openapi()


def _problem_types(operation: dict[str, Any]) -> dict[str, list[str]]:
    return {status: sorted(response["content"][problems.PROBLEM_MEDIA_TYPE]["examples"])
            for status, response in operation["responses"].items()
            if problems.PROBLEM_MEDIA_TYPE in response.get("content", {})}


def test_problems_come_from_the_raises_below_each_route() -> None:
    document = _document()
    slot = document["paths"]["/slots/{slot}"]
    # Raised two calls down; 401 from the authentication dependency (an ended dashboard session
    # too); 422 for the path id; 503
    # from the database connection the authentication dependency takes (declared).
    assert _problem_types(slot["post"]) == {
        "401": ["invalid-token", "session-ended", "unauthorized"], "409": ["overbooked"],
        "422": ["validation-error"], "503": ["database-unavailable"]}
    # Caught on the way up: not an answer. The role check adds 403.
    assert _problem_types(slot["get"]) == {
        "401": ["invalid-token", "session-ended", "unauthorized"], "403": ["forbidden"],
        "422": ["validation-error"], "503": ["database-unavailable"]}
    # Declared where a library's error is answered; no parameters, so no 422.
    assert _problem_types(document["paths"]["/slots"]["delete"]) == {
        "503": ["broker-unavailable"]}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    response = slot["post"]["responses"]["401"]
    assert response["content"][problems.PROBLEM_MEDIA_TYPE]["schema"] == {
        "$ref": "#/components/schemas/Problem"}
    assert response["headers"]["WWW-Authenticate"]["required"] is True
    assert "`overbooked`: The slot is taken." in slot["post"]["responses"]["409"]["description"]


def test_a_middleware_declares_its_own_problems() -> None:
    app = FastAPI()
    problems.install(app)
    app.add_middleware(_Limit)

    @app.post("/notes")
    def note(body: Note) -> None: ...

    @app.get("/notes")
    def notes() -> list[str]:
        return []

    openapi.install(app)
    paths = app.openapi()["paths"]["/notes"]
    assert _problem_types(paths["get"]) == {}
    assert _problem_types(paths["post"]) == {"400": ["malformed-body"], "413": ["too-big"],
                                             "422": ["validation-error"]}


def test_every_operation_of_the_app_answers_problems_with_the_shared_schema(
        client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors"}
    overview = document["paths"]["/api/v1/patients/{patient_id}"]["get"]
    assert _problem_types(overview) == {"401": ["invalid-token", "session-ended", "unauthorized"],
                                        "404": ["patient-not-found"],
                                        "422": ["validation-error"],
                                        "503": ["database-unavailable"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert set(response["content"]) == {problems.PROBLEM_MEDIA_TYPE}, (
                        method, path, status)


def test_the_error_catalogue_in_the_docs_lists_every_problem() -> None:
    design = (ROOT / "docs" / "api-design.md").read_text()
    catalogue = design[design.index("## Errors"):design.index("## Property-based tests")]
    documented = set(re.findall(r"`([a-z0-9-]+)`", catalogue))
    slugs = set()
    pending = [errors.DomainError]
    while pending:
        cls = pending.pop()
        slugs.add(cls.slug)
        pending.extend(cls.__subclasses__())
    slugs -= {TooBig.slug, Overbooked.slug}
    assert slugs <= documented, sorted(slugs - documented)


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    # A NUL, which PostgreSQL text cannot hold, in a filter and in a body.
    ("get", "/api/v1/patients", {"params": {"team": "north\x00"}}),
    ("post", "/api/v1/alerts/1/resolve", {"json": {"note": "rang\x00"}}),
    # Not a JSON number; not an RFC 3339 date-time.
    ("post", "/api/v1/alerts/acknowledge-green", {"json": {"patient_id": False}}),
    ("get", "/api/v1/alerts", {"params": {"since": "0.5"}}),
    ("get", "/api/v1/alerts", {"params": {"since": "2026-11-29T08:00:00"}}),
    # A cursor of another form.
    ("get", "/api/v1/triage", {"params": {"cursor": "-1"}}),
])
def test_what_the_schema_refuses_the_server_refuses(
        client: TestClient, committed_conn: psycopg.Connection[Any], method: str, path: str,
        kwargs: dict[str, Any]) -> None:
    nurse = make_user(client, committed_conn, role="nurse", teams=[unique("team")])
    response = client.request(method.upper(), path, headers=nurse.headers, **kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:kol:problem:validation-error"


def test_a_username_with_a_nul_names_no_user(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "nurse\x00", "password": "x"})
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "urn:kol:problem:invalid-credentials"


def test_a_team_name_with_a_nul_is_refused_when_inviting_or_changing_a_user(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    """Found by schemathesis' stateful phase: a NUL in a user's team names reached PostgreSQL
    (a 500)."""
    team = unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    invited = client.post("/api/v1/users", headers=admin.headers, json={
        "username": unique("u"), "role": "nurse", "teams": [f"{team}\x00"]})
    assert invited.status_code == 422, invited.text
    assert invited.json()["type"] == "urn:kol:problem:validation-error"
    created = client.post("/api/v1/users", headers=admin.headers, json={
        "username": unique("u"), "role": "nurse", "teams": [team]})
    assert created.status_code == 201, created.text
    changed = client.patch(f"/api/v1/users/{created.json()['user']['id']}",
                           headers=admin.headers, json={"teams": [f"{team}\x00"]})
    assert changed.status_code == 422, changed.text
