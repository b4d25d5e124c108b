from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Form, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service
from api.auth.schemas import RenewIn, SessionToken, Token
from api.deps import DbConn, SettingsDep, client_address
from core import errors
from core.inputs import Text
from core.settings import Settings

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

REFRESH_COOKIE = "kol_refresh"
"""The dashboard session's refresh token: HttpOnly (no script reads it), Secure, SameSite=Strict
(no other site's page sends it) and sent only to this router's paths."""


@router.post("/token", response_model=Token)
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: DbConn,
                settings: SettingsDep, request: Request) -> Token:
    return service.login(conn, settings, username=form.username, password=form.password,
                         address=client_address(request))


def _set_refresh(response: Response, settings: Settings, refresh_token: str) -> None:
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=int(settings.session_max_hours
                                                                   * 3600),
                        path=router.prefix, secure=True, httponly=True, samesite="strict")


@router.post("/session", response_model=SessionToken)
def start_session(username: Annotated[Text, Form(min_length=1, max_length=200)],
                  password: Annotated[str, Form(min_length=1, max_length=1000,
                                                json_schema_extra={"format": "password"})],
                  conn: DbConn, settings: SettingsDep, request: Request, response: Response
                  ) -> SessionToken:
    """The dashboard's login (the form of ``/auth/token``): an access token, and a session whose
    rotating refresh token is set as an HttpOnly cookie (``POST /auth/refresh`` renews the
    access token with it)."""
    started = service.start_session(conn, settings, username=username, password=password,
                                    address=client_address(request))
    assert started.refresh_token is not None
    _set_refresh(response, settings, started.refresh_token)
    return started.token


@router.post("/refresh", response_model=SessionToken,
             responses={401: {"description": "no session, or it ended (logged out, idle, "
                                             "expired, user deactivated, token reused)"}})
def refresh(body: RenewIn, conn: DbConn, settings: SettingsDep, response: Response,
            kol_refresh: Annotated[str | None, Cookie()] = None) -> SessionToken:
    """A new access token from the session cookie; the refresh token rotates."""
    try:
        renewed = service.renew(conn, settings, refresh_token=kol_refresh, active=body.active)
    except errors.SessionEnded:
        conn.commit()  # the session's end stays, though the request is refused
        raise
    if renewed.refresh_token is not None:
        _set_refresh(response, settings, renewed.refresh_token)
    return renewed.token


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(conn: DbConn, kol_refresh: Annotated[str | None, Cookie()] = None) -> Response:
    """End the dashboard session: its refresh token and its access tokens stop working."""
    service.end_session(conn, refresh_token=kol_refresh)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(REFRESH_COOKIE, path=router.prefix, secure=True, httponly=True,
                           samesite="strict")
    return response
