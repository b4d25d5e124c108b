"""The access log: who read a patient's data (her whole team reads it, as part of her audit trail),
and what a user read (the team's admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from access_log import service
from access_log.schemas import AccessEntry
from api.deps import AdminViewer, CurrentViewer, DbConn
from api.params import IdCursor, Limit
from patients.service import require_patient

router = APIRouter(prefix="/api/v1", tags=["access log"])

@router.get("/patients/{patient_id}/access-log", response_model=list[AccessEntry])
def patient_access_log(patient_id: int, conn: DbConn, viewer: CurrentViewer, response: Response,
                       limit: Limit = 100, cursor: IdCursor = None) -> list[AccessEntry]:
    """Every read of this patient's data (overview, measurements, FHIR, alerts, thresholds),
    newest first; the next page's cursor is in ``X-Next-Cursor``. Every member of the patient's
    team (nurse, clinician, admin) reads it on her page: the audit trail is the team's (another
    team's patient answers 404)."""
    require_patient(conn, viewer, patient_id)
    page, next_cursor = service.entries(conn, viewer, patient_id=patient_id, cursor=cursor,
                                        limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.get("/users/{user_id}/access-log", response_model=list[AccessEntry])
def user_access_log(user_id: int, conn: DbConn, viewer: AdminViewer, response: Response,
                    limit: Limit = 100, cursor: IdCursor = None) -> list[AccessEntry]:
    """What this user read, newest first, of the patients of the admin's teams."""
    page, next_cursor = service.entries(conn, viewer, user_id=user_id, cursor=cursor,
                                        limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page
