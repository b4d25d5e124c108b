"""Request dependencies: the settings, a database connection whose transaction the request owns,
and the authenticated viewer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from psycopg import Connection

from access_log import service as access_log
from access_log.schemas import What
from api.auth import tokens
from api.raises import declares
from api.retry import mark_lost_before_commit
from core import errors
from core.access import Role, Viewer
from core.settings import Settings
from users import repository as users_repository


# Dependencies that do no I/O are coroutines: FastAPI runs a plain function dependency in a
# worker thread, a hop that costs more than the function.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def db_slot(request: Request) -> AsyncIterator[None]:
    """One of as many places as the pool has connections, awaited without a worker thread.

    Sync dependencies and routes each take a worker thread. Without this bound, a burst of more
    requests than connections fills every worker with requests blocked in the pool's wait, while
    the requests that hold the connections wait for a worker to run their route and commit."""
    async with request.app.state.db_slots:
        yield


@declares(errors.DatabaseUnavailable)  # answered by api.problems for psycopg's errors
def db_conn(request: Request, _slot: Annotated[None, Depends(db_slot, scope="function")]
            ) -> Iterator[Connection[Any]]:
    """A pooled connection in a transaction that commits when the route returns (before the
    response is sent) and rolls back if it raises.

    No working connection within ``KOL_DB_WAIT_SECONDS`` (the database is down) answers 503
    (``api.problems``); a connection lost before the commit makes the request run once more
    (``api.retry``)."""
    settings: Settings = request.app.state.settings
    with request.app.state.pool.connection(timeout=settings.db_wait_seconds) as conn:
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            if conn.broken or conn.closed:
                mark_lost_before_commit(request)
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbConn = Annotated[Connection[Any], Depends(db_conn, scope="function")]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def current_viewer(token: Annotated[str | None, Depends(oauth2_scheme)], conn: DbConn,
                   settings: SettingsDep) -> Viewer:
    if not token:
        raise errors.Unauthenticated()
    try:
        claims = tokens.verify(settings, token)
    except tokens.InvalidToken as exc:
        raise errors.InvalidToken() from exc
    user = users_repository.find_by_id(conn, claims.user_id)
    if user is None or not user["active"]:
        raise errors.InvalidToken("the user is no longer active")
    if claims.session_id is not None and not users_repository.session_is_open(
            conn, claims.session_id, claims.user_id):
        raise errors.SessionEnded()
    return Viewer(user_id=user["id"], username=user["username"], role=user["role"],
                  team_ids=tuple(user["team_ids"]))


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def client_address(request: Request) -> str:
    """The client's address (behind a reverse proxy, run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadLog:
    """Records, in the request's transaction, that the viewer read a patient's data."""

    conn: Connection[Any]
    viewer: Viewer
    address: str

    def __call__(self, patient_id: int, what: What, **detail: Any) -> None:
        access_log.record(self.conn, self.viewer, patient_id=patient_id, what=what,
                          address=self.address,
                          detail={k: v.isoformat() if isinstance(v, datetime) else v
                                  for k, v in detail.items() if v is not None})


def read_log(request: Request, conn: DbConn, viewer: CurrentViewer) -> ReadLog:
    return ReadLog(conn=conn, viewer=viewer, address=client_address(request))


PatientRead = Annotated[ReadLog, Depends(read_log)]
"""Every route that returns one patient's data takes this and calls it once it has the data."""


def require_role(role: Role) -> Callable[[Viewer], Coroutine[Any, Any, Viewer]]:
    """A dependency that admits the viewer only with at least ``role``."""

    async def dependency(viewer: CurrentViewer) -> Viewer:
        if not viewer.at_least(role):
            raise errors.Forbidden(f"this needs the {role} role")
        return viewer

    return dependency


ClinicianViewer = Annotated[Viewer, Depends(require_role("clinician"))]
AdminViewer = Annotated[Viewer, Depends(require_role("admin"))]
