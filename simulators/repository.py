"""SQL of the simulators: writing a generated care history (``simulators.history``) straight
into the database, as if the platform had run for months. For demos and tests only: the live
platform records all of this through the API."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from core.pro import PRO_QUESTION, PRO_QUESTIONNAIRE
from simulators.history import PatientHistory

DEVICE = "history-demo"


def team_has_patients(conn: Connection[Any], team: str) -> bool:
    return conn.execute("select 1 from patients p join teams t on t.id = p.team_id"
                        " where t.name = %s limit 1", (team,)).fetchone() is not None


def insert_history(conn: Connection[Any], histories: list[PatientHistory]) -> int:
    """Write every patient's history (discharged at its end, so the platform's tasks leave
    them be); the number of patients written."""
    for h in histories:
        team = conn.execute(
            "insert into teams (name) values (%s) on conflict (name) do update"
            " set name = excluded.name returning id", (h.team,)).fetchone()
        assert team is not None
        patient = conn.execute(
            "insert into patients (display_name, team_id, profile, schedule, created_at, active,"
            " discharged_at, admissions_before) values (%s, %s, 'kol-standard', %s, %s, false,"
            " %s, %s) returning id",
            (h.name, team["id"], Jsonb(h.schedule), h.created_at, h.discharged_at,
             h.admissions_before)).fetchone()
        assert patient is not None
        pid = patient["id"]
        conn.execute(
            "insert into threshold_versions (patient_id, version, thresholds, reason, changed_at)"
            " select %s, 1, thresholds, 'enrolment: copy of profile ' || name, %s"
            " from profiles where name = 'kol-standard'", (pid, h.created_at))
        for scope in ("telemonitoring", "share_gp"):
            conn.execute("insert into consents (patient_id, scope, given_on) values (%s, %s, %s)",
                         (pid, scope, h.created_at.date()))
        with conn.cursor().copy("copy readings (patient_id, type, measured_at, value, device_id,"
                                " msg_id) from stdin") as copy:
            for kind, at, value in h.readings:
                copy.write_row((pid, kind, at, value, DEVICE, "history"))
        alert_ids = []
        for n, a in enumerate(h.alerts):
            row = conn.execute(
                "insert into alerts (patient_id, rule, type, severity, status, opened_at,"
                " updated_at, reason, acknowledged_at, resolved_at, disposition)"
                " values (%s, %s, %s, %s, 'resolved', %s, %s, 'simulated history', %s, %s, %s)"
                " returning id",
                (pid, f"history-{n}", a["type"], a["severity"], a["opened_at"],
                 a["resolved_at"], a["acknowledged_at"], a["resolved_at"],
                 a["disposition"])).fetchone()
            assert row is not None
            alert_ids.append(row["id"])
            conn.execute(
                "insert into alert_events (alert_id, patient_id, event, severity, at, disposition)"
                " values (%s, %s, 'opened', %s, %s, null), (%s, %s, 'acknowledged', %s, %s, %s),"
                " (%s, %s, 'resolved', %s, %s, %s)",
                (row["id"], pid, a["severity"], a["opened_at"],
                 row["id"], pid, a["severity"], a["acknowledged_at"], a["disposition"],
                 row["id"], pid, a["severity"], a["resolved_at"], a["disposition"]))
        admission_ids: list[int] = []
        for e in sorted(h.care_events, key=lambda e: e["occurred_at"]):
            pause_id = None
            if e["kind"] == "admission":
                pause = conn.execute(
                    "insert into patient_pauses (patient_id, starts_at, ends_at, reason)"
                    " values (%s, %s, %s, %s) returning id",
                    (pid, e["occurred_at"], e["until"], f"Indlagt: {e['hospital']}")
                ).fetchone()
                assert pause is not None
                pause_id = pause["id"]
            row = conn.execute(
                "insert into care_events (patient_id, kind, occurred_at, hospital, reason,"
                " alert_id, pause_id, admission_id) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                " returning id",
                (pid, e["kind"], e["occurred_at"], e["hospital"], e["reason"],
                 alert_ids[e["alert"]] if "alert" in e else None, pause_id,
                 admission_ids.pop() if e["kind"] == "discharge" and admission_ids else None)
            ).fetchone()
            assert row is not None
            if e["kind"] == "admission":
                admission_ids.append(row["id"])
        with conn.cursor() as cur:
            # The monthly question's answers, as the tablet's responses would have stored them.
            cur.executemany("insert into questionnaire_responses (patient_id, questionnaire,"
                            " authored_at, answers, device_id, msg_id, received_at)"
                            " values (%s, %s, %s, %s, %s, 'history', %s)",
                            [(pid, PRO_QUESTIONNAIRE, at, Jsonb({PRO_QUESTION: answer}), DEVICE,
                              at) for at, answer in h.answers])
    return len(histories)
