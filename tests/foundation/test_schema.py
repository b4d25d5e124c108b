from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.health import database_status
from core.migrate import MigrationError, discover, migrate
from tests.conftest import insert_patient


def test_readings_is_a_hypertable_with_weekly_chunks(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "select d.column_name, d.time_interval from timescaledb_information.dimensions d"
        " where d.hypertable_name = 'readings'").fetchone()
    assert row is not None
    assert row["column_name"] == "measured_at"
    assert row["time_interval"] == timedelta(days=7)


def test_readings_spread_over_chunks(conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(conn)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with conn.cursor().copy(
        "copy readings (patient_id, type, measured_at, value, device_id, msg_id) from stdin"
    ) as copy:
        for day in range(30):
            copy.write_row((patient, "spo2", start + timedelta(days=day), 93.0, "dev", f"m{day}"))
    chunks = conn.execute(
        "select count(*) as n from timescaledb_information.chunks"
        " where hypertable_name = 'readings' and range_start < %s and range_end > %s",
        (start + timedelta(days=30), start)).fetchone()
    assert chunks is not None
    assert chunks["n"] >= 5


def test_unique_key_deduplicates_readings(conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(conn)
    at = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    insert = ("insert into readings (patient_id, type, measured_at, value, device_id, msg_id)"
              " values (%s, 'spo2', %s, %s, 'dev-a', %s) on conflict do nothing")
    first = conn.execute(insert, (patient, at, 93.0, "m1"))
    second = conn.execute(insert, (patient, at, 91.0, "m2"))
    assert (first.rowcount, second.rowcount) == (1, 0)
    rows = conn.execute("select value, msg_id from readings where patient_id = %s",
                        (patient,)).fetchall()
    assert rows == [{"value": 93.0, "msg_id": "m1"}]
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("insert into readings (patient_id, type, measured_at, value, device_id,"
                     " msg_id) values (%s, 'spo2', %s, 90, 'dev-b', 'm3')", (patient, at))


def test_profiles_are_seeded(conn: psycopg.Connection[Any]) -> None:
    names = {r["name"] for r in conn.execute("select name from profiles")}
    assert {"kol-standard", "kol-ltot"} <= names


def test_one_unresolved_alert_per_patient_rule_type(conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(conn)
    insert = ("insert into alerts (patient_id, rule, type, severity, reason)"
              " values (%s, 'absolute', 'spo2', 'yellow', 'SpO2 89 < 90')")
    conn.execute(insert, (patient,))
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        conn.execute(insert, (patient,))
    conn.execute("update alerts set status = 'resolved' where patient_id = %s", (patient,))
    conn.execute(insert, (patient,))


def test_timescaledb_edition_is_detected(conn: psycopg.Connection[Any]) -> None:
    status = database_status(conn)
    assert status["ok"]
    assert status["timescaledb"].startswith("2.")
    # The Debian-source build is Apache-only: no compression or continuous aggregates.
    assert status["edition"] == "apache"
    assert status["compression"] is False
    assert status["continuous_aggregates"] is False


def test_migrations_run_twice_without_error(owner_url: str) -> None:
    assert migrate(owner_url) == []
    assert migrate(owner_url) == []


def test_runner_applies_in_order_and_refuses_edited_migration(scratch_database: str,
                                                               tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("create table t (x int);")
    (tmp_path / "0002_second.sql").write_text("insert into t values (42);")
    applied = migrate(scratch_database, directory=tmp_path)
    assert [m.version for m in applied] == [1, 2]
    assert migrate(scratch_database, directory=tmp_path) == []
    with psycopg.connect(scratch_database) as c:
        assert c.execute("select x from t").fetchall() == [(42,)]
    (tmp_path / "0002_second.sql").write_text("insert into t values (43);")
    with pytest.raises(MigrationError, match="edited"):
        migrate(scratch_database, directory=tmp_path)


def test_failed_migration_leaves_nothing_behind(scratch_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("create table a (x int);")
    (tmp_path / "0002_broken.sql").write_text("create table b (x int); select no_such_fn();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(scratch_database, directory=tmp_path)
    with psycopg.connect(scratch_database) as c:
        versions = [r[0] for r in c.execute("select version from schema_migrations")]
        assert versions == [1]
        assert c.execute("select to_regclass('b')").fetchone() == (None,)


def test_discover_rejects_badly_named_files(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="NNNN"):
        discover(tmp_path)
