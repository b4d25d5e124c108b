"""The citizen's consents (issue #19): recorded at enrolment or later with the day, the scope and
who recorded it; withdrawn with the day and who recorded that. Withdrawing the consent to
telemonitoring ends her monitoring (``tablets.discharge`` discharges her and deactivates her
tablets); every row stays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from patients import repository
from patients.schemas import ConsentIn, ConsentOut, ConsentWithdrawIn
from patients.service import require_patient


def record(conn: Connection[Any], viewer: Viewer, patient_id: int, data: ConsentIn, *,
           now: datetime) -> ConsentOut:
    """A new standing consent of its scope; one standing before is replaced (withdrawn on the
    new one's day and noted so), so the history shows both."""
    require_patient(conn, viewer, patient_id)
    for old in repository.consents(conn, viewer, patient_id, standing_only=True):
        if old["scope"] == data.scope:
            repository.withdraw_consent(conn, patient_id=patient_id, consent_id=old["id"],
                                        withdrawn_on=data.given_on, note="replaced",
                                        by=viewer.user_id, at=now)
    consent_id = repository.insert_consent(conn, patient_id=patient_id, scope=data.scope,
                                           given_on=data.given_on, note=data.note,
                                           recorded_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action="patient.consent.give", entity_type="patient",
                 entity_id=patient_id, detail={"consent_id": consent_id, "scope": data.scope,
                                               "given_on": data.given_on.isoformat()})
    return _one(conn, viewer, patient_id, consent_id)


def withdraw(conn: Connection[Any], viewer: Viewer, patient_id: int, consent_id: int,
             data: ConsentWithdrawIn, *, now: datetime) -> tuple[ConsentOut, bool]:
    """Withdraw a standing consent; the second value says whether this ends her monitoring (the
    consent to telemonitoring of an active patient): the caller discharges her
    (``tablets.discharge.withdraw_consent``, which also collects her tablets)."""
    patient = require_patient(conn, viewer, patient_id)
    row = repository.withdraw_consent(conn, patient_id=patient_id, consent_id=consent_id,
                                      withdrawn_on=data.withdrawn_on, note=data.note,
                                      by=viewer.user_id, at=now)
    if row is None:
        raise errors.ConsentNotFound()
    audit.record(conn, viewer=viewer, action="patient.consent.withdraw", entity_type="patient",
                 entity_id=patient_id, detail={"consent_id": consent_id, "scope": row["scope"],
                                               "withdrawn_on": data.withdrawn_on.isoformat()})
    ends_monitoring = row["scope"] == "telemonitoring" and patient["active"]
    return _one(conn, viewer, patient_id, consent_id), ends_monitoring


def standing_scopes(conn: Connection[Any], viewer: Viewer, patient_id: int) -> set[str]:
    return {r["scope"] for r in repository.consents(conn, viewer, patient_id,
                                                    standing_only=True)}


def _one(conn: Connection[Any], viewer: Viewer, patient_id: int, consent_id: int) -> ConsentOut:
    return next(ConsentOut.model_validate(r) for r in repository.consents(conn, viewer, patient_id)
                if r["id"] == consent_id)
