"""Schedule versions (docs/outcomes.md): every schedule a patient has had, with when it was in
force, filled on every change and backfilled from the audit log; the adherence figure counts
each deadline under the schedule in force then, so a change does not rewrite the past."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from core.migrate import MIGRATIONS_DIR, migrate
from outcomes.schemas import Figures
from outcomes.service import outcomes
from tests.api.helpers import make_user
from tests.conftest import unique

TZ = ZoneInfo("Europe/Copenhagen")
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _adherence(conn: psycopg.Connection[Any], team: str, *, since: datetime, now: datetime
               ) -> list[tuple[str, int | None, int | None]]:
    """The team's (month, scheduled, taken) from ``since``'s month to ``now``'s."""
    result = outcomes(conn, first=since.date(), last=now.date(), reference_year=now.year - 1,
                      min_group=1, tz=TZ, now=now)
    group = next(g for g in result.groups if g.team == team)
    months: list[Figures] = group.months
    return [(f.period, f.measurements_scheduled, f.measurements_taken) for f in months]


def _scheduled(figures: list[tuple[str, int | None, int | None]]) -> int:
    return sum(scheduled or 0 for _, scheduled, _ in figures)


def test_a_schedule_change_does_not_change_past_adherence(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    team = unique("team")
    team_id = committed_conn.execute("insert into teams (name) values (%s) returning id",
                                     (team,)).fetchone()["id"]  # type: ignore[index]
    enrolled = datetime.now(UTC) - timedelta(days=40)
    pid = committed_conn.execute(
        "insert into patients (display_name, team_id, profile, schedule, created_at)"
        " values (%s, %s, 'kol-standard', %s, %s) returning id",
        (unique("Borger"), team_id, Jsonb({"days": EVERY_DAY, "deadline": "12:00",
                                            "types": ["spo2"]}), enrolled)
    ).fetchone()["id"]  # type: ignore[index]
    # She measured her SpO2 every other day, nothing else.
    committed_conn.cursor().executemany(
        "insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
        " values (%s, 'spo2', %s, 94, 'dev', 'm')",
        [(pid, enrolled + timedelta(days=d, hours=1)) for d in range(0, 40, 2)])
    clinician = make_user(client, committed_conn, role="clinician", teams=[team])
    now = datetime.now(UTC)
    before = _adherence(committed_conn, team, since=enrolled, now=now)
    assert _scheduled(before) >= 39
    changed = client.put(f"/api/v1/patients/{pid}/schedule", headers=clinician.headers, json={
        "schedule": {"days": ["mon"], "deadline": "08:00", "types": ["spo2", "pulse", "weight"]}})
    assert changed.status_code == 200, changed.text
    assert _adherence(committed_conn, team, since=enrolled, now=now) == before
    versions = committed_conn.execute(
        "select schedule, valid_from, valid_to from schedule_versions where patient_id = %s"
        " order by valid_from", (pid,)).fetchall()
    assert [v["schedule"]["types"] for v in versions] == [["spo2"],
                                                          ["spo2", "pulse", "weight"]]
    assert versions[0]["valid_from"] == enrolled
    assert versions[0]["valid_to"] == versions[1]["valid_from"] > now
    assert versions[1]["valid_to"] is None
    # From the change on, the new schedule is the one counted: Mondays at 08:00, three types.
    change, later = versions[1]["valid_from"], now + timedelta(days=15)
    day, mondays = change.astimezone(TZ).date(), 0
    while day <= later.astimezone(TZ).date():
        at = datetime(day.year, day.month, day.day, 8, tzinfo=TZ)
        mondays += day.weekday() == 0 and change <= at < later
        day += timedelta(days=1)
    after = _adherence(committed_conn, team, since=enrolled, now=later)
    assert _scheduled(after) - _scheduled(before) == 3 * mondays


def test_the_versions_are_backfilled_from_the_audit_log(scratch_database: str,
                                                        tmp_path: Path) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name < "0498":
            shutil.copy(path, tmp_path)
    migrate(scratch_database, directory=tmp_path)
    a, b, c = ({"days": [day], "deadline": "12:00", "types": ["spo2"]}
               for day in ("mon", "tue", "wed"))
    enrolled = datetime(2026, 1, 5, 9, tzinfo=UTC)
    first, second = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    with psycopg.connect(scratch_database, row_factory=psycopg.rows.dict_row) as conn:
        team_id = conn.execute("insert into teams (name) values ('t') returning id"
                               ).fetchone()["id"]  # type: ignore[index]
        changed, unchanged = (conn.execute(
            "insert into patients (display_name, team_id, profile, schedule, created_at)"
            " values (%s, %s, 'kol-standard', %s, %s) returning id",
            (name, team_id, Jsonb(schedule), enrolled)).fetchone()["id"]  # type: ignore[index]
            for name, schedule in (("changed", c), ("unchanged", a)))
        for at, old, new in ((second, b, c), (first, a, b)):  # logged out of order
            conn.execute(
                "insert into audit_log (at, actor, action, entity_type, entity_id, detail)"
                " values (%s, 'nurse', 'patient.schedule', 'patient', %s, %s)",
                (at, str(changed), Jsonb({"old": old, "new": new})))
        conn.execute("insert into audit_log (at, actor, action, entity_type, entity_id, detail)"
                     " values (%s, 'nurse', 'patient.edit', 'patient', %s, '{}')",
                     (first, str(unchanged)))
    shutil.copy(MIGRATIONS_DIR / "0498_schedule_versions.sql", tmp_path)
    migrate(scratch_database, directory=tmp_path)
    with psycopg.connect(scratch_database, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("select patient_id, schedule, valid_from, valid_to"
                            " from schedule_versions order by patient_id, valid_from").fetchall()
    assert rows == [
        {"patient_id": changed, "schedule": a, "valid_from": enrolled, "valid_to": first},
        {"patient_id": changed, "schedule": b, "valid_from": first, "valid_to": second},
        {"patient_id": changed, "schedule": c, "valid_from": second, "valid_to": None},
        {"patient_id": unchanged, "schedule": a, "valid_from": enrolled, "valid_to": None}]
