from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service
from api.auth.schemas import Token
from api.deps import DbConn, SettingsDep

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=Token)
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: DbConn,
                settings: SettingsDep, request: Request) -> Token:
    # Behind a reverse proxy, run uvicorn with --proxy-headers so that this is the client's.
    address = request.client.host if request.client else "unknown"
    return service.login(conn, settings, username=form.username, password=form.password,
                         address=address)
