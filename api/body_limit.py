"""Request body limit, applied before any route reads or parses a body: a declared
``Content-Length`` above the limit is refused at once; a body without one (chunked) is read here,
at most up to the limit, and refused as soon as it grows past it (413
``urn:kol:problem:payload-too-large``). The API takes no uploads, so holding at most one limit's
worth of a chunked body costs little."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.routing import RouteContext
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from core import errors


class BodyLimit:
    @staticmethod
    def problems_for(route: RouteContext) -> Iterable[type[errors.DomainError]]:
        """Documented on the operations that take a body (``api.openapi``)."""
        return [errors.PayloadTooLarge] if route.body_field is not None else []

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            # The HTTP server delivers no more than the declared length.
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(errors.PayloadTooLarge(
            f"request bodies are limited to {self.max_bytes} bytes"))
        await response(scope, receive, send)
