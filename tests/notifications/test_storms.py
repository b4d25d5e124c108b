"""No storms: alerts of one patient collapse into one message within the window, and a backlog
replay that raises alerts for a whole team at once gives each person a bounded number of
messages, the rest summarised in one message at the end of the window."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from psycopg_pool import ConnectionPool

from alerts.evaluation import evaluate_new
from alerts.lifecycle import AlertRaise, raise_alerts
from alerts.reasons import describe
from core.measurement_types import MEASUREMENT_TYPES
from core.settings import Settings
from ingest.schemas import ReadingColumns
from notifications.schemas import TeamPolicy
from simulators.receivers import SmsGatewaySink, SmtpSink
from tests.conftest import insert_patient
from tests.notifications.conftest import Team, run


def _red(patient_id: int, type_: str, at: datetime) -> AlertRaise:
    return AlertRaise(patient_id=patient_id, rule="absolute", type=type_, severity="red",
                      first_measured_at=at, last_measured_at=at, value=1.0, late=True,
                      reason=describe(rule="absolute", type_=type_, severity="red", metric=1.0,
                                      limit=2.0, reference=0.0),
                      count=1, threshold_version=1)


def test_alerts_of_one_patient_collapse_within_the_window(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink,
        sms: SmsGatewaySink) -> None:
    now = datetime.now(UTC)
    with pool.connection() as conn:
        raise_alerts(conn, [_red(team.patients[0], "spo2", now)])
    run(pool, notify_settings)
    with pool.connection() as conn:  # a second red alert of the same patient, minutes later
        raise_alerts(conn, [_red(team.patients[0], "pulse", now)])
    run(pool, notify_settings, now=now + timedelta(minutes=3))
    assert len(sms.wait_for(1, timeout=5)) == 1
    assert len(smtp.received) == 1
    with pool.connection() as conn:
        statuses = Counter(r["status"] for r in conn.execute(
            "select status from notification_deliveries where patient_id = %s",
            (team.patients[0],)))
    assert statuses == {"sent": 2, "collapsed": 2}


def test_backlog_replay_gives_a_bounded_number_of_messages_and_a_summary(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink,
        sms: SmsGatewaySink) -> None:
    # A broker backlog replayed after an outage: the evaluation of one batch of late red SpO2
    # readings, measured hours ago, raises red alerts for 40 patients at once.
    with pool.connection() as conn:
        patients = [insert_patient(conn, team=team.name) for _ in range(40)]
    now = datetime.now(UTC)
    measured = np.datetime64((now - timedelta(hours=6)).replace(tzinfo=None), "us")
    backlog = ReadingColumns(
        patient_id=np.array(patients, np.int64),
        type_index=np.full(40, MEASUREMENT_TYPES["spo2"].index, np.int16),
        measured_at=np.full(40, measured), value=np.full(40, 82.0), late=np.ones(40, np.bool_))
    with pool.connection() as conn:
        assert evaluate_new(conn, backlog).opened == 40
    run(pool, notify_settings, now=now)
    cap = TeamPolicy().flood_max_messages
    assert len(sms.wait_for(cap, timeout=5)) == cap
    assert len(smtp.wait_for(cap, timeout=5)) == cap
    window = timedelta(minutes=TeamPolicy().flood_window_minutes)
    # The window's end: the nurse's summary. Nobody acknowledged, so the chain's second step
    # has reached the second nurse meanwhile: she too gets at most `cap` messages.
    run(pool, notify_settings, now=now + window)
    sms.wait_for(2 * cap + 1, timeout=5)
    by_person = Counter(r.to for r in sms.unique)
    nurse, second = f"+4520{team.nurse:06d}", f"+4520{team.second:06d}"
    assert by_person == {nurse: cap + 1, second: cap}
    summary = [r for r in sms.unique if r.key.startswith("summary:")]
    assert [(r.to, r.body) for r in summary] == [(nurse, (
        f"{40 - cap} flere alarmer hos borgere i {team.name} — åbn KOL-overvågning:"
        " https://kol.example.dk/"))]
    assert Counter(r.to for r in smtp.wait_for(2 * cap + 1, timeout=5)).most_common(1)[0][1] \
        == cap + 1
    run(pool, notify_settings, now=now + 2 * window)
    assert Counter(r.to for r in sms.wait_for(2 * cap + 2, timeout=5))[second] == cap + 1
