"""The outcomes demo's simulated care history (issue #19): plausible figures, and every figure
the outcomes API shows for it matches the rows written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from simulators import repository
from simulators.history import generate_history
from tests.api.helpers import make_user
from tests.api.test_outcomes import check_response, expected, periods_of
from tests.conftest import unique

TZ = ZoneInfo("Europe/Copenhagen")


def test_the_history_is_plausible_and_every_figure_matches_its_rows(
        client: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    now = datetime.now(UTC)
    teams = [unique("hist-nord"), unique("hist-syd")]
    histories = generate_history(teams=teams, patients_per_team=8, months=14, seed=3, now=now)
    # Admissions come from severe exacerbations, each with its discharge and, when an alert
    # caught it, its red alert.
    admissions = [e for h in histories for e in h.care_events if e["kind"] == "admission"]
    assert admissions
    for h in histories:
        for e in h.care_events:
            if e["kind"] == "admission":
                assert e["occurred_at"] < e["until"] <= h.discharged_at
                assert not any(e["occurred_at"] <= at < e["until"] for _, at, _ in h.readings)
                if "alert" in e:
                    alert = h.alerts[e["alert"]]
                    assert alert["severity"] == "red"
                    assert alert["disposition"] == "admitted"
                    assert alert["opened_at"] < e["occurred_at"]
    assert not repository.team_has_patients(committed_conn, teams[0])
    assert repository.insert_history(committed_conn, histories) == 16
    assert repository.team_has_patients(committed_conn, teams[0])

    manager = make_user(client, committed_conn, role="manager", teams=[])
    local = now.astimezone(TZ)
    months = []
    year, month = local.year, local.month
    for _ in range(12):
        months.insert(0, f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    reference = local.year - 1
    response = client.get("/api/v1/outcomes", headers=manager.headers,
                          params={"to": months[-1], "months": 12, "reference_year": reference})
    assert response.status_code == 200, response.text
    body = response.json()
    # The current month is still running: its figures depend on the moment they are computed,
    # so only the months that ended and the reference year are held to the rows.
    labels = [*months[:-1], str(reference)]
    want = expected(committed_conn, datetime.now(UTC), periods_of(months, reference))
    assert check_response(body, want, teams, labels) >= 10
    nord = next(g for g in body["groups"] if g["team"] == teams[0])
    shown = [f for f in nord["months"][:-1] if not f["suppressed"]]
    assert shown
    rates = [f["admissions_per_patient_year"] for f in shown]
    assert 0 < sum(rates) / len(rates) < 3
    assert all(0.3 < f["adherence"] <= 1 for f in shown)
    shares = [f["pro_share_managed"] for f in shown if f["pro_share_managed"] is not None]
    assert shares
    assert 0.5 < sum(shares) / len(shares) <= 1


def test_the_history_misses_some_exacerbations_and_raises_false_alerts_as_the_benchmark() -> None:
    """The demo's alerts are as good as the robustness benchmark measured, no better: a tenth of
    the admissions came without an alert, and about 1.2 red or yellow alert episodes per
    patient-month needed no action (docs/alerting-engine.md)."""
    now = datetime.now(UTC)
    histories = generate_history(teams=["a"], patients_per_team=300, months=12, seed=11, now=now)
    admissions = [e for h in histories for e in h.care_events if e["kind"] == "admission"]
    missed = sum("alert" not in e for e in admissions) / len(admissions)
    assert 0.04 < missed < 0.2, missed
    months = sum((h.discharged_at - h.created_at).total_seconds() for h in histories) / (
        30.44 * 86400)
    false = [a for h in histories for a in h.alerts if a["severity"] in ("red", "yellow")
             and a["disposition"] in ("no_action_needed", "measurement_error")]
    assert 0.9 < len(false) / months < 1.5
    assert 0.05 < sum(a["severity"] == "red" for a in false) / len(false) < 0.3
    # None of those while she is in hospital.
    for h in histories:
        stays = [(e["occurred_at"], e["until"]) for e in h.care_events if e["kind"] == "admission"]
        assert not any(lo <= a["opened_at"] < hi for a in h.alerts for lo, hi in stays
                       if a["severity"] in ("red", "yellow")
                       and a["disposition"] in ("no_action_needed", "measurement_error"))
