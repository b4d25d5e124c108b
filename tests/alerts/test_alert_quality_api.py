"""Issue 13 through the real app and database: dispositions on acknowledge / resolve and the
alert-outcomes report, the personal-limit proposal with its preview, the alert-burden list, and
automatic personalisation at the end of the run-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from alerts import personalisation
from alerts.profiles import PROFILES
from alerts.streaming import evaluate_committed
from tests.alerts.conftest import commit_readings
from tests.alerts.test_routes import login
from tests.conftest import insert_patient, unique


@pytest.fixture
def team(committed_conn: psycopg.Connection[Any]) -> str:
    name = unique("team")
    insert_patient(committed_conn, team=name)  # creates the team
    return name


def _red_alerts(pool: ConnectionPool, conn: psycopg.Connection[Any], patient: int,
                t0: datetime) -> None:
    """A red SpO2 and a red pulse alert for the patient."""
    evaluate_committed(pool, commit_readings(conn, [(patient, "spo2", t0, 80.0),
                                                    (patient, "pulse", t0, 130.0)]))


def _alert_ids(client: TestClient, headers: dict[str, str], patient: int) -> dict[str, int]:
    alerts = client.get(f"/api/v1/alerts?patient_id={patient}", headers=headers).json()
    return {a["type"]: a["id"] for a in alerts}


def test_dispositions_and_the_outcomes_report(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any],
        team: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    one = insert_patient(committed_conn, team=team, name="Inger")
    two = insert_patient(committed_conn, team=team, name="Bent")
    other = insert_patient(committed_conn, team=unique("other-team"))
    nurse = login(client, committed_conn, "nurse", team)
    t0 = datetime(2026, 5, 4, 8, tzinfo=UTC)
    for p in (one, two, other):
        _red_alerts(pool, committed_conn, p, t0)
    a1, a2 = _alert_ids(client, nurse, one), _alert_ids(client, nurse, two)

    # The old request shape still works; a disposition from the fixed set is optional.
    assert client.post(f"/api/v1/alerts/{a1['spo2']}/acknowledge", json={"note": "seen"},
                       headers=nurse).status_code == 200
    bad = client.post(f"/api/v1/alerts/{a1['spo2']}/resolve",
                      json={"note": "", "disposition": "prayed"}, headers=nurse)
    assert bad.status_code == 422
    ok = client.post(f"/api/v1/alerts/{a1['spo2']}/resolve",
                     json={"note": "called, GP to see her", "disposition": "gp_contacted"},
                     headers=nurse)
    assert ok.status_code == 200, ok.text
    assert client.post(f"/api/v1/alerts/{a1['pulse']}/acknowledge",
                       json={"note": "", "disposition": "measurement_error"},
                       headers=nurse).status_code == 200
    # A later step's disposition replaces the earlier one; a step without one keeps it.
    assert client.post(f"/api/v1/alerts/{a2['spo2']}/acknowledge",
                       json={"note": "", "disposition": "advice_by_phone"},
                       headers=nurse).status_code == 200
    assert client.post(f"/api/v1/alerts/{a2['spo2']}/resolve", json={"note": "fine again"},
                       headers=nurse).status_code == 200
    assert client.post(f"/api/v1/alerts/{a2['pulse']}/resolve",
                       json={"disposition": "no_action_needed"}, headers=nurse).status_code == 200

    stored = committed_conn.execute(
        "select id, disposition from alerts where id = any(%s)",
        ([a1["spo2"], a1["pulse"], a2["spo2"], a2["pulse"]],)).fetchall()
    assert {r["id"]: r["disposition"] for r in stored} == {
        a1["spo2"]: "gp_contacted", a1["pulse"]: "measurement_error",
        a2["spo2"]: "advice_by_phone", a2["pulse"]: "no_action_needed"}
    event = committed_conn.execute(
        "select disposition from alert_events where alert_id = %s and event = 'resolved'",
        (a1["spo2"],)).fetchone()
    assert event == {"disposition": "gp_contacted"}
    audit = committed_conn.execute(
        "select detail from audit_log where entity_type = 'alert' and entity_id = %s"
        " and action = 'alert.resolve'", (str(a1["spo2"]),)).fetchone()
    assert audit is not None
    assert audit["detail"]["disposition"] == "gp_contacted"

    report = client.get("/api/v1/reports/alert-outcomes", params={"since": since.isoformat()},
                        headers=nurse)
    assert report.status_code == 200, report.text
    body = report.json()
    by_rule = {(r["rule"], r["type"]): r for r in body["by_rule"]}
    # The other team's alerts are not counted: 2 per rule and type, from our two patients.
    assert by_rule[("absolute", "spo2")]["alerts"] == 2
    assert by_rule[("absolute", "spo2")]["actioned"] == 2
    assert by_rule[("absolute", "spo2")]["share_actioned"] == 1.0
    assert by_rule[("absolute", "pulse")]["with_disposition"] == 2
    assert by_rule[("absolute", "pulse")]["share_actioned"] == 0.0
    assert by_rule[("absolute", "pulse")]["by_disposition"] == {
        "measurement_error": 1, "no_action_needed": 1}
    by_patient = {r["patient_id"]: r for r in body["by_patient"]}
    assert set(by_patient) == {one, two}
    assert by_patient[one]["display_name"] == "Inger"
    assert by_patient[one]["share_actioned"] == 0.5
    assert by_patient[two]["actioned"] == 1
    # `since` is required, and a later one leaves the alerts out.
    assert client.get("/api/v1/reports/alert-outcomes", headers=nurse).status_code == 422
    later = client.get("/api/v1/reports/alert-outcomes",
                       params={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
                       headers=nurse).json()
    assert later["by_rule"] == []


def test_the_outcomes_report_measures_warnings_of_admissions_and_episodes_judged_no_action(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any],
        team: str) -> None:
    """The benchmark's sensitivity, lead and false episodes on the team's own patients: an
    admission for a COPD exacerbation is warned of by an alert in the 7 days before it; an
    episode is judged to need no action when every alert of it has a disposition, none an
    action, and no such admission follows it within 7 days."""
    now = datetime.now(UTC)
    since = now - timedelta(days=10)
    inger = insert_patient(committed_conn, team=team, name="Inger")
    bent = insert_patient(committed_conn, team=team, name="Bent")
    else_ = insert_patient(committed_conn, team=team, name="Else")
    other_team = unique("other-team")
    other = insert_patient(committed_conn, team=other_team)
    # Enrolled 30 days ago: each was monitored for the whole 10 days of the report.
    committed_conn.execute("update patients set created_at = %s where id = any(%s)",
                           (now - timedelta(days=30), [inger, bent, else_, other]))
    nurse = login(client, committed_conn, "nurse", team)
    t0 = datetime(2026, 5, 4, 8, tzinfo=UTC)
    for p in (inger, bent, other):
        _red_alerts(pool, committed_conn, p, t0)
    # Inger's alerts were opened 3 days ago; she is admitted for an exacerbation 1 day ago.
    committed_conn.execute("update alerts set opened_at = %s where patient_id = %s",
                           (now - timedelta(days=3), inger))

    def admit(patient: int, days_ago: float, reason: str = "copd_exacerbation",
              headers: dict[str, str] = nurse) -> int:
        answer = client.post(f"/api/v1/patients/{patient}/care-events", headers=headers, json={
            "kind": "admission", "occurred_at": (now - timedelta(days=days_ago)).isoformat(),
            "hospital": "Odense", "reason": reason})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    admit(inger, 1)
    admit(else_, 2)  # no alert before it
    admit(bent, 4, reason="heart")  # not an exacerbation
    mistake = admit(bent, 5)
    assert client.post(f"/api/v1/patients/{bent}/care-events/{mistake}/withdraw", headers=nurse,
                       json={"withdrawal_reason": "the wrong patient"}).status_code == 200
    # Another team's patient, alerted 3 days ago and admitted: not the team's to count.
    committed_conn.execute("update alerts set opened_at = %s where patient_id = %s",
                           (now - timedelta(days=3), other))
    admit(other, 1, headers=login(client, committed_conn, "nurse", other_team))
    # Every alert of Inger's and Bent's judged to need no action; Inger's was followed by her
    # admission all the same, so only Bent's episode counts as one that needed none.
    for patient in (inger, bent):
        for alert_id in _alert_ids(client, nurse, patient).values():
            assert client.post(f"/api/v1/alerts/{alert_id}/resolve",
                               json={"disposition": "no_action_needed"},
                               headers=nurse).status_code == 200

    body = client.get("/api/v1/reports/alert-outcomes", params={"since": since.isoformat()},
                      headers=nurse).json()
    assert body["admissions"] == {"admissions": 2, "warned": 1, "share_warned": 0.5,
                                  "median_lead_days": 2.0}
    episodes = body["episodes"]
    # One episode each (her SpO2 and pulse alerts of one moment are one case).
    assert episodes["episodes"] == 2
    assert episodes["judged_no_action"] == 1
    assert episodes["patient_months"] == pytest.approx(3 * 10 / 30.4375, abs=0.01)
    assert episodes["judged_no_action_per_patient_month"] == pytest.approx(
        1 / (3 * 10 / 30.4375), rel=0.01)
    # A report that starts after all of it: no admission, no episode.
    later = client.get("/api/v1/reports/alert-outcomes",
                       params={"since": (now + timedelta(hours=1)).isoformat()},
                       headers=nurse).json()
    assert later["admissions"] == {"admissions": 0, "warned": 0, "share_warned": None,
                                   "median_lead_days": None}
    assert later["episodes"]["episodes"] == 0


def _stable_hypoxaemic(conn: psycopg.Connection[Any], patient: int, start: datetime,
                       days: int) -> list[tuple[int, str, datetime, float]]:
    """A patient stable at SpO2 88-89 (pulse 85, weight 70): everyday values inside the standard
    profile's yellow (< 90) and partly its red (< 88) range."""
    rows = []
    for d in range(days):
        at = start + timedelta(days=d, hours=8)
        rows += [(patient, "spo2", at, 88.0 + (d % 3 == 0) + (d % 5 == 0)),
                 (patient, "pulse", at, 84.0 + d % 3),
                 (patient, "weight", at - timedelta(minutes=5), 70.0 + 0.1 * (d % 4))]
    return rows


def test_proposal_beside_the_current_limits_with_the_preview_of_each(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    clinician = login(client, committed_conn, "clinician", team)
    stranger = login(client, committed_conn, "clinician", unique("other-team"))
    now = datetime.now(UTC)
    commit_readings(committed_conn, _stable_hypoxaemic(committed_conn, patient,
                                                       now - timedelta(days=40), 40))
    url = f"/api/v1/patients/{patient}/thresholds/proposal"
    assert client.get(url, headers=stranger).status_code == 404
    got = client.get(url, params={"days": 30}, headers=clinician)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["current_version"] == 1
    assert body["basis"]["ready"] is True
    assert body["basis"]["run_in_days"] == 21
    assert body["basis"]["readings"]["spo2"] in (20, 21)
    assert body["basis"]["median"]["spo2"] == 88.0
    assert body["basis"]["safety"]["spo2_red_low_min"] == 85.0
    proposed = body["thresholds"]["spo2"]["absolute"]
    assert proposed["yellow_low"] == 87.0
    assert proposed["red_low"] == 85.0
    assert {c["path"] for c in body["changes"]} >= {"spo2.absolute.yellow_low",
                                                    "spo2.absolute.red_low"}
    current, after = body["preview"]["current"], body["preview"]["proposed"]
    assert current["readings_evaluated"] == after["readings_evaluated"] > 0
    # The current limits alert on this patient's everyday values; the proposal does not.
    assert any(a["rule"] == "absolute" for a in current["alerts"])
    assert not any(a["rule"] == "absolute" for a in after["alerts"])
    # Nothing was written: the proposal is only a proposal until a clinician PUTs it.
    versions = committed_conn.execute(
        "select count(*) as n from threshold_versions where patient_id = %s",
        (patient,)).fetchone()
    assert versions == {"n": 1}
    accepted = client.put(f"/api/v1/patients/{patient}/thresholds",
                          json={"thresholds": body["thresholds"],
                                "reason": "personal limits from the run-in"},
                          headers=clinician)
    assert accepted.status_code == 200
    assert client.get(url, headers=clinician).json()["changes"] == []


def test_proposal_without_enough_readings_proposes_nothing(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    patient = insert_patient(committed_conn, team=team)
    nurse = login(client, committed_conn, "nurse", team)
    now = datetime.now(UTC)
    commit_readings(committed_conn, _stable_hypoxaemic(committed_conn, patient,
                                                       now - timedelta(days=4), 4))
    body = client.get(f"/api/v1/patients/{patient}/thresholds/proposal", headers=nurse).json()
    assert body["basis"]["ready"] is False
    assert body["changes"] == []
    assert body["thresholds"] == PROFILES["kol-standard"].model_dump()


def test_alert_burden_ranks_patients_by_alerts_per_week_with_their_proposal(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any]
        ) -> None:
    team = unique("team")
    noisy = insert_patient(committed_conn, team=team, name="noisy")
    quiet = insert_patient(committed_conn, team=team, name="quiet")
    insert_patient(committed_conn, team=unique("other-team"))
    nurse = login(client, committed_conn, "nurse", team)
    now = datetime.now(UTC)
    readings = _stable_hypoxaemic(committed_conn, noisy, now - timedelta(days=25), 25)
    evaluate_committed(pool, commit_readings(committed_conn, readings))
    n_alerts = committed_conn.execute(
        "select count(*) as n from alerts where patient_id = %s", (noisy,)).fetchone()
    assert n_alerts is not None
    assert n_alerts["n"] >= 1

    got = client.get("/api/v1/reports/alert-burden", headers=nurse)
    assert got.status_code == 200, got.text
    rows = got.json()
    assert [r["patient_id"] for r in rows] == [noisy, quiet]  # not the other team's
    assert rows[0]["alerts"] == n_alerts["n"]
    assert rows[0]["alerts_per_week"] == round(n_alerts["n"] * 7 / 30, 2)
    assert "spo2.absolute.yellow_low" in {c["path"] for c in rows[0]["pending_proposal"]}
    assert rows[1]["alerts"] == 0
    assert rows[1]["pending_proposal"] == []
    assert client.get("/api/v1/reports/alert-burden", params={"days": 0},
                      headers=nurse).status_code == 422


def _auto_profile(conn: psycopg.Connection[Any]) -> str:
    """A profile like kol-standard whose patients are personalised after a 21-day run-in."""
    profile = unique("kol-auto")
    conn.execute(
        "insert into profiles (name, description, thresholds, auto_personalise, run_in_days)"
        " values (%s, 'test: standard, personalised after 21 days', %s, true, 21)",
        (profile, Jsonb(PROFILES["kol-standard"].model_dump())))
    return profile


def test_auto_personalise_applies_the_proposal_at_the_end_of_the_run_in(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any]
        ) -> None:
    profile = _auto_profile(committed_conn)
    team = unique("team")
    due = insert_patient(committed_conn, team=team, profile=profile)
    sparse = insert_patient(committed_conn, team=team, profile=profile)
    fresh = insert_patient(committed_conn, team=team, profile=profile)
    now = datetime.now(UTC)
    enrolled = now - timedelta(days=22)
    committed_conn.execute("update patients set created_at = %s where id = any(%s)",
                           (enrolled, [due, sparse]))
    commit_readings(committed_conn, _stable_hypoxaemic(committed_conn, due, enrolled, 21)
                    + _stable_hypoxaemic(committed_conn, sparse, enrolled, 3)
                    + _stable_hypoxaemic(committed_conn, fresh, now - timedelta(days=5), 5))

    with pool.connection() as conn:
        outcome = personalisation.personalise_due(conn, now=now)
    assert outcome["applied"] >= 1
    runs = {r["patient_id"]: r for r in committed_conn.execute(
        "select patient_id, version, outcome from personalisations where patient_id = any(%s)",
        ([due, sparse, fresh],)).fetchall()}
    assert set(runs) == {due, sparse}  # the fresh patient's run-in has not ended
    assert runs[due]["outcome"] == "applied"
    assert runs[due]["version"] == 2
    assert runs[sparse]["outcome"] == "too_few_readings"

    clinician = login(client, committed_conn, "clinician", team)
    history = client.get(f"/api/v1/patients/{due}/thresholds/history",
                         headers=clinician).json()
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["changed_by"] is None  # the platform, not a person
    assert history[0]["reason"].startswith("automatic personalisation after the 21-day run-in")
    assert {"path": "spo2.absolute.yellow_low", "old": 90.0, "new": 87.0} in history[0]["diff"]
    audit = committed_conn.execute(
        "select actor, actor_id, detail from audit_log where action = 'thresholds.personalise'"
        " and entity_id = %s", (str(due),)).fetchone()
    assert audit is not None
    assert (audit["actor"], audit["actor_id"]) == ("system", None)
    assert audit["detail"]["version"] == 2

    # Once per patient: a second run changes nothing.
    with pool.connection() as conn:
        personalisation.personalise_due(conn, now=now)
    versions = committed_conn.execute(
        "select count(*) as n from threshold_versions where patient_id = %s", (due,)).fetchone()
    assert versions == {"n": 2}


def test_clinician_turns_auto_personalisation_on_and_off_per_patient(
        client: TestClient, pool: ConnectionPool, committed_conn: psycopg.Connection[Any]
        ) -> None:
    """The patient's own setting overrides her profile's either way, is audited with its reason
    and is what the periodic task follows; once it has run it cannot be turned on again."""
    auto_profile = _auto_profile(committed_conn)
    team = unique("team")
    opted_in = insert_patient(committed_conn, team=team)  # kol-standard: off by default
    opted_out = insert_patient(committed_conn, team=team, profile=auto_profile)
    follows = insert_patient(committed_conn, team=team)
    other = insert_patient(committed_conn, team=unique("other-team"))
    now = datetime.now(UTC)
    enrolled = now - timedelta(days=22)
    committed_conn.execute("update patients set created_at = %s where id = any(%s)",
                           (enrolled, [opted_in, opted_out, follows]))
    commit_readings(committed_conn, [r for p in (opted_in, opted_out, follows)
                                     for r in _stable_hypoxaemic(committed_conn, p, enrolled, 21)])
    clinician = login(client, committed_conn, "clinician", team)
    nurse = login(client, committed_conn, "nurse", team)
    url = "/api/v1/patients/{}/thresholds/auto-personalise".format

    state = client.get(url(follows), headers=nurse)
    assert state.status_code == 200, state.text
    assert state.json() | {"run_in_ends_at": None} == {
        "patient_id": follows, "enabled": False, "source": "profile", "profile": "kol-standard",
        "profile_default": False, "run_in_days": 21, "run_in_ends_at": None, "changed_by": None,
        "changed_at": None, "reason": None, "personalisation": None}
    assert datetime.fromisoformat(state.json()["run_in_ends_at"]) == enrolled + timedelta(days=21)
    read = committed_conn.execute(
        "select what from access_log where patient_id = %s", (follows,)).fetchall()
    assert {"what": "auto-personalisation"} in read
    assert client.get(url(opted_out), headers=nurse).json()["enabled"] is True

    # Only a clinician changes it, always with a reason, only for her team's patients.
    body = {"enabled": True, "reason": "stable at 88-89 %, standard limits alert every day"}
    assert client.put(url(opted_in), json=body, headers=nurse).status_code == 403
    assert client.put(url(other), json=body, headers=clinician).status_code == 404
    assert client.get(url(other), headers=clinician).status_code == 404
    assert client.put(url(opted_in), json={"enabled": True, "reason": ""},
                      headers=clinician).status_code == 422
    assert client.put(url(opted_in), json={"enabled": 1, "reason": "r"},
                      headers=clinician).status_code == 422  # a boolean, not a number
    on = client.put(url(opted_in), json=body, headers=clinician)
    assert on.status_code == 200, on.text
    assert (on.json()["enabled"], on.json()["source"], on.json()["reason"]) == (
        True, "patient", body["reason"])
    assert on.json()["changed_by"] is not None
    off = client.put(url(opted_out), json={"enabled": False, "reason": "in a trial"},
                     headers=clinician)
    assert (off.json()["enabled"], off.json()["source"], off.json()["profile_default"]) == (
        False, "patient", True)
    audit = committed_conn.execute(
        "select actor, detail from audit_log where action = 'thresholds.auto_personalise'"
        " and entity_id = %s", (str(opted_out),)).fetchone()
    assert audit is not None
    assert audit["detail"] == {"enabled": False, "previous": True, "previous_source": "profile",
                               "reason": "in a trial"}

    # The task follows the patient's setting, not her profile's.
    with pool.connection() as conn:
        personalisation.personalise_due(conn, now=now)
    runs = {r["patient_id"]: r["outcome"] for r in committed_conn.execute(
        "select patient_id, outcome from personalisations where patient_id = any(%s)",
        ([opted_in, opted_out, follows],)).fetchall()}
    assert runs == {opted_in: "applied"}
    done = client.get(url(opted_in), headers=clinician).json()
    assert done["personalisation"]["outcome"] == "applied"
    assert done["personalisation"]["version"] == 2
    # It runs once: turning it off is recorded, on again is refused.
    assert client.put(url(opted_in), json={"enabled": False, "reason": "done"},
                      headers=clinician).status_code == 200
    again = client.put(url(opted_in), json=body, headers=clinician)
    assert again.status_code == 409
    assert again.json()["type"].endswith("personalisation-done")


def test_the_outcomes_report_takes_the_first_representable_moment(
        client: TestClient, committed_conn: psycopg.Connection[Any], team: str) -> None:
    """Seven days before year 1 is no datetime: the report counts from year 1, and an admission
    recorded then is no alert's warning (not a 500)."""
    patient = insert_patient(committed_conn, team=team)
    nurse = login(client, committed_conn, "nurse", team)
    assert client.post(f"/api/v1/patients/{patient}/care-events", headers=nurse, json={
        "kind": "admission", "reason": "copd_exacerbation",
        "occurred_at": "0001-01-02T00:00:00Z"}).status_code == 201
    answer = client.get("/api/v1/reports/alert-outcomes", headers=nurse,
                        params={"since": "0001-01-01T00:00:00Z"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["admissions"]["admissions"] == 1
    assert answer.json()["admissions"]["warned"] == 0
