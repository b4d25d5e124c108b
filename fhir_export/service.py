"""A patient's readings as a FHIR R4 ``Bundle`` of vital-sign ``Observation``s, coded in LOINC
and NPU from the measurement-type registry, with the yellow limits in force at the time as the
reference range and the home tablet as the device; her questionnaire responses (the symptom
diary) as ``QuestionnaireResponse``s of the ``Questionnaire``s the platform serves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import Connection

from core import errors
from core.access import Viewer
from core.measurement_types import MEASUREMENT_TYPES, MeasurementType
from core.pagination import parse_reading_cursor, reading_cursor
from core.questionnaires import QUESTIONNAIRES, Item, Questionnaire
from fhir_export import repository
from messages import service as messages
from messages.schemas import MessageOut
from patients import repository as patients_repository
from patients.service import measured_span, require_patient

LOINC = "http://loinc.org"
NPU = "urn:oid:1.2.208.176.2.1"
UCUM = "http://unitsofmeasure.org"
DEVICE_ID_SYSTEM = "urn:kol:device-id"
MESSAGE_KIND_SYSTEM = "urn:kol:message-kind"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
QUESTIONNAIRE_BASE = "urn:kol:fhir:Questionnaire"
"""The questionnaires' canonical URLs: ``{base}/{id}``; served at
``/api/v1/fhir/Questionnaire/{id}``."""
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MAX_SPAN = timedelta(days=366)
DEFAULT_PAGE = 1000
MAX_PAGE = 10000
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONSENT_SYSTEM = "urn:kol:consent-scope"
Recipient = Literal["gp", "hospital"]
"""Whom an export is for, when it leaves the team: her own GP or the hospital."""
_RECIPIENT_DISPLAY = {"share_gp": "her own general practitioner", "share_hospital": "the hospital"}
_NAMESPACE = uuid.UUID("6f1c2f0e-5a43-4d6e-9a64-3b0c2c6e7d15")
"""Namespace of the bundle's entry URNs: the same reading gets the same fullUrl every export."""


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join(map(str, parts)))}"


def _quantity(value: float, mtype: MeasurementType) -> dict[str, Any]:
    return {"value": value, "unit": mtype.unit, "system": UCUM, "code": mtype.ucum}


def _reference_range(limits: dict[str, Any] | None, mtype: MeasurementType,
                     version: int | None) -> list[dict[str, Any]]:
    low, high = (limits or {}).get("yellow_low"), (limits or {}).get("yellow_high")
    if low is None and high is None:
        return []
    reference: dict[str, Any] = {"text": f"yellow alert limits, thresholds version {version}"}
    if low is not None:
        reference["low"] = _quantity(float(low), mtype)
    if high is not None:
        reference["high"] = _quantity(float(high), mtype)
    return [reference]


def _observation(patient_id: int, row: dict[str, Any], device_url: str) -> dict[str, Any]:
    mtype = MEASUREMENT_TYPES[row["type"]]
    measured_at: datetime = row["measured_at"]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{patient_id}-{mtype.code}-{int(measured_at.timestamp() * 1000)}",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs",
                                  "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": mtype.loinc, "display": mtype.loinc_display},
                            {"system": NPU, "code": mtype.npu, "display": mtype.npu_display}],
                 "text": mtype.display_en},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": measured_at.isoformat(),
        "valueQuantity": _quantity(row["value"], mtype),
        "device": {"reference": device_url,
                   "identifier": {"system": DEVICE_ID_SYSTEM, "value": row["device_id"]},
                   "display": row["device_id"]},
    }
    reference_range = _reference_range(row["limits"], mtype, row["threshold_version"])
    if reference_range:
        observation["referenceRange"] = reference_range
    return observation


def _device(patient_id: int, device_id: str, active: bool | None) -> dict[str, Any]:
    status = "unknown" if active is None else "active" if active else "inactive"
    return {"resourceType": "Device", "id": device_id,
            "identifier": [{"system": DEVICE_ID_SYSTEM, "value": device_id}],
            "status": status, "patient": {"reference": f"Patient/{patient_id}"}}


def _communication(patient_id: int, message: MessageOut, in_bundle: set[int]
                   ) -> dict[str, Any]:
    """A message as a ``Communication``: hers from the Patient to her care team, a reply from a
    team member (by name: the platform exports no Practitioners) to her; a call-back request is
    its category; when the other side read it is a note."""
    patient = {"reference": f"Patient/{patient_id}"}
    team = {"display": message.author or "care team"}
    kind = ("reply" if message.direction == "team"
            else "callback-request" if message.callback else "message")
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": f"{patient_id}-message-{message.id}",
        "status": "completed",
        "category": [{"coding": [{"system": MESSAGE_KIND_SYSTEM, "code": kind}],
                      "text": {"reply": "reply from the care team",
                               "callback-request": "the patient asks to be called back",
                               "message": "message from the patient"}[kind]}],
        "subject": patient,
        "sent": message.written_at.isoformat(),
        "received": message.received_at.isoformat(),
        "sender": patient if message.direction == "patient" else team,
        "recipient": [{"display": "care team"} if message.direction == "patient" else patient],
    }
    if message.text:
        communication["payload"] = [{"contentString": message.text}]
    if message.reply_to is not None and message.reply_to in in_bundle:
        communication["inResponseTo"] = [{"reference": _urn("message", patient_id,
                                                            message.reply_to)}]
    if message.read_at is not None:
        communication["note"] = [{"time": message.read_at.isoformat(),
                                  "text": f"read by {message.read_by}"}]
    return communication


def _communications(conn: Connection[Any], viewer: Viewer, patient_id: int, start: datetime,
                    end: datetime) -> list[dict[str, Any]]:
    found = messages.between(conn, viewer, patient_id, start, end)
    ids = {m.id for m in found}
    return [{"fullUrl": _urn("message", patient_id, m.id),
             "resource": _communication(patient_id, m, ids)} for m in found]
def _consent(patient_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """One recorded consent as a FHIR R4 Consent: telemonitoring is consent to treatment, a
    share_* scope to privacy (the recipient is the provision's actor)."""
    sharing = row["scope"] != "telemonitoring"
    period: dict[str, str] = {"start": row["given_on"].isoformat()}
    if row["withdrawn_on"] is not None:
        period["end"] = row["withdrawn_on"].isoformat()
    provision: dict[str, Any] = {"type": "permit", "period": period}
    if sharing:
        provision["actor"] = [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                           "v3-ParticipationType", "code": "IRCP",
                                 "display": "information recipient"}]},
            "reference": {"display": _RECIPIENT_DISPLAY[row["scope"]]}}]
    return {
        "resourceType": "Consent", "id": f"{patient_id}-consent-{row['id']}",
        "status": "active" if row["withdrawn_at"] is None else "inactive",
        "scope": {"coding": [{"system": CONSENT_SCOPE,
                              "code": "patient-privacy" if sharing else "treatment"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0",
                                  "display": "Patient Consent"}]},
                     {"coding": [{"system": CONSENT_SYSTEM, "code": row["scope"]}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "dateTime": row["recorded_at"].isoformat(),
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": provision,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    bundle: dict[str, Any]
    """The Bundle without its ``link``s (their URLs are the HTTP edge's)."""
    start: datetime
    end: datetime
    """The span resolved from the request's defaults: the next page must ask for the same."""
    next_cursor: str | None


def bundle(conn: Connection[Any], viewer: Viewer, patient_id: int, *,
           measured_from: datetime | None, measured_to: datetime | None, now: datetime,
           count: int = DEFAULT_PAGE, cursor: str | None = None,
           recipient: Recipient | None = None) -> Page:
    """A ``collection`` Bundle: a page of ``count`` of the patient's Observations in [from, to)
    (default the last 30 days) after ``cursor``, then the Devices they came from (each page is
    complete in itself: every reference resolves inside it), then her recorded Consents. Another
    team's patient answers 404.

    An export for a ``recipient`` outside the team (her GP, the hospital) needs her standing
    consent to share with that recipient: without it, 403 ``no-consent-to-share`` and nothing
    is exported (docs/outcomes.md)."""
    require_patient(conn, viewer, patient_id)
    consents = patients_repository.consents(conn, viewer, patient_id)
    if recipient is not None and not any(
            c["scope"] == f"share_{recipient}" and c["withdrawn_at"] is None for c in consents):
        raise errors.NoConsentToShare(f"no standing consent to share with {recipient}")
    start, end = measured_span(measured_from, measured_to, now=now, longest=MAX_SPAN)
    rows = repository.readings_with_limits(conn, viewer, patient_id=patient_id, start=start,
                                           end=end, after=parse_reading_cursor(cursor),
                                           limit=count + 1)
    page = rows[:count]
    devices: dict[str, bool | None] = {}
    entries = []
    for row in page:
        devices.setdefault(row["device_id"], row["device_active"])
        observation = _observation(patient_id, row, _urn("device", row["device_id"]))
        entries.append({"fullUrl": _urn("observation", observation["id"]),
                        "resource": observation})
    entries.extend({"fullUrl": _urn("device", device_id),
                    "resource": _device(patient_id, device_id, active)}
                   for device_id, active in devices.items())
    if cursor is None:
        # The messages and questionnaire responses of the span ride on its first page (they are
        # few, about one a day; pages count readings).
        entries.extend(_communications(conn, viewer, patient_id, start, end))
        for row in repository.questionnaire_responses(conn, viewer, patient_id=patient_id,
                                                      start=start, end=end):
            response = _questionnaire_response(patient_id, row)
            entries.append({"fullUrl": _urn("questionnaire-response", response["id"]),
                            "resource": response})
    entries.extend({"fullUrl": _urn("consent", patient_id, c["id"]),
                    "resource": _consent(patient_id, c)} for c in consents)
    # No "total": FHIR allows it only on search and history Bundles (invariant bdl-1).
    return Page(bundle={"resourceType": "Bundle", "type": "collection",
                        "timestamp": now.isoformat(), "entry": entries},
                start=start, end=end,
                next_cursor=reading_cursor(page[-1]) if len(rows) > count else None)


def _english(text: str) -> dict[str, Any]:
    """The English version of a Danish text, as the FHIR translation extension."""
    return {"extension": [{"url": TRANSLATION, "extension": [
        {"url": "lang", "valueCode": "en"}, {"url": "content", "valueString": text}]}]}


def _questionnaire_item(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.link_id, "text": item.text_da,
                           "_text": _english(item.text_en), "type": item.kind,
                           "required": item.required}
    if item.max_chars:
        out["maxLength"] = item.max_chars
    if item.category:
        out["prefix"] = "major" if item.category == "major" else "minor"
    return out


def questionnaire(questionnaire_id: str) -> dict[str, Any]:
    """The FHIR ``Questionnaire`` of a registered questionnaire (Danish, with English
    translations); unknown ids are :class:`core.errors.QuestionnaireNotFound`."""
    q: Questionnaire | None = QUESTIONNAIRES.get(questionnaire_id)
    if q is None:
        raise errors.QuestionnaireNotFound()
    return {"resourceType": "Questionnaire", "id": q.id, "url": f"{QUESTIONNAIRE_BASE}/{q.id}",
            "name": "".join(part.capitalize() for part in q.id.split("-")),
            "title": q.title_da, "_title": _english(q.title_en), "language": "da",
            "status": "active", "subjectType": ["Patient"],
            "item": [_questionnaire_item(i) for i in q.items]}


def _questionnaire_response(patient_id: int, row: dict[str, Any]) -> dict[str, Any]:
    q = QUESTIONNAIRES[row["questionnaire"]]
    authored: datetime = row["authored_at"]
    answers: dict[str, bool | str] = row["answers"]
    items = []
    for item in q.items:  # in the questionnaire's order
        if item.link_id not in answers:
            continue
        value = answers[item.link_id]
        answer = {"valueBoolean": value} if item.kind == "boolean" else {"valueString": value}
        items.append({"linkId": item.link_id, "text": item.text_da, "answer": [answer]})
    return {"resourceType": "QuestionnaireResponse",
            "id": f"{patient_id}-{q.id}-{int(authored.timestamp() * 1000)}",
            "questionnaire": f"{QUESTIONNAIRE_BASE}/{q.id}", "status": "completed",
            "subject": {"reference": f"Patient/{patient_id}"},
            "authored": authored.isoformat(),
            "source": {"reference": f"Patient/{patient_id}"},
            "item": items}
