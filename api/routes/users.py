from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentViewer, DbConn
from users import repository
from users.schemas import UserOut

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=UserOut)
def me(conn: DbConn, viewer: CurrentViewer) -> UserOut:
    """The logged-in user: what the dashboard shows and which actions it offers."""
    assert viewer.user_id is not None
    user = repository.find_by_id(conn, viewer.user_id)
    assert user is not None
    return UserOut(id=user["id"], username=user["username"], display_name=user["display_name"],
                   role=user["role"], active=user["active"], teams=user["teams"])
