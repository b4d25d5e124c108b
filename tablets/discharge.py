"""Ending her monitoring collects her tablets: the patient's discharge and the deactivation of
every tablet she has, in one step. It lives here because patients and devices are independent
siblings in the layers (neither may call the other) and tablets sits above both. Never commits:
the request owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from core.access import Viewer
from devices import service as devices
from devices.broker import BrokerAdmin
from patients import consent
from patients import service as patients
from patients.schemas import ConsentOut, ConsentWithdrawIn, DischargeIn, PatientOut


def discharge(conn: Connection[Any], *, viewer: Viewer, broker: BrokerAdmin, patient_id: int,
              data: DischargeIn, now: datetime) -> PatientOut:
    """Alerts and schedule stop, her tablets are deactivated, her history stays (audited)."""
    discharged = patients.discharge(conn, viewer, patient_id, data, now=now)
    devices.deactivate_all(conn, viewer=viewer, broker=broker, patient_id=patient_id)
    return discharged


def withdraw_consent(conn: Connection[Any], *, viewer: Viewer, broker: BrokerAdmin,
                     patient_id: int, consent_id: int, data: ConsentWithdrawIn,
                     now: datetime) -> ConsentOut:
    """Withdrawing the consent to telemonitoring of an active patient discharges her."""
    withdrawn, ends_monitoring = consent.withdraw(conn, viewer, patient_id, consent_id, data,
                                                  now=now)
    if ends_monitoring:
        discharge(conn, viewer=viewer, broker=broker, patient_id=patient_id,
                  data=DischargeIn(reason="consent to telemonitoring withdrawn"), now=now)
    return withdrawn
