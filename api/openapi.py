"""The OpenAPI document's error responses, generated from the code that raises them.

Every operation documents, per status, the ``application/problem+json`` answers it can give, all
with the shared ``Problem`` schema, one named example per problem type and the headers that type
always sends. The problems of an operation are:

- what its endpoint and its dependencies raise (``api.raises`` reads the ``raise`` statements of
  the code they reach), so the authentication dependency brings 401, a role check 403, a service
  that looks a patient up 404, and so on;
- what the framework answers for it: ``validation-error`` (422) when it takes parameters or a
  body, ``malformed-body`` (400) when it takes a body;
- what a middleware answers: a middleware class with a ``problems_for(route)`` static method
  returning problem classes (see :class:`ProblemSource`).

Nothing here is typed per route: raise a new :mod:`core.errors` class where it happens and it is
documented on every operation that can reach it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from api.problems import PROBLEM_MEDIA_TYPE, Problem, problem_body
from api.raises import raised_by
from core import errors
from core.errors import DomainError

PROBLEM_REF = "#/components/schemas/Problem"


@runtime_checkable
class ProblemSource(Protocol):
    """A middleware that answers problems of its own declares them for the routes it guards."""

    @staticmethod
    def problems_for(route: RouteContext) -> Iterable[type[DomainError]]: ...


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def framework_problems(route: RouteContext) -> set[type[DomainError]]:
    """What FastAPI answers for the route before any of our code runs."""
    found: set[type[DomainError]] = set()
    if get_flat_params(route.dependant) or route.body_field is not None:
        found.add(errors.ValidationFailed)
    if route.body_field is not None:
        found.add(errors.MalformedBody)
    return found


def route_problems(app: FastAPI, route: RouteContext) -> set[type[DomainError]]:
    """Every problem the operation can answer."""
    found = framework_problems(route) | set(raised_by(*_calls(route.dependant)))
    for middleware in app.user_middleware:
        if isinstance(middleware.cls, ProblemSource):
            found.update(middleware.cls.problems_for(route))
    return found


def _example(problem: type[DomainError]) -> dict[str, Any]:
    value = problem_body(status=problem.status, slug=problem.slug,
                         detail=problem.default_detail)
    if problem is errors.ValidationFailed:
        value["errors"] = [{"loc": ["query", "limit"], "msg": "Input should be less than or "
                            "equal to 500", "type": "less_than_equal"}]
    return {"summary": problem.summary(), "value": value}


def problem_responses(problems: Iterable[type[DomainError]]) -> dict[str, dict[str, Any]]:
    """The OpenAPI responses for these problems, one per status."""
    by_status: dict[int, list[type[DomainError]]] = defaultdict(list)
    for problem in sorted(problems, key=lambda p: (p.status, p.slug)):
        by_status[problem.status].append(problem)
    responses: dict[str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": "\n".join(f"- `{p.slug}`: {p.summary()}" for p in group),
            "content": {PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": PROBLEM_REF},
                "examples": {p.slug: _example(p) for p in group}}},
        }
        headers = {name: description for p in group
                   for name, description in p.response_headers.items()}
        if headers:
            response["headers"] = {
                name: {"description": description, "schema": {"type": "string"},
                       "required": all(name in p.response_headers for p in group)}
                for name, description in headers.items()}
        responses[str(status)] = response
    return responses


def _add_problem_schema(document: dict[str, Any]) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}",
                                       mode="serialization")
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
    # FastAPI's own 422 shapes are replaced by Problem everywhere.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def install(app: FastAPI) -> None:
    """Generate the app's document with every operation's problems."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        # Route contexts, as FastAPI's own generator walks them: an included router's routes
        # with the prefix and dependencies of the include.
        for route in iter_route_contexts(app.routes):
            if not (isinstance(route.original_route, APIRoute) and route.include_in_schema):
                continue
            problems = route_problems(app, route)
            for method in route.methods or ():
                operation = document["paths"][route.path_format][method.lower()]
                responses = operation["responses"]
                # FastAPI's generic 422 gives way to ours; a problem's status is ours alone.
                responses.pop("422", None)
                responses.update(problem_responses(problems))
        _add_problem_schema(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
