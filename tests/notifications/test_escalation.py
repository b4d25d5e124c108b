"""Red alert → on-call nurse at once over SMS and e-mail (real aiosmtpd and HTTP receivers) →
second nurse after 10 minutes → the lead after 20, until someone acknowledges; the outbox is
written in the alert event's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from alerts import lifecycle
from alerts.lifecycle import AlertRaise, raise_alerts
from alerts.reasons import describe
from core.access import Viewer
from core.settings import Settings
from simulators.receivers import SmsGatewaySink, SmtpSink
from tests.notifications.conftest import Team, deliveries, later, raise_alert, run


def test_outbox_row_commits_and_rolls_back_with_the_alert_event(pool: ConnectionPool,
                                                                 team: Team) -> None:
    now = datetime.now(UTC)
    with pool.connection() as conn:
        raise_alerts(conn, [AlertRaise(
            patient_id=team.patients[0], rule="absolute", type="pulse", severity="red",
            first_measured_at=now, last_measured_at=now, value=130.0, late=False,
            reason=describe(rule="absolute", type_="pulse", severity="red", metric=130.0,
                            limit=120.0, reference=0.0),
            count=1, threshold_version=1)])
        inside = conn.execute(
            "select count(*) as n from notification_outbox o join alert_events e"
            " on e.id = o.event_id where o.patient_id = %s", (team.patients[0],)).fetchone()
        assert inside["n"] == 1
        conn.rollback()
        after = conn.execute("select count(*) as n from notification_outbox where patient_id = %s",
                             (team.patients[0],)).fetchone()
        assert after["n"] == 0


def test_red_alert_reaches_the_on_call_nurse_and_escalates_until_acknowledged(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink,
        sms: SmsGatewaySink) -> None:
    alert_id = raise_alert(pool, team.patients[0])
    run(pool, notify_settings)

    mails = smtp.wait_for(1, timeout=10)
    texts = sms.wait_for(1, timeout=10)
    expected = (f"Rød alarm hos en borger i {team.name} — åbn KOL-overvågning:"
                f" https://kol.example.dk/#alert={alert_id}")
    assert [m.body for m in mails] == [expected]
    assert mails[0].subject == "Rød alarm — KOL-overvågning"
    assert mails[0].to.startswith("nurse-")
    assert [t.body for t in texts] == [expected]
    assert texts[0].headers["Authorization"] == "Bearer sms-token-for-tests"
    with pool.connection() as conn:
        patient = conn.execute("select display_name from patients where id = %s",
                               (team.patients[0],)).fetchone()
    assert all(patient["display_name"] not in m.body for m in [*mails, *texts])
    assert {(d["step"], d["channel"], d["status"]) for d in deliveries(pool, alert_id)} == {
        (1, "email", "sent"), (1, "sms", "sent")}

    # Nothing more before 10 minutes; the second nurse at 10; the lead at 20.
    run(pool, notify_settings, now=later(5))
    assert len(smtp.received) == 1
    run(pool, notify_settings, now=later(10.5))
    assert len(smtp.wait_for(2, timeout=10)) == 2
    step2 = [d for d in deliveries(pool, alert_id) if d["step"] == 2]
    assert {d["user_id"] for d in step2} == {team.second}
    assert "(eskaleret: endnu ikke kvitteret)" in smtp.received[-1].body

    nurse = Viewer(user_id=team.nurse, username="nurse", role="nurse", team_ids=(team.id,))
    with pool.connection() as conn:
        lifecycle.handle(conn, nurse, alert_id, to="acknowledged", note="ringer op")
    run(pool, notify_settings, now=later(25))
    run(pool, notify_settings, now=later(60))
    assert len(smtp.received) == 2
    assert len(sms.received) == 2
    with pool.connection() as conn:
        chain = conn.execute("select state, stop_reason from notification_chains"
                             " where alert_id = %s", (alert_id,)).fetchone()
    assert chain["state"] == "stopped"
    assert chain["stop_reason"].startswith("acknowledged")
    assert not [d for d in deliveries(pool, alert_id) if d["step"] == 3]


def test_unacknowledged_red_alert_reaches_the_lead_then_repeats(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink) -> None:
    alert_id = raise_alert(pool, team.patients[1])
    for minutes in (0, 10.5, 20.5, 36, 52):
        run(pool, notify_settings, now=later(minutes))
    steps = sorted({(d["step"], d["user_id"]) for d in deliveries(pool, alert_id)})
    assert steps == [(1, team.nurse), (2, team.second), (3, team.lead), (4, team.lead),
                     (5, team.lead)]
