"""Which :class:`core.errors.DomainError`\\ s a function can raise, read from the code itself.

The OpenAPI document lists, per operation, the problems its endpoint and dependencies can answer
(``api.openapi``). Rather than a list typed next to every route, that list comes from the
``raise`` statements: a function raises what it raises itself, plus what the project's functions
it calls raise, less what it catches. So an engineer who adds ``raise errors.AlertChanged()`` to a
service has it documented on every operation that reaches that service.

What the reading cannot see (a problem answered by an exception handler for a library's
exception, a function reached through a variable) is declared with :func:`declares` on the
function where it happens; what it sees is also checked against the live server by the
schemathesis tests, which fail on an answered problem the document does not list."""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.metadata
import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from core.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])
Errors = frozenset[type[DomainError]]


def declares(*problems: type[DomainError]) -> Callable[[F], F]:
    """Add problems the function causes without a visible ``raise`` (for example a library error
    that an exception handler answers as one of ours)."""

    def mark(func: F) -> F:
        func.__kol_declares__ = frozenset(problems)  # type: ignore[attr-defined]
        return func

    return mark


@functools.cache
def _owners() -> dict[str, frozenset[str]]:
    """Top-level package → the installed distributions that provide it (read once: it scans
    every installed distribution)."""
    return {package: frozenset(names)
            for package, names in importlib.metadata.packages_distributions().items()}


def _distributions_of(package: str) -> frozenset[str]:
    return _owners().get(package, frozenset())


def _first_party(obj: Any) -> bool:
    """Code of this project: not the standard library, and its top-level package belongs to no
    distribution but this module's (none at all when run from a checkout)."""
    module = getattr(obj, "__module__", None) or ""
    top = module.partition(".")[0]
    if not top or top in sys.stdlib_module_names:
        return False
    return _distributions_of(top) <= _distributions_of(__name__.partition(".")[0])


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    """The object a dotted name (``errors.PatientNotFound``, ``service.overview``) refers to in
    the function's scope, or None."""
    if isinstance(node, ast.Name):
        if node.id in scope:
            return scope[node.id]
        return getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        return None if base is None else getattr(base, node.attr, None)
    return None


def _domain_errors(obj: Any) -> Errors:
    """The DomainError classes an ``except`` clause's type expression names."""
    candidates = obj if isinstance(obj, tuple) else (obj,)
    return frozenset(c for c in candidates if isinstance(c, type) and issubclass(c, DomainError))


def _catches(handler_type: Any, error: type[DomainError]) -> bool:
    candidates = handler_type if isinstance(handler_type, tuple) else (handler_type,)
    return any(isinstance(c, type) and issubclass(error, c) for c in candidates)


def _reraises(handler: ast.ExceptHandler) -> bool:
    return any(isinstance(n, ast.Raise) and n.exc is None for n in ast.walk(handler))


class _Reader:
    def __init__(self) -> None:
        self._done: dict[Any, Errors] = {}

    def raised_by(self, func: Callable[..., Any]) -> Errors:
        func = inspect.unwrap(func)
        if isinstance(func, types.MethodType):
            func = func.__func__
        if not isinstance(func, types.FunctionType):
            return frozenset()
        if func in self._done:
            return self._done[func]
        # In a cycle the function being read counts as raising nothing; what it raises is still
        # in the union, which is all a reader (one per operation) answers.
        self._done[func] = frozenset()
        found = frozenset(getattr(func, "__kol_declares__", frozenset()))
        try:
            source = textwrap.dedent(inspect.getsource(func))
        except (OSError, TypeError):
            self._done[func] = found
            return found
        definition = ast.parse(source).body[0]
        assert isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef)
        scope = {**func.__globals__, **inspect.getclosurevars(func).nonlocals}
        found |= self._statements(definition.body, scope)
        self._done[func] = found
        return found

    def _statements(self, body: Iterable[ast.stmt], scope: dict[str, Any]) -> Errors:
        found: Errors = frozenset()
        for statement in body:
            found |= self._statement(statement, scope)
        return found

    def _statement(self, node: ast.stmt, scope: dict[str, Any]) -> Errors:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # Runs later, if at all: a nested function counts where it is called.
            return frozenset()
        if isinstance(node, ast.Try | ast.TryStar):
            inner = self._statements(node.body, scope)
            for handler in node.handlers:
                caught = None if handler.type is None else _resolve(handler.type, scope)
                if not _reraises(handler):
                    inner = frozenset(e for e in inner
                                      if not (handler.type is None or _catches(caught, e)))
                inner |= self._statements(handler.body, scope)
            return inner | self._statements(node.orelse, scope) | self._statements(
                node.finalbody, scope)
        found: Errors = frozenset()
        for child in _expressions_and_statements(node):
            if isinstance(child, ast.stmt):
                found |= self._statement(child, scope)
            else:
                found |= self._expression(child, scope)
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            found |= _domain_errors(_resolve(raised, scope))
        return found

    def _expression(self, node: ast.expr, scope: dict[str, Any]) -> Errors:
        found: Errors = frozenset()
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                callee = _resolve(child.func, scope)
                if callee is not None and _first_party(callee):
                    found |= self.raised_by(callee)
        return found


def _expressions_and_statements(node: ast.stmt) -> Iterator[ast.expr | ast.stmt]:
    """The direct children of a statement that are expressions or statements."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr | ast.stmt):
            yield child
        elif isinstance(child, ast.ExceptHandler | ast.match_case | ast.withitem):
            yield from (c for c in ast.iter_child_nodes(child)
                        if isinstance(c, ast.expr | ast.stmt))


def raised_by(*funcs: Callable[..., Any]) -> Errors:
    """The domain errors that calling any of ``funcs`` can raise."""
    reader = _Reader()
    found: Errors = frozenset()
    for func in funcs:
        found |= reader.raised_by(func)
    return found
