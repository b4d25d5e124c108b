"""All SQL of the notification domain. Functions take a connection whose transaction the caller
owns. Reads of alerts and patients for a person compose ``core.access.visible_patients``; the
platform's own work (the ticker, the delivery task) runs as ``core.access.SYSTEM``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from core.access import Viewer, visible_patients

_TICK_LOCK = (6, 1)
"""Advisory lock keys that let one ticker run at a time (the alert domain uses namespace 5)."""


# --- teams, members, contacts -------------------------------------------------------------------

def team(conn: Connection[Any], team_id: int) -> dict[str, Any] | None:
    return conn.execute("select id, name from teams where id = %s", (team_id,)).fetchone()


def members(conn: Connection[Any], team_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select u.id, u.username, u.display_name, u.role from users u"
        " join user_teams ut on ut.user_id = u.id where ut.team_id = %s and u.active"
        " order by u.username", (team_id,)).fetchall()


def contact(conn: Connection[Any], user_id: int) -> dict[str, Any]:
    row: dict[str, Any] | None = conn.execute(
        "select c.email, c.phone,"
        " (select count(*) from push_subscriptions s where s.user_id = %s) as push_subscriptions"
        " from (select 1) one left join notification_contacts c on c.user_id = %s",
        (user_id, user_id)).fetchone()
    assert row is not None
    return row


def upsert_contact(conn: Connection[Any], *, user_id: int, email: str | None,
                   phone: str | None) -> None:
    conn.execute(
        "insert into notification_contacts (user_id, email, phone) values (%s, %s, %s)"
        " on conflict (user_id) do update set email = excluded.email, phone = excluded.phone,"
        " updated_at = now()", (user_id, email, phone))


def upsert_push_subscription(conn: Connection[Any], *, user_id: int, endpoint: str,
                             p256dh: str, auth: str) -> int:
    row = conn.execute(
        "insert into push_subscriptions (user_id, endpoint, p256dh, auth)"
        " values (%s, %s, %s, %s) on conflict (endpoint) do update set user_id = excluded.user_id,"
        " p256dh = excluded.p256dh, auth = excluded.auth returning id",
        (user_id, endpoint, p256dh, auth)).fetchone()
    assert row is not None
    return int(row["id"])


def delete_push_subscription(conn: Connection[Any], *, user_id: int | None, endpoint: str
                             ) -> bool:
    """Remove a subscription (of ``user_id``; any user's when None: the push service said it is
    gone)."""
    cur = conn.execute(
        "delete from push_subscriptions where endpoint = %s and (user_id = %s or %s)",
        (endpoint, user_id, user_id is None))
    return cur.rowcount > 0


def addresses(conn: Connection[Any], user_ids: list[int]) -> list[dict[str, Any]]:
    """Every address of the users: (user_id, channel, address, p256dh, auth, sub_id)."""
    return conn.execute(
        "select c.user_id, 'email' as channel, c.email as address, null as p256dh,"
        " null as auth, null::bigint as sub_id from notification_contacts c"
        " where c.user_id = any(%(u)s) and c.email is not null"
        " union all select c.user_id, 'sms', c.phone, null, null, null"
        " from notification_contacts c where c.user_id = any(%(u)s) and c.phone is not null"
        " union all select s.user_id, 'push', s.endpoint, s.p256dh, s.auth, s.id"
        " from push_subscriptions s where s.user_id = any(%(u)s)"
        " order by 1, 2, 6", {"u": user_ids}).fetchall()


# --- rota, escalation chain, policy -------------------------------------------------------------

def rota(conn: Connection[Any], team_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select s.user_id, u.username, s.role, s.day, s.starts, s.ends from oncall_slots s"
        " join users u on u.id = s.user_id where s.team_id = %s and u.active"
        " order by array_position(array['mon','tue','wed','thu','fri','sat','sun','holiday'],"
        " s.day), s.starts, s.role, s.id", (team_id,)).fetchall()


def replace_rota(conn: Connection[Any], team_id: int, slots: list[dict[str, Any]]) -> None:
    conn.execute("delete from oncall_slots where team_id = %s", (team_id,))
    if slots:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into oncall_slots (team_id, user_id, role, day, starts, ends)"
                " values (%s, %s, %s, %s, %s, %s)",
                [(team_id, s["user_id"], s["role"], s["day"], s["starts"], s["ends"])
                 for s in slots])


def escalation(conn: Connection[Any], team_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select e.step, e.target, e.user_id, u.username, e.after_minutes from escalation_steps e"
        " left join users u on u.id = e.user_id where e.team_id = %s order by e.step",
        (team_id,)).fetchall()


def replace_escalation(conn: Connection[Any], team_id: int, steps: list[dict[str, Any]]) -> None:
    conn.execute("delete from escalation_steps where team_id = %s", (team_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into escalation_steps (team_id, step, target, user_id, after_minutes)"
            " values (%s, %s, %s, %s, %s)",
            [(team_id, i, s["target"], s["user_id"], s["after_minutes"])
             for i, s in enumerate(steps, start=1)])


def policy(conn: Connection[Any], team_id: int) -> dict[str, Any] | None:
    row = conn.execute("select policy from notification_policies where team_id = %s",
                       (team_id,)).fetchone()
    return None if row is None else dict(row["policy"])


def upsert_policy(conn: Connection[Any], *, team_id: int, policy: dict[str, Any],
                  updated_by: int | None) -> None:
    conn.execute(
        "insert into notification_policies (team_id, policy, updated_by) values (%s, %s, %s)"
        " on conflict (team_id) do update set policy = excluded.policy,"
        " updated_by = excluded.updated_by, updated_at = now()",
        (team_id, Jsonb(policy), updated_by))


def users_in_team(conn: Connection[Any], team_id: int, user_ids: list[int]) -> set[int]:
    rows = conn.execute(
        "select user_id from user_teams where team_id = %s and user_id = any(%s)",
        (team_id, user_ids)).fetchall()
    return {int(r["user_id"]) for r in rows}


# --- the ticker: outbox, chains, digests --------------------------------------------------------

def try_tick_lock(conn: Connection[Any]) -> bool:
    """One ticker at a time, for this transaction."""
    row = conn.execute("select pg_try_advisory_xact_lock(%s, %s) as ok", _TICK_LOCK).fetchone()
    return bool(row and row["ok"])


def pending_outbox(conn: Connection[Any], limit: int) -> list[dict[str, Any]]:
    """Unprocessed outbox rows, oldest first, with the alert's current status and team."""
    return conn.execute(
        "select o.id, o.alert_id, o.patient_id, o.event, o.severity, o.at, a.status,"
        " a.opened_at, p.team_id from notification_outbox o"
        " join alerts a on a.id = o.alert_id join patients p on p.id = o.patient_id"
        " where o.processed_at is null order by o.id limit %s for update of o skip locked",
        (limit,)).fetchall()


def mark_outbox_processed(conn: Connection[Any], ids: list[int]) -> None:
    conn.execute("update notification_outbox set processed_at = now() where id = any(%s)",
                 (ids,))


def chain(conn: Connection[Any], alert_id: int) -> dict[str, Any] | None:
    return conn.execute("select * from notification_chains where alert_id = %s for update",
                        (alert_id,)).fetchone()


def start_chain(conn: Connection[Any], *, alert_id: int, team_id: int, patient_id: int,
                severity: str, mode: str, due_at: datetime, started_at: datetime) -> None:
    """Start (or restart, on escalation to a higher severity) the chain of an alert."""
    conn.execute(
        "insert into notification_chains (alert_id, team_id, patient_id, severity, mode,"
        " next_step, next_due_at, started_at) values (%s, %s, %s, %s, %s, 1, %s, %s)"
        " on conflict (alert_id) do update set severity = excluded.severity,"
        " mode = excluded.mode, next_step = 1,"
        " next_due_at = excluded.next_due_at, state = 'active', stop_reason = null,"
        " started_at = excluded.started_at, updated_at = now()",
        (alert_id, team_id, patient_id, severity, mode, due_at, started_at))


def stop_chain(conn: Connection[Any], *, alert_id: int, reason: str) -> None:
    conn.execute(
        "update notification_chains set state = 'stopped', stop_reason = %s, next_due_at = null,"
        " updated_at = now() where alert_id = %s and state = 'active'", (reason, alert_id))


def cancel_pending(conn: Connection[Any], *, alert_id: int, reason: str) -> int:
    """Messages of the alert not yet sent are not sent any more."""
    cur = conn.execute(
        "update notification_deliveries set status = 'cancelled', last_error = %s,"
        " updated_at = now() where alert_id = %s and status in ('queued', 'failed')",
        (reason, alert_id))
    conn.execute("delete from notification_digest_items where alert_id = %s and digest_key is null",
                 (alert_id,))
    return cur.rowcount


def add_digest_item(conn: Connection[Any], *, alert_id: int, team_id: int, severity: str,
                    due_at: datetime) -> None:
    conn.execute(
        "insert into notification_digest_items (alert_id, team_id, severity, due_at)"
        " values (%s, %s, %s, %s) on conflict do nothing", (alert_id, team_id, severity, due_at))


def due_chains(conn: Connection[Any], now: datetime, limit: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select c.*, a.status as alert_status, t.name as team from notification_chains c"
        " join alerts a on a.id = c.alert_id join teams t on t.id = c.team_id"
        " where c.state = 'active' and c.next_due_at <= %s order by c.next_due_at limit %s"
        " for update of c skip locked", (now, limit)).fetchall()


def advance_chain(conn: Connection[Any], *, alert_id: int, next_step: int,
                  next_due_at: datetime | None) -> None:
    conn.execute(
        "update notification_chains set next_step = %s, next_due_at = %s,"
        " state = case when %s::timestamptz is null then 'done' else state end,"
        " updated_at = now() where alert_id = %s",
        (next_step, next_due_at, next_due_at, alert_id))


def due_digest_items(conn: Connection[Any], now: datetime) -> list[dict[str, Any]]:
    """Items due, with their alert still waiting (neither acknowledged nor resolved)."""
    return conn.execute(
        "select d.alert_id, d.team_id, d.severity, d.due_at, t.name as team, a.status"
        " from notification_digest_items d join alerts a on a.id = d.alert_id"
        " join teams t on t.id = d.team_id where d.digest_key is null and d.due_at <= %s"
        " order by d.team_id, d.due_at for update of d skip locked", (now,)).fetchall()


def take_digest_items(conn: Connection[Any], *, alert_ids: list[int], due_at: datetime,
                      digest_key: str) -> None:
    conn.execute(
        "update notification_digest_items set digest_key = %s"
        " where alert_id = any(%s) and due_at = %s", (digest_key, alert_ids, due_at))


# --- deliveries ---------------------------------------------------------------------------------

def recent_for_patient(conn: Connection[Any], *, address: str, patient_id: int, alert_id: int,
                       severity_rank: int, since: datetime) -> bool:
    """Whether the person was sent (or is about to be sent) another alert of this patient of at
    least this severity since ``since``: the new one collapses into it."""
    row = conn.execute(
        "select 1 from notification_deliveries d join alerts a on a.id = d.alert_id"
        " where d.address = %s and d.patient_id = %s and d.alert_id <> %s"
        " and d.kind = 'alert' and d.created_at >= %s"
        " and d.status in ('queued', 'sending', 'sent', 'failed')"
        " and array_position(array['green','blue','yellow','red'], a.severity) - 1 >= %s"
        " limit 1", (address, patient_id, alert_id, since, severity_rank)).fetchone()
    return row is not None


def sent_in_window(conn: Connection[Any], *, address: str, since: datetime) -> int:
    """Alert messages to the address counted against the flood bound."""
    row = conn.execute(
        "select count(*) as n from notification_deliveries where address = %s"
        " and kind = 'alert' and created_at >= %s"
        " and status in ('queued', 'sending', 'sent', 'failed', 'gave_up')",
        (address, since)).fetchone()
    assert row is not None
    return int(row["n"])


def insert_delivery(conn: Connection[Any], *, key: str, kind: str, alert_id: int | None,
                    team_id: int, patient_id: int | None, step: int | None, user_id: int,
                    channel: str, address: str, subject: str, body: str, status: str,
                    due_at: datetime, now: datetime) -> int | None:
    """The delivery's id, None if its idempotency key exists already (a step planned twice)."""
    row = conn.execute(
        "insert into notification_deliveries (idempotency_key, kind, alert_id, team_id,"
        " patient_id, step, user_id, channel, address, subject, body, status, due_at, created_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (idempotency_key) do nothing returning id",
        (key, kind, alert_id, team_id, patient_id, step, user_id, channel, address, subject,
         body, status, due_at, now)).fetchone()
    return None if row is None else int(row["id"])


def count_summarised(conn: Connection[Any], *, address: str, since: datetime, until: datetime
                     ) -> int:
    row = conn.execute(
        "select count(*) as n from notification_deliveries where address = %s"
        " and status = 'summarised' and created_at >= %s and created_at < %s",
        (address, since, until)).fetchone()
    assert row is not None
    return int(row["n"])


def to_enqueue(conn: Connection[Any], *, now: datetime, lease_seconds: float, limit: int
               ) -> list[int]:
    """Due messages nobody works on: queued or failed and due, or in flight past their lease
    (the worker died mid-send). Each gets a lease, so that the next tick does not enqueue it
    again while a worker has it in its queue."""
    rows = conn.execute(
        "update notification_deliveries set lease_until = %(now)s + make_interval(secs => %(l)s),"
        " status = case when status = 'sending' then 'queued' else status end,"
        " last_error = case when status = 'sending' then 'the worker was lost mid-send; sent"
        " again with the same idempotency key' else last_error end"
        " where id in (select id from notification_deliveries"
        "   where status in ('queued', 'failed', 'sending') and due_at <= %(now)s"
        "   and (lease_until is null or lease_until < %(now)s)"
        "   order by due_at limit %(limit)s for update skip locked) returning id",
        {"now": now, "l": lease_seconds, "limit": limit}).fetchall()
    return [int(r["id"]) for r in rows]


def claim(conn: Connection[Any], delivery_id: int, *, lease_seconds: float
          ) -> dict[str, Any] | None:
    """Take a message for sending (one attempt more), with what the send needs; None when it
    is sent already or in another worker's hands. Only the ticker decides when a message is
    due; a retry's own countdown may come a little early, which is harmless."""
    return conn.execute(
        "update notification_deliveries d set status = 'sending', attempts = d.attempts + 1,"
        " lease_until = now() + make_interval(secs => %s), updated_at = now()"
        " where d.id = %s and (d.status in ('queued', 'failed')"
        "   or (d.status = 'sending' and d.lease_until < now()))"
        " returning d.*, (select a.status from alerts a where a.id = d.alert_id) as alert_status,"
        " (select s.p256dh from push_subscriptions s where s.endpoint = d.address"
        "   and d.channel = 'push') as p256dh,"
        " (select s.auth from push_subscriptions s where s.endpoint = d.address"
        "   and d.channel = 'push') as auth",
        (lease_seconds, delivery_id)).fetchone()


def finish(conn: Connection[Any], delivery_id: int, *, status: str, error: str | None = None,
           retry_at: datetime | None = None, body: str | None = None) -> None:
    conn.execute(
        "update notification_deliveries set status = %s, last_error = coalesce(%s, last_error),"
        " sent_at = case when %s = 'sent' then now() else sent_at end,"
        " due_at = coalesce(%s, due_at), lease_until = %s, body = coalesce(%s, body),"
        " updated_at = now() where id = %s",
        (status, error, status, retry_at, retry_at, body, delivery_id))


# --- what the API shows -------------------------------------------------------------------------

def visible_alert(conn: Connection[Any], viewer: Viewer, alert_id: int) -> dict[str, Any] | None:
    """The alert's patient and team, if the viewer may see it."""
    return conn.execute(sql.SQL(
        "select a.patient_id, p.team_id from alerts a join patients p on p.id = a.patient_id"
        " where a.id = %s and {}").format(visible_patients(viewer)), (alert_id,)).fetchone()


def alert_chain(conn: Connection[Any], alert_id: int) -> dict[str, Any] | None:
    return conn.execute("select * from notification_chains where alert_id = %s",
                        (alert_id,)).fetchone()


def alert_deliveries(conn: Connection[Any], alert_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select d.id, d.kind, d.alert_id, d.step, d.user_id, u.username, d.channel, d.status,"
        " d.attempts, d.last_error, d.created_at, d.sent_at from notification_deliveries d"
        " join users u on u.id = d.user_id where d.alert_id = %s order by d.step, d.id",
        (alert_id,)).fetchall()


def delivery_summary(conn: Connection[Any], viewer: Viewer, alert_ids: list[int]
                     ) -> list[dict[str, Any]]:
    """Per visible alert: how many of its messages are in each status."""
    return conn.execute(sql.SQL(
        "select d.alert_id, d.status, count(*) as n from notification_deliveries d"
        " join alerts a on a.id = d.alert_id join patients p on p.id = a.patient_id"
        " where d.alert_id = any(%s) and {} group by d.alert_id, d.status").format(
            visible_patients(viewer)), (alert_ids,)).fetchall()
