"""Fixtures of the notification tests: the real local receivers (aiosmtpd, an HTTP SMS gateway,
a Web Push service), settings pointing at them, and a team with people, contacts and a rota."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

from alerts.lifecycle import AlertRaise, raise_alerts
from alerts.reasons import describe
from core.settings import Settings
from notifications import planner, repository
from notifications.tasks import deliver_with, tick_with
from simulators.receivers import PushServiceSink, SmsGatewaySink, SmtpSink
from tests.conftest import insert_patient, unique
from users import repository as users_repository


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def sms() -> Iterator[SmsGatewaySink]:
    sink = SmsGatewaySink(token="sms-token-for-tests").start()
    yield sink
    sink.stop()


@pytest.fixture
def push_service() -> Iterator[PushServiceSink]:
    sink = PushServiceSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def notify_settings(settings: Settings, smtp: SmtpSink, sms: SmsGatewaySink, tmp_path: Any
                    ) -> Settings:
    return settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "sms_gateway_url": sms.url + "/sms",
        "sms_gateway_token": SecretStr("sms-token-for-tests"),
        "public_url": "https://kol.example.dk", "notify_backoff_seconds": 0.2,
        "notify_max_attempts": 4, "vapid_private_key_file": tmp_path / "vapid.pem"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Team:
    id: int
    name: str
    nurse: int
    second: int
    lead: int
    admin: int
    patients: list[int]


def add_user(conn: Any, team_id: int, role: str, *, email: bool = True, phone: bool = True
             ) -> int:
    name = unique(role)
    row = conn.execute("insert into users (username, password_hash, role) values (%s, 'x', %s)"
                       " returning id", (name, role)).fetchone()
    conn.execute("insert into user_teams (user_id, team_id) values (%s, %s)", (row["id"], team_id))
    repository.upsert_contact(conn, user_id=row["id"],
                              email=f"{name}@kommune.example" if email else None,
                              phone=f"+4520{row['id'] % 1000000:06d}" if phone else None)
    return int(row["id"])


def all_day_rota(conn: Any, team_id: int, primary: int, secondary: int) -> None:
    """Primary and secondary on call around the clock, every day and on holidays."""
    slots = [{"user_id": u, "role": r, "day": d, "starts": "00:00", "ends": "00:00"}
             for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
             for u, r in ((primary, "primary"), (secondary, "secondary"))]
    repository.replace_rota(conn, team_id, slots)


@pytest.fixture
def team(pool: ConnectionPool) -> Iterator[Team]:
    """A team (name with a Danish letter) with an on-call nurse, a second nurse, a lead (the
    chain's third step after 20 minutes), an admin and three patients; committed. Its chains
    stop after the test, so that no later test's receivers hear of them."""
    name = unique("Hjemmepleje Nord")
    with pool.connection() as conn:
        patients = [insert_patient(conn, team=name) for _ in range(3)]
        team_id = users_repository.team_id(conn, name)
        assert team_id is not None
        nurse, second, lead = (add_user(conn, team_id, r) for r in ("nurse", "nurse", "clinician"))
        admin = add_user(conn, team_id, "admin", phone=False)
        all_day_rota(conn, team_id, nurse, second)
        repository.replace_escalation(conn, team_id, [
            {"target": "primary", "user_id": None, "after_minutes": 0},
            {"target": "secondary", "user_id": None, "after_minutes": 10},
            {"target": "user", "user_id": lead, "after_minutes": 20}])
    yield Team(id=team_id, name=name, nurse=nurse, second=second, lead=lead, admin=admin,
               patients=patients)
    with pool.connection() as conn:
        conn.execute("update notification_outbox set processed_at = now()"
                     " where processed_at is null")
        conn.execute("update notification_chains set state = 'stopped' where team_id = %s",
                     (team_id,))
        conn.execute("update notification_deliveries set status = 'cancelled'"
                     " where team_id = %s and status in ('queued', 'failed', 'sending')",
                     (team_id,))
        conn.execute("delete from notification_digest_items where team_id = %s", (team_id,))


def raise_alert(pool: ConnectionPool, patient_id: int, severity: str = "red", *,
                rule: str = "absolute", type_: str = "spo2") -> int:
    """An alert raised through the alert lifecycle, committed; its id."""
    now = datetime.now(UTC)
    with pool.connection() as conn:
        raise_alerts(conn, [AlertRaise(
            patient_id=patient_id, rule=rule, type=type_, severity=severity,
            first_measured_at=now, last_measured_at=now, value=85.0, late=False,
            reason=describe(rule="absolute", type_=type_, severity=severity, metric=85.0,
                            limit=88.0, reference=0.0),
            count=1, threshold_version=1)])
        row = conn.execute("select id from alerts where patient_id = %s and rule = %s"
                           " and type = %s and status <> 'resolved'",
                           (patient_id, rule, type_)).fetchone()
    return int(row["id"])


def run(pool: ConnectionPool, settings: Settings, *, now: datetime | None = None,
        rounds: int = 3) -> planner.TickOutcome:
    """Tick and deliver what is due, as the worker and beat would, until nothing is left."""
    total: list[int] = []
    outcome = planner.TickOutcome()
    for _ in range(rounds):
        outcome = tick_with(pool, settings, now=now) or planner.TickOutcome()
        for delivery_id in outcome.to_send:
            deliver_with(pool, settings, delivery_id)
        total.extend(outcome.to_send)
        if not outcome.to_send and not outcome.outbox:
            break
    return planner.TickOutcome(to_send=tuple(total))


def deliveries(pool: ConnectionPool, alert_id: int) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return repository.alert_deliveries(conn, alert_id)


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)
