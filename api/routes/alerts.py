"""HTTP routes of the alert domain: patients' thresholds (current, history, change, preview) and
the alert list with acknowledge / resolve. Thin: the services hold the logic, the repository the
team scoping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from alerts import lifecycle, personalisation, recovery, reports, thresholds
from alerts.schemas import (
    AlertHistoryEntry,
    AlertOut,
    AlertOutcomesOut,
    AlertReadingOut,
    AutoPersonaliseIn,
    AutoPersonaliseOut,
    BulkAcknowledgeIn,
    BulkAcknowledgeOut,
    BurdenRow,
    ParkedEvaluationOut,
    PreviewIn,
    PreviewOut,
    ProposalOut,
    ThresholdsIn,
    ThresholdsOut,
    ThresholdVersionOut,
)
from api.deps import AdminViewer, ClinicianViewer, CurrentViewer, DbConn, PatientRead
from api.params import IdCursor, Limit
from core.access import Viewer
from core.inputs import Timestamp
from patients import care_events
from patients.schemas import CareEventIn, DecisionIn
from patients.service import require_patient

router = APIRouter(prefix="/api/v1", tags=["alerts"])


@router.get("/patients/{patient_id}/thresholds", response_model=ThresholdsOut)
def get_thresholds(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead
                   ) -> ThresholdsOut:
    current = thresholds.current(conn, viewer, patient_id)
    read(patient_id, "thresholds")
    return current


@router.put("/patients/{patient_id}/thresholds", response_model=ThresholdsOut)
def put_thresholds(patient_id: int, body: ThresholdsIn, conn: DbConn,
                   viewer: ClinicianViewer) -> ThresholdsOut:
    return thresholds.replace(conn, viewer, patient_id, body)


@router.get("/patients/{patient_id}/thresholds/history",
            response_model=list[ThresholdVersionOut])
def threshold_history(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead
                      ) -> list[ThresholdVersionOut]:
    history = thresholds.history(conn, viewer, patient_id)
    read(patient_id, "threshold-history")
    return history


@router.post("/patients/{patient_id}/thresholds/preview", response_model=PreviewOut)
def preview_thresholds(patient_id: int, body: PreviewIn, conn: DbConn,
                       viewer: ClinicianViewer) -> PreviewOut:
    return thresholds.preview(conn, viewer, patient_id, body)


@router.get("/patients/{patient_id}/thresholds/proposal", response_model=ProposalOut)
def threshold_proposal(patient_id: int, conn: DbConn, viewer: CurrentViewer,
                       read: PatientRead,
                       days: Annotated[int, Query(ge=1, le=365)] = 90) -> ProposalOut:
    """Personal limits from the patient's last run-in length of readings, beside the current
    ones, with the alerts each would have raised over the last ``days`` days. Accepting it is a
    normal ``PUT …/thresholds``."""
    proposal = personalisation.proposal(conn, viewer, patient_id, days=days)
    read(patient_id, "threshold-proposal", days=days)
    return proposal


@router.get("/patients/{patient_id}/thresholds/auto-personalise",
            response_model=AutoPersonaliseOut)
def get_auto_personalise(patient_id: int, conn: DbConn, viewer: CurrentViewer,
                         read: PatientRead) -> AutoPersonaliseOut:
    """Whether the platform applies the personal limits itself at the end of the run-in (the
    patient's own setting, else her profile's) and, once it has run, its outcome."""
    state = personalisation.auto_personalise(conn, viewer, patient_id)
    read(patient_id, "auto-personalisation")
    return state


@router.put("/patients/{patient_id}/thresholds/auto-personalise",
            response_model=AutoPersonaliseOut)
def put_auto_personalise(patient_id: int, body: AutoPersonaliseIn, conn: DbConn,
                         viewer: ClinicianViewer) -> AutoPersonaliseOut:
    """Turn automatic personalisation on or off for this patient (clinician; audited with the
    reason). On is refused with 409 once it has run: it runs once per patient."""
    return personalisation.set_auto_personalise(conn, viewer, patient_id, body)


@router.get("/reports/alert-burden", response_model=list[BurdenRow])
def alert_burden(conn: DbConn, viewer: CurrentViewer,
                 days: Annotated[int, Query(ge=1, le=365)] = 30,
                 limit: Limit = 50) -> list[BurdenRow]:
    """Patients ranked by alerts per week over the last ``days`` days, with their pending
    personal-limit proposal."""
    return reports.alert_burden(conn, viewer, days=days, limit=limit)


@router.get("/reports/alert-outcomes", response_model=AlertOutcomesOut)
def alert_outcomes(conn: DbConn, viewer: CurrentViewer, since: Timestamp) -> AlertOutcomesOut:
    """Per rule and per patient, the share of the alerts opened since ``since`` that led to an
    action, from the dispositions the nurses gave."""
    return reports.alert_outcomes(conn, viewer, since=since)


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    conn: DbConn, viewer: CurrentViewer, response: Response, read: PatientRead,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["red", "yellow", "blue", "green"] | None = None,
    patient_id: int | None = None,
    since: Timestamp | None = None,
    limit: Limit = 100,
    cursor: IdCursor = None,
) -> list[AlertOut]:
    """Newest first. The next page's cursor is in the ``X-Next-Cursor`` header (absent on the
    last page); ``since`` keeps alerts opened or changed at or after that time."""
    page, next_cursor = lifecycle.list_alerts(conn, viewer, status=status, severity=severity,
                                            patient_id=patient_id, since=since, cursor=cursor,
                                            limit=limit)
    if patient_id is not None:  # one patient's alerts: a read of her data
        read(patient_id, "alerts", status=status, severity=severity, since=since, cursor=cursor)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page


def _decide(conn: DbConn, viewer: Viewer, alert_id: int, body: DecisionIn, to: str
            ) -> AlertOut:
    """The step, and with ``admission`` the admission it led to as a care event of her (one
    request, one transaction: the nurse types it once)."""
    disposition = "admitted" if body.admission is not None else body.disposition
    alert = lifecycle.handle(conn, viewer, alert_id, to=to, note=body.note,
                             seen_severity=body.seen_severity, disposition=disposition)
    if body.admission is not None:
        care_events.record(conn, viewer, alert.patient_id, CareEventIn(
            kind="admission", **body.admission.model_dump()), now=datetime.now(UTC),
            alert_id=alert.id)
    return alert


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: int, body: DecisionIn, conn: DbConn, viewer: CurrentViewer
                ) -> AlertOut:
    """With ``admission``: also record the admission (docs/outcomes.md)."""
    return _decide(conn, viewer, alert_id, body, "acknowledged")


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: int, body: DecisionIn, conn: DbConn, viewer: CurrentViewer
            ) -> AlertOut:
    """With ``admission``: also record the admission (docs/outcomes.md)."""
    return _decide(conn, viewer, alert_id, body, "resolved")


@router.post("/alerts/acknowledge-green", response_model=BulkAcknowledgeOut)
def acknowledge_green(body: BulkAcknowledgeIn, conn: DbConn, viewer: CurrentViewer
                      ) -> BulkAcknowledgeOut:
    """Acknowledge every open green alert of one patient, or of the whole (team-scoped) list."""
    return BulkAcknowledgeOut(acknowledged=lifecycle.acknowledge_green(
        conn, viewer, patient_id=body.patient_id, note=body.note))


@router.get("/pending-evaluations/parked", response_model=list[ParkedEvaluationOut])
def parked_evaluations(conn: DbConn, viewer: AdminViewer, response: Response,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       cursor: IdCursor = None) -> list[ParkedEvaluationOut]:
    """Left-over alert evaluations that failed ``KOL_ALERT_RECOVERY_MAX_ATTEMPTS`` times and
    wait for an operator, newest first; next page's cursor in ``X-Next-Cursor``."""
    page, next_cursor = recovery.list_parked(conn, cursor=cursor, limit=limit)
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.post("/pending-evaluations/{pending_id}/retry", status_code=204)
def retry_parked_evaluation(pending_id: int, conn: DbConn, viewer: AdminViewer) -> Response:
    """Make a parked evaluation due again, with a fresh count of attempts (after its cause was
    fixed); the recovery task takes it on its next run."""
    recovery.retry_parked(conn, viewer, pending_id)
    return Response(status_code=204)


@router.get("/patients/{patient_id}/alert-history", response_model=list[AlertHistoryEntry])
def alert_history(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
                  limit: Limit = 100) -> list[AlertHistoryEntry]:
    """The patient's alerts, resolved ones included, newest first, each with its steps: who
    acknowledged or resolved it, when, and the note."""
    require_patient(conn, viewer, patient_id)
    entries = lifecycle.history(conn, viewer, patient_id, limit=limit)
    read(patient_id, "alerts", history=True)
    return entries


@router.get("/patients/{patient_id}/alert-readings", response_model=list[AlertReadingOut])
def alert_readings(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
                   from_: Annotated[Timestamp, Query(alias="from")]
                   ) -> list[AlertReadingOut]:
    """The readings measured since ``from`` that raised or updated the patient's alerts (the
    dashboard marks them on its plots)."""
    require_patient(conn, viewer, patient_id)
    rows = lifecycle.alert_readings(conn, viewer, patient_id, measured_from=from_)
    read(patient_id, "alerts", readings=True, **{"from": from_})
    return rows
