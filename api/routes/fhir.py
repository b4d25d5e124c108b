"""``GET /api/v1/patients/{id}/fhir``: the patient's readings as a FHIR R4 Bundle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from api.deps import CurrentViewer, DbConn, PatientRead
from fhir_export import service

FHIR_JSON = "application/fhir+json"

router = APIRouter(prefix="/api/v1", tags=["fhir"])


@router.get("/patients/{patient_id}/fhir", response_class=JSONResponse,
            responses={200: {"description": "FHIR R4 Bundle (type collection) of Observations "
                                            "and Devices",
                             "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
def patient_fhir(
    request: Request, patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=service.MAX_PAGE)] = (
        service.DEFAULT_PAGE),
    cursor: str | None = None,
) -> JSONResponse:
    """Observations (vital signs, LOINC + NPU, UCUM, reference range from the thresholds in force
    at the time) of readings measured in [from, to), default the last 30 days, at most 366, in
    pages of ``_count``; the next page is the Bundle's ``link`` with relation ``next``."""
    page = service.bundle(conn, viewer, patient_id, measured_from=from_, measured_to=to,
                          now=datetime.now(UTC), count=count, cursor=cursor)
    read(patient_id, "fhir", **{"from": from_, "to": to})
    query = {"from": page.start.isoformat(), "to": page.end.isoformat(), "_count": count}
    links = [{"relation": "self", "url": str(request.url)}]
    if page.next_cursor is not None:
        links.append({"relation": "next", "url": str(request.url.replace_query_params(
            **query, cursor=page.next_cursor))})
    body = {**page.bundle, "link": links}
    body["entry"] = body.pop("entry")  # after link, as FHIR lists the elements
    return JSONResponse(body, media_type=FHIR_JSON)
