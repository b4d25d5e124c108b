"""``GET /api/v1/patients/{id}/fhir``: the patient's readings and questionnaire responses as a
FHIR R4 Bundle; ``GET /api/v1/fhir/Questionnaire/{id}``: the questionnaires they answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import CurrentViewer, DbConn, PatientRead
from api.params import ReadingCursor
from core.inputs import Timestamp
from fhir_export import service

router = APIRouter(prefix="/api/v1", tags=["fhir"])


class FhirJSONResponse(JSONResponse):
    media_type = "application/fhir+json"


_BUNDLE = {"type": "object", "required": ["resourceType", "type", "timestamp", "link", "entry"],
           "properties": {
               "resourceType": {"const": "Bundle"}, "type": {"const": "collection"},
               "timestamp": {"type": "string", "format": "date-time"},
               "link": {"type": "array", "items": {
                   "type": "object", "required": ["relation", "url"],
                   "properties": {"relation": {"enum": ["self", "next"]},
                                  "url": {"type": "string"}}}},
               "entry": {"type": "array", "items": {
                   "type": "object", "required": ["fullUrl", "resource"],
                   "properties": {"fullUrl": {"type": "string"},
                                  "resource": {"type": "object", "required": ["resourceType"]}}}}}}


@router.get("/patients/{patient_id}/fhir", response_class=FhirJSONResponse,
            responses={200: {"description": "FHIR R4 Bundle (type collection) of Observations "
                                            "and Devices",
                             "content": {FhirJSONResponse.media_type: {"schema": _BUNDLE}}}})
def patient_fhir(
    request: Request, patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Timestamp | None = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=service.MAX_PAGE)] = (
        service.DEFAULT_PAGE),
    cursor: ReadingCursor = None,
    recipient: Annotated[service.Recipient | None, Query(
        description="whom the export is for outside the team (her own GP, the hospital): "
                    "refused with 403 `no-consent-to-share` unless she consented to sharing "
                    "with that recipient")] = None,
) -> FhirJSONResponse:
    """Observations (vital signs, LOINC + NPU, UCUM, reference range from the thresholds in force
    at the time) of readings measured in ``[from, to)``, and on the first page the
    QuestionnaireResponses (the symptom diary) authored in it: ``to`` defaults to now, ``from``
    to 30 days before ``to``; ``to`` must be after ``from`` (422 ``invalid-range``) and at most 366
    days after it (422 ``range-too-long``). In pages of ``_count`` Observations (each page with
    the Devices it references, and her recorded Consents as FHIR Consent resources); the next
    page is the Bundle's ``link`` with relation ``next``."""
    page = service.bundle(conn, viewer, patient_id, measured_from=from_, measured_to=to,
                          now=datetime.now(UTC), count=count, cursor=cursor,
                          recipient=recipient)
    read(patient_id, "fhir", recipient=recipient, **{"from": from_, "to": to})
    query: dict[str, str | int] = {"from": page.start.isoformat(), "to": page.end.isoformat(),
                                   "_count": count}
    if recipient is not None:
        query["recipient"] = recipient
    links = [{"relation": "self", "url": str(request.url)}]
    if page.next_cursor is not None:
        links.append({"relation": "next", "url": str(request.url.replace_query_params(
            **query, cursor=page.next_cursor))})
    body = {**page.bundle, "link": links}
    body["entry"] = body.pop("entry")  # after link, as FHIR lists the elements
    return FhirJSONResponse(body)


_QUESTIONNAIRE = {"type": "object", "required": ["resourceType", "id", "url", "status", "item"],
                  "properties": {"resourceType": {"const": "Questionnaire"}}}


@router.get("/fhir/Questionnaire/{questionnaire_id}", response_class=FhirJSONResponse,
            responses={200: {"description": "FHIR R4 Questionnaire",
                             "content": {FhirJSONResponse.media_type: {
                                 "schema": _QUESTIONNAIRE}}}})
def fhir_questionnaire(questionnaire_id: str, viewer: CurrentViewer) -> FhirJSONResponse:
    """The definition of a questionnaire patients answer on the tablet (the symptom diary
    ``kol-symptoms-v1``), which the export's QuestionnaireResponses refer to by its canonical
    ``url``. Danish, with English translations."""
    return FhirJSONResponse(service.questionnaire(questionnaire_id))
