"""Missing-measurement (blue) alerts from schedules in Europe/Copenhagen: deadlines on
daylight-saving change days, a wall time that does not exist, pauses, idempotent re-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts import missing, repository
from tests.alerts.conftest import alerts_of
from tests.conftest import insert_patient

TZ = "Europe/Copenhagen"


def scheduled_patient(conn: psycopg.Connection[Any], *, days: list[str], deadline: str,
                      types: list[str]) -> int:
    patient = insert_patient(conn)
    conn.execute("update patients set schedule = %s, created_at = '2026-01-01T00:00Z'"
                 " where id = %s",
                 (Jsonb({"days": days, "deadline": deadline, "types": types}), patient))
    return patient


def measure(conn: psycopg.Connection[Any], patient: int, type_: str, at: datetime) -> None:
    conn.execute("insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
                 " values (%s, %s, %s, 93, 'd', 'm')", (patient, type_, at))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spring_forward_deadline_is_local_noon_in_summer_time(
        conn: psycopg.Connection[Any]) -> None:
    # Sunday 2026-03-29 clocks go 02:00 -> 03:00: noon is 10:00 UTC that day, 11:00 UTC the
    # Monday before. A reading at 10:30 UTC on Sunday (12:30 local) is too late.
    patient = scheduled_patient(conn, days=["sun", "mon"], deadline="12:00", types=["spo2"])
    measure(conn, patient, "spo2", utc(2026, 3, 29, 10, 30))
    measure(conn, patient, "spo2", utc(2026, 3, 30, 9, 30))
    missing.check_missing(conn, now=utc(2026, 3, 30, 12), timezone=TZ)
    (alert,) = alerts_of(conn, patient)
    assert (alert["rule"], alert["type"], alert["severity"]) == ("missing", "spo2", "blue")
    assert alert["first_measured_at"] == alert["last_measured_at"] == utc(2026, 3, 29, 10)
    assert alert["breach_count"] == 1
    assert "Sun 29 Mar 12:00" in alert["reason"]


def test_fall_back_deadline_is_local_noon_in_winter_time(conn: psycopg.Connection[Any]) -> None:
    # Sunday 2026-10-25 clocks go 03:00 -> 02:00: noon is 11:00 UTC. 10:30 UTC is in time.
    patient = scheduled_patient(conn, days=["sun"], deadline="12:00", types=["pulse"])
    measure(conn, patient, "pulse", utc(2026, 10, 25, 10, 30))
    missing.check_missing(conn, now=utc(2026, 10, 25, 12), timezone=TZ)
    assert alerts_of(conn, patient) == []
    measure(conn, patient, "pulse", utc(2026, 11, 1, 11, 30))  # after noon (11:00 UTC)
    missing.check_missing(conn, now=utc(2026, 11, 1, 12), timezone=TZ)
    (alert,) = alerts_of(conn, patient)
    assert alert["last_measured_at"] == utc(2026, 11, 1, 11)


def test_a_deadline_that_does_not_exist_uses_the_offset_before_the_change(
        conn: psycopg.Connection[Any]) -> None:
    patient = scheduled_patient(conn, days=["sun"], deadline="02:30", types=["weight"])
    rows = repository.missed_deadlines(conn, since=utc(2026, 3, 28), until=utc(2026, 3, 30),
                                       timezone=TZ)
    assert [r["deadline"] for r in rows if r["patient_id"] == patient] == [
        utc(2026, 3, 29, 1, 30)]


def test_pauses_suppress_and_reruns_do_not_count_twice(conn: psycopg.Connection[Any]) -> None:
    patient = scheduled_patient(conn, days=["mon", "thu"], deadline="12:00",
                                types=["spo2", "weight"])
    conn.execute("insert into patient_pauses (patient_id, starts_at, ends_at, reason)"
                 " values (%s, '2026-02-01T00:00Z', '2026-02-06T00:00Z', 'hospital stay')",
                 (patient,))
    # Mon 2 Feb and Thu 5 Feb are paused; Mon 9 Feb is missed, weight only.
    measure(conn, patient, "spo2", utc(2026, 2, 9, 8))
    now = utc(2026, 2, 9, 12)
    missing.check_missing(conn, now=now, timezone=TZ)
    missing.check_missing(conn, now=now + timedelta(minutes=15), timezone=TZ)
    (alert,) = alerts_of(conn, patient)
    assert (alert["type"], alert["breach_count"]) == ("weight", 1)
    assert alert["first_measured_at"] == utc(2026, 2, 9, 11)
    # Thursday missed as well: the open alert is updated, not duplicated.
    missing.check_missing(conn, now=utc(2026, 2, 12, 12), timezone=TZ)
    (alert,) = [a for a in alerts_of(conn, patient) if a["type"] == "weight"]
    assert alert["breach_count"] == 2
    assert alert["last_measured_at"] == utc(2026, 2, 12, 11)
    events = conn.execute("select event from alert_events where alert_id = %s order by id",
                          (alert["id"],)).fetchall()
    assert [e["event"] for e in events] == ["opened", "updated"]
