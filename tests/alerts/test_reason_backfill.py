"""Migration 0474: alerts raised before reasons had codes (0470) get a code and parameters read
back from their English sentence, the same code and parameters the engine stores today, or the
generic ``legacy`` code when the sentence cannot be read back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from alerts.reasons import Reason, describe, describe_missing
from core.migrate import MIGRATIONS_DIR, migrate
from tests.conftest import insert_patient
from tests.stack import create_database, drop_database, with_database

DEADLINE = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
BEFORE_CODES = 473
"""The last migration before the backfill: the schema old alerts were written under."""


@pytest.fixture
def old_database(owner_url: str, tmp_path: Path) -> Iterator[str]:
    """A database migrated only up to 0473, as a platform that ran before 0474."""
    admin = with_database(owner_url, "postgres")
    name = create_database(admin)
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) <= BEFORE_CODES:
            shutil.copy(path, tmp_path / path.name)
    url = with_database(owner_url, name)
    migrate(url, directory=tmp_path)
    try:
        yield url
    finally:
        drop_database(admin, name)


CASES: list[tuple[str, str, str, Reason]] = [
    ("absolute", "spo2", "red", describe(rule="absolute", type_="spo2", severity="red",
                                         metric=83, limit=84, reference=float("nan"))),
    ("absolute", "pulse", "yellow", describe(rule="absolute", type_="pulse", severity="yellow",
                                             metric=121, limit=120, reference=float("nan"))),
    ("absolute", "weight", "red", describe(rule="absolute", type_="weight", severity="red",
                                           metric=58.5, limit=60, reference=float("nan"))),
    ("baseline", "spo2", "yellow", describe(rule="baseline", type_="spo2", severity="yellow",
                                            metric=-4.5, limit=-4, reference=93.5)),
    ("slope_3d", "weight", "yellow", describe(rule="slope_3d", type_="weight", severity="yellow",
                                              metric=2.5, limit=2, reference=float("nan"))),
    ("combined", "spo2+pulse", "red", describe(rule="combined", type_="spo2+pulse",
                                               severity="red", metric=1.25, limit=1.2,
                                               reference=float("nan"))),
    ("change_3d", "weight", "yellow", describe(rule="change_3d", type_="weight",
                                               severity="yellow", metric=1.5, limit=1.0,
                                               reference=80.5)),
    ("loss_30d", "weight", "yellow", describe(rule="loss_30d", type_="weight", severity="yellow",
                                              metric=5.5, limit=5, reference=82.5)),
]
"""(rule, type, severity, the reason the engine writes today), with figures the sentence
carries exactly (its formats round), and parameters the sentence does not carry as null."""


def _without_uncarried(reason: Reason) -> dict[str, Any]:
    """The parameters a sentence carries: change_3d and loss_30d do not say their limit, the
    combined rule not its reference."""
    params = dict(reason.params)
    if reason.code in ("change_3d", "loss_30d"):
        params["limit"] = None
    if reason.code == "combined":
        params["reference"] = None
    return params



def test_old_reasons_get_the_code_and_parameters_the_engine_writes_today(
        old_database: str) -> None:
    with psycopg.connect(old_database, autocommit=True, row_factory=dict_row) as conn:
        patient = insert_patient(conn)
        ids = []
        for rule, type_, severity, reason in CASES:
            ids.append(conn.execute(
                "insert into alerts (patient_id, rule, type, severity, reason, value)"
                " values (%s, %s, %s, %s, %s, 1) returning id",
                (patient, rule, type_, severity, reason.text)).fetchone()["id"])  # type: ignore[index]
        missing = describe_missing(type_="pulse", deadline=DEADLINE, timezone="Europe/Copenhagen")
        missing_id = conn.execute(
            "insert into alerts (patient_id, rule, type, severity, reason, first_measured_at,"
            " last_measured_at) values (%s, 'missing', 'pulse', 'blue', %s, %s, %s) returning id",
            (patient, missing.text, DEADLINE, DEADLINE)).fetchone()["id"]  # type: ignore[index]
        # A sentence of no known shape, and one whose rule says another shape (of another
        # patient: one unresolved alert per patient, rule and type).
        other = insert_patient(conn)
        odd = [conn.execute(
            "insert into alerts (patient_id, rule, type, severity, reason, value)"
            " values (%s, %s, 'spo2', 'yellow', %s, 88.5) returning id",
            (other, rule, text)).fetchone()["id"]  # type: ignore[index]
            for rule, text in (("absolute", "SpO2 low (imported from the old system)"),
                               ("baseline", CASES[0][3].text))]

    migrate(old_database)

    with psycopg.connect(old_database, row_factory=dict_row) as conn:
        rows = {r["id"]: r for r in conn.execute(
            "select id, reason, reason_code, reason_params from alerts")}
    for alert_id, (_rule, _type, _severity, reason) in zip(ids, CASES, strict=True):
        row = rows[alert_id]
        assert row["reason"] == reason.text  # the contract's sentence stays
        assert (row["reason_code"], row["reason_params"]) == (
            reason.code, _without_uncarried(reason)), reason.text
    assert rows[missing_id]["reason_code"] == "missing"
    assert rows[missing_id]["reason_params"] == missing.params
    for alert_id, rule in zip(odd, ("absolute", "baseline"), strict=True):
        assert rows[alert_id]["reason_code"] == "legacy"
        assert rows[alert_id]["reason_params"] == {
            "type": "spo2", "rule": rule, "severity": "yellow", "metric": 88.5, "unit": "%"}
    # The migration's own helpers are gone.
    with psycopg.connect(old_database) as conn:
        assert conn.execute("select count(*) from pg_proc where proname like 'migration_0474%'"
                            ).fetchone() == (0,)
