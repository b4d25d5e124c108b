"""One retry of a request whose database connection was lost before its transaction committed.

The pool checks each connection as it hands it out, but a connection can still die between that
check and the request's queries (the database restarting, a failover, a proxy dropping idle
connections). Such a request's transaction never reached its commit, so nothing it did was
written: it is safe to run once more, on a fresh connection, instead of answering 503 for a
database that is already back. A failure during the commit itself is never retried (its outcome
is unknown), nor is a request whose first answer already started."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MARK = "kol.lost_connection"


def mark_lost_before_commit(request: Request) -> None:
    """Called by the connection dependency: this request's connection broke before the commit."""
    marks = request.scope.get(_MARK)
    if marks is not None:
        marks.append(True)


class RetryOnLostConnection:
    """Pure ASGI middleware: runs a request a second time when its first run lost its database
    connection before committing (and so answered 503), replaying the request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        marks: list[bool] = []
        received: list[Message] = []

        async def recording() -> Message:
            message = await receive()
            received.append(message)
            return message

        held: list[Message] = []

        async def holding(message: Message) -> None:
            # Hold back only a 503 of a request marked retryable; anything else goes out as it
            # comes (streams included).
            if held or (message["type"] == "http.response.start" and message["status"] == 503
                        and marks):
                held.append(message)
            else:
                await send(message)

        first: MutableMapping[str, Any] = {**scope, _MARK: marks}
        await self.app(first, recording, holding)
        if not held:
            return
        replay = iter(list(received))

        async def replaying() -> Message:
            return next(replay, None) or await receive()

        await self.app({**scope, _MARK: None}, replaying, send)
