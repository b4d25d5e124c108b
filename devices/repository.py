"""SQL for devices."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients


def patient_exists(conn: Connection[Any], viewer: Viewer, patient_id: int) -> bool:
    row = conn.execute(sql.SQL("select 1 from patients p where p.id = %(id)s and {}").format(
        visible_patients(viewer)), {"id": patient_id}).fetchone()
    return row is not None


def insert_device(conn: Connection[Any], *, device_id: str, patient_id: int,
                  password_hash: str) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "insert into devices (device_id, patient_id, password_hash) values (%s, %s, %s)"
        " returning device_id, patient_id, created_at",
        (device_id, patient_id, password_hash)).fetchone()
    assert row is not None
    return row


def active_device_ids(conn: Connection[Any], viewer: Viewer, patient_id: int) -> list[str]:
    return [r["device_id"] for r in conn.execute(sql.SQL(
        "select d.device_id from devices d join patients p on p.id = d.patient_id"
        " where d.patient_id = %(id)s and d.active and {}").format(visible_patients(viewer)),
        {"id": patient_id}).fetchall()]


def deactivate_device(conn: Connection[Any], viewer: Viewer, device_id: str
                      ) -> dict[str, Any] | None:
    """Mark the device inactive (kept for the readings that name it); None if not visible."""
    row: dict[str, Any] | None = conn.execute(sql.SQL(
        "update devices d set active = false,"
        " deactivated_at = coalesce(d.deactivated_at, now())"
        " from patients p where p.id = d.patient_id and d.device_id = %(id)s and {}"
        " returning d.device_id, d.patient_id, d.deactivated_at").format(
            visible_patients(viewer)), {"id": device_id}).fetchone()
    return row


def deactivate_patient_devices(conn: Connection[Any], patient_id: int) -> list[str]:
    """Deactivate every active device of the patient; their ids."""
    rows = conn.execute(
        "update devices set active = false, deactivated_at = now()"
        " where patient_id = %s and active returning device_id", (patient_id,)).fetchall()
    return [r["device_id"] for r in rows]


def active_device_secret_hash(conn: Connection[Any], device_id: str) -> dict[str, Any] | None:
    """The active device's patient and secret hash; None if unknown or deactivated."""
    row: dict[str, Any] | None = conn.execute(
        "select device_id, patient_id, password_hash from devices"
        " where device_id = %s and active", (device_id,)).fetchone()
    return row


def all_active_device_ids(conn: Connection[Any]) -> list[str]:
    """Every active device (the platform's own upkeep, never a viewer's read)."""
    return [r["device_id"] for r in conn.execute(
        "select device_id from devices where active order by device_id")]


def device_states(conn: Connection[Any]) -> dict[str, bool]:
    """Every device ever provisioned and whether it is active (the brokers' accounts are
    levelled with it)."""
    return {r["device_id"]: r["active"] for r in conn.execute(
        "select device_id, active from devices")}
