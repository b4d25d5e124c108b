"""Policies per severity: yellow at once in day hours and otherwise in the morning digest; blue
in the daily digest; a blue alert resolves itself when the missing measurement arrives (with an
event saying so) and then leaves the digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from psycopg_pool import ConnectionPool

from alerts.evaluation import evaluate_new
from alerts.missing import AUTO_RESOLVE_NOTE
from core import settings as settings_module
from core.measurement_types import MEASUREMENT_TYPES
from core.settings import Settings
from ingest.schemas import ReadingColumns
from notifications import repository
from notifications.calendar import next_local_time
from notifications.schemas import TeamPolicy
from simulators.receivers import SmsGatewaySink, SmtpSink
from tests.notifications.conftest import Team, deliveries, raise_alert, run

CPH = ZoneInfo("Europe/Copenhagen")


def _policy_with_day_hours(pool: ConnectionPool, team: Team, *, now_inside: bool) -> TeamPolicy:
    """Day hours that contain the current local time, or that do not."""
    local = datetime.now(CPH)
    minute = local.hour * 60 + local.minute
    if now_inside:
        starts, ends = max(0, minute - 30), min(24 * 60 - 1, minute + 30)
    else:
        starts, ends = ((minute + 30) % 1380, (minute + 30) % 1380 + 30)
    policy = TeamPolicy(day_starts=time(starts // 60, starts % 60),
                        day_ends=time(ends // 60, ends % 60))
    with pool.connection() as conn:
        repository.upsert_policy(conn, team_id=team.id, policy=policy.model_dump(mode="json"),
                                 updated_by=None)
    return policy


def test_yellow_in_day_hours_goes_out_at_once_and_is_not_escalated(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink,
        sms: SmsGatewaySink) -> None:
    _policy_with_day_hours(pool, team, now_inside=True)
    alert_id = raise_alert(pool, team.patients[0], "yellow")
    run(pool, notify_settings)
    [mail] = smtp.wait_for(1, timeout=5)
    assert mail.body.startswith(f"Gul alarm hos en borger i {team.name}")
    run(pool, notify_settings, now=datetime.now(UTC) + timedelta(minutes=30))
    assert {d["step"] for d in deliveries(pool, alert_id)} == {1}
    assert sms.received == []  # yellow's default channels: push and e-mail


def test_yellow_at_night_waits_for_the_morning_digest(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink) -> None:
    policy = _policy_with_day_hours(pool, team, now_inside=False)
    raise_alert(pool, team.patients[0], "yellow")
    raise_alert(pool, team.patients[1], "yellow", type_="pulse")
    run(pool, notify_settings)
    assert smtp.wait_for(1, timeout=1) == []
    due = next_local_time(datetime.now(UTC), policy.morning_digest_at, "Europe/Copenhagen")
    run(pool, notify_settings, now=due - timedelta(minutes=1))
    assert smtp.received == []
    run(pool, notify_settings, now=due + timedelta(seconds=1))
    [mail] = smtp.wait_for(1, timeout=5)
    assert mail.subject == "Oversigt — KOL-overvågning"
    assert mail.body == (f"2 gule alarmer venter hos borgere i {team.name} — åbn"
                         " KOL-overvågning: https://kol.example.dk/")
    assert mail.to.startswith("nurse-")
    run(pool, notify_settings, now=due + timedelta(minutes=5))
    assert len(smtp.received) == 1  # one digest


@pytest.fixture
def auto_resolve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 settings: Settings) -> Iterator[bool]:
    monkeypatch.setenv("KOL_AUTO_RESOLVE_MISSING", str(request.param).lower())
    settings_module.get_settings.cache_clear()
    yield request.param
    monkeypatch.undo()
    settings_module.get_settings.cache_clear()


def _weight_reading(patient_id: int, at: datetime) -> ReadingColumns:
    return ReadingColumns(
        patient_id=np.array([patient_id], np.int64),
        type_index=np.array([MEASUREMENT_TYPES["weight"].index], np.int16),
        measured_at=np.array([at.replace(tzinfo=None)], "datetime64[us]"),
        value=np.array([72.5]), late=np.array([False]))


@pytest.mark.parametrize("auto_resolve", [True, False], indirect=True)
def test_blue_alert_resolves_itself_when_the_measurement_arrives(
        pool: ConnectionPool, notify_settings: Settings, team: Team, smtp: SmtpSink,
        auto_resolve: bool) -> None:
    alert_id = raise_alert(pool, team.patients[2], "blue", rule="missing", type_="weight")
    run(pool, notify_settings)
    with pool.connection() as conn:
        [item] = conn.execute("select due_at from notification_digest_items where alert_id = %s",
                              (alert_id,)).fetchall()
    assert item["due_at"].astimezone(CPH).time() == TeamPolicy().daily_digest_at

    with pool.connection() as conn:
        outcome = evaluate_new(conn, _weight_reading(team.patients[2], datetime.now(UTC)))
        alert = conn.execute("select status, resolved_by, resolve_note from alerts where id = %s",
                             (alert_id,)).fetchone()
        events = conn.execute("select event, actor_id, note from alert_events where alert_id = %s"
                              " order by id", (alert_id,)).fetchall()
    run(pool, notify_settings, now=item["due_at"] + timedelta(seconds=1))
    if auto_resolve:
        assert outcome.resolved == 1
        assert (alert["status"], alert["resolved_by"], alert["resolve_note"]) == (
            "resolved", None, AUTO_RESOLVE_NOTE)
        assert events[-1] == {"event": "resolved", "actor_id": None, "note": AUTO_RESOLVE_NOTE}
        assert smtp.wait_for(1, timeout=1) == []  # nothing left for the digest
    else:
        assert outcome.resolved == 0
        assert alert["status"] == "open"
        [mail] = smtp.wait_for(1, timeout=5)
        assert mail.body.startswith(f"1 blå alarm venter hos borgere i {team.name}")
