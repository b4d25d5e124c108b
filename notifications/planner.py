"""The ticker's logic: the outbox turned into chains and digest items, due chain steps into
messages (with the storm rules), digests composed. Never commits: the task owns the
transaction, and the ticker's advisory lock lets one run at a time.

Storm rules, applied when a message is planned: a further alert of a patient already notified
to the same address within ``collapse_minutes`` is recorded as ``collapsed`` (its escalation
still runs); beyond ``flood_max_messages`` alert messages to one address in a window of
``flood_window_minutes``, the rest are recorded as ``summarised`` and one summary message goes
out at the window's end.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection

from core.settings import Settings
from notifications import repository
from notifications.calendar import Slot, in_local_hours, next_local_time, on_call
from notifications.schemas import EscalationStepIn, SeverityPolicy, TeamPolicy

log = logging.getLogger(__name__)

SEVERITY_RANK = {"green": 0, "blue": 1, "yellow": 2, "red": 3}
SEVERITY_DA = {"red": "Rød", "yellow": "Gul", "blue": "Blå"}
DEFAULT_ESCALATION = (EscalationStepIn(target="primary", after_minutes=0),
                      EscalationStepIn(target="secondary", after_minutes=10))
"""A team without its own chain: the on-call nurse at once, the second nurse after 10 minutes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickOutcome:
    outbox: int = 0
    steps: int = 0
    messages: int = 0
    digests: int = 0
    to_send: tuple[int, ...] = ()


def team_policy(conn: Connection[Any], team_id: int) -> TeamPolicy:
    stored = repository.policy(conn, team_id)
    return TeamPolicy() if stored is None else TeamPolicy.model_validate(stored)


def escalation_steps(conn: Connection[Any], team_id: int) -> list[EscalationStepIn]:
    rows = repository.escalation(conn, team_id)
    if not rows:
        return list(DEFAULT_ESCALATION)
    return [EscalationStepIn(target=r["target"], user_id=r["user_id"],
                             after_minutes=r["after_minutes"]) for r in rows]


def rota_slots(conn: Connection[Any], team_id: int) -> list[Slot]:
    return [Slot(user_id=r["user_id"], role=r["role"], day=r["day"], starts=r["starts"],
                 ends=r["ends"]) for r in repository.rota(conn, team_id)]


def dashboard_url(settings: Settings, alert_id: int | None = None) -> str:
    scheme = "http" if settings.local_demo_plaintext else "https"
    base = (settings.public_url or f"{scheme}://{settings.api_host}:{settings.api_port}"
            ).rstrip("/")
    return f"{base}/#alert={alert_id}" if alert_id is not None else f"{base}/"


# --- outbox -------------------------------------------------------------------------------------

def process_outbox(conn: Connection[Any], *, now: datetime, settings: Settings,
                   limit: int = 1000) -> int:
    """Chains, digest items and cancellations from the events in the outbox."""
    rows = repository.pending_outbox(conn, limit)
    policies: dict[int, TeamPolicy] = {}
    for row in rows:  # one step per alert event
        team_id = row["team_id"]
        policy = policies.get(team_id) or policies.setdefault(team_id, team_policy(conn, team_id))
        if row["event"] in ("acknowledged", "resolved"):
            reason = f"{row['event']} at {row['at'].isoformat()}"
            repository.stop_chain(conn, alert_id=row["alert_id"], reason=reason)
            repository.cancel_pending(conn, alert_id=row["alert_id"], reason=reason)
            continue
        if row["status"] != "open":
            continue  # handled before the ticker saw it
        _start(conn, row, policy.for_severity(row["severity"]), policy, now=now,
               timezone=settings.timezone)
    repository.mark_outbox_processed(conn, [r["id"] for r in rows])
    return len(rows)


def _start(conn: Connection[Any], row: dict[str, Any], severity_policy: SeverityPolicy,
           policy: TeamPolicy, *, now: datetime, timezone: str) -> None:
    existing = repository.chain(conn, row["alert_id"])
    if existing is not None and existing["state"] == "active" and \
            SEVERITY_RANK[existing["severity"]] >= SEVERITY_RANK[row["severity"]]:
        return
    mode: str = severity_policy.mode
    at = row["at"]
    if mode == "off":
        return
    if mode == "day_or_digest" and in_local_hours(at, policy.day_starts, policy.day_ends,
                                                   timezone):
        mode = "once"
    if mode in ("day_or_digest", "digest"):
        digest_at = policy.morning_digest_at if mode == "day_or_digest" \
            else policy.daily_digest_at
        repository.add_digest_item(conn, alert_id=row["alert_id"], team_id=row["team_id"],
                                   severity=row["severity"],
                                   due_at=next_local_time(at, digest_at, timezone))
        return
    repository.start_chain(conn, alert_id=row["alert_id"], team_id=row["team_id"],
                           patient_id=row["patient_id"], severity=row["severity"], mode=mode,
                           due_at=min(at, now), started_at=at)


# --- chain steps --------------------------------------------------------------------------------

def advance_chains(conn: Connection[Any], *, now: datetime, settings: Settings,
                   limit: int = 500) -> tuple[int, int]:
    """Every due step: its recipients' messages, and when the next step is due. Returns the
    steps taken and the messages planned."""
    steps = messages = 0
    for chain in repository.due_chains(conn, now, limit):  # one step per due chain
        team_id = chain["team_id"]
        policy = team_policy(conn, team_id)
        severity_policy = policy.for_severity(chain["severity"])
        chain_steps = escalation_steps(conn, team_id)
        step = chain["next_step"]
        target = chain_steps[min(step, len(chain_steps)) - 1]
        recipients = _recipients(conn, target, team_id=team_id, at=now,
                                 timezone=settings.timezone)
        if not recipients:
            log.warning("alert %s step %s: nobody to reach (%s)", chain["alert_id"], step,
                        target.target)
        for user_id in recipients:
            messages += _plan_alert_messages(conn, chain, step=step, user_id=user_id,
                                             channels=severity_policy.channels, policy=policy,
                                             now=now, settings=settings)
        repository.advance_chain(conn, alert_id=chain["alert_id"], next_step=step + 1,
                                 next_due_at=_next_due(chain, step, chain_steps, severity_policy,
                                                       now=now, reached=bool(recipients)))
        steps += 1
    return steps, messages


def _next_due(chain: dict[str, Any], step: int, chain_steps: list[EscalationStepIn],
              policy: SeverityPolicy, *, now: datetime, reached: bool) -> datetime | None:
    if chain["mode"] != "escalate":
        return None
    if step < len(chain_steps):
        due: datetime = chain["started_at"] + timedelta(minutes=chain_steps[step].after_minutes)
        # Nobody reached at this step: the next one at once, not after its minutes.
        return now if not reached else max(due, now)
    repeats = step - len(chain_steps)
    if policy.repeat_minutes == 0 or repeats >= policy.max_repeats:
        return None
    return now + timedelta(minutes=policy.repeat_minutes)


def _recipients(conn: Connection[Any], target: EscalationStepIn, *, team_id: int, at: datetime,
                timezone: str) -> list[int]:
    if target.target == "user":
        assert target.user_id is not None
        return [target.user_id]
    return on_call(rota_slots(conn, team_id), at, timezone)[target.target]


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_text(*, severity: str, team: str, url: str, step: int) -> tuple[str, str]:
    """Subject and body of an alert message: no health data, no CPR, no name."""
    subject = f"{SEVERITY_DA[severity]} alarm — KOL-overvågning"
    body = f"{SEVERITY_DA[severity]} alarm hos en borger i {team} — åbn KOL-overvågning: {url}"
    if step > 1:
        body += " (eskaleret: endnu ikke kvitteret)"
    return subject, body


def _plan_alert_messages(conn: Connection[Any], chain: dict[str, Any], *, step: int,
                         user_id: int, channels: Sequence[str], policy: TeamPolicy, now: datetime,
                         settings: Settings) -> int:
    subject, body = alert_text(severity=chain["severity"], team=chain["team"], step=step,
                               url=dashboard_url(settings, chain["alert_id"]))
    planned = 0
    for addr in repository.addresses(conn, [user_id]):
        if addr["channel"] not in channels:
            continue
        key = (f"alert:{chain['alert_id']}:{chain['severity']}:step:{step}:user:{user_id}"
               f":{addr['channel']}")
        if addr["channel"] == "push":
            key += f":{_short(addr['address'])}"
        status = _storm_status(conn, chain, address=addr["address"], policy=policy, now=now,
                               team_id=chain["team_id"], user_id=user_id,
                               channel=addr["channel"], settings=settings)
        if repository.insert_delivery(
                conn, key=key, kind="alert", alert_id=chain["alert_id"],
                team_id=chain["team_id"], patient_id=chain["patient_id"], step=step,
                user_id=user_id, channel=addr["channel"], address=addr["address"],
                subject=subject, body=body, status=status, due_at=now, now=now) is not None:
            planned += status == "queued"
    return planned


def _storm_status(conn: Connection[Any], chain: dict[str, Any], *, address: str,
                  policy: TeamPolicy, now: datetime, team_id: int, user_id: int, channel: str,
                  settings: Settings) -> str:
    if policy.collapse_minutes and repository.recent_for_patient(
            conn, address=address, patient_id=chain["patient_id"], alert_id=chain["alert_id"],
            severity_rank=SEVERITY_RANK[chain["severity"]],
            since=now - timedelta(minutes=policy.collapse_minutes)):
        return "collapsed"
    window = timedelta(minutes=policy.flood_window_minutes)
    start = datetime.fromtimestamp(
        now.timestamp() // window.total_seconds() * window.total_seconds(), tz=UTC)
    if repository.sent_in_window(conn, address=address, since=start) < policy.flood_max_messages:
        return "queued"
    end = start + window
    repository.insert_delivery(
        conn, key=f"summary:{user_id}:{channel}:{_short(address)}:{int(start.timestamp())}"
                  f":{int(end.timestamp())}",
        kind="summary", alert_id=None, team_id=team_id, patient_id=None, step=None,
        user_id=user_id, channel=channel, address=address,
        subject="Flere alarmer — KOL-overvågning",
        body=f"flere alarmer hos borgere i {chain['team']} — åbn KOL-overvågning:"
             f" {dashboard_url(settings)}", status="queued", due_at=end, now=now)
    return "summarised"


def summary_window(idempotency_key: str) -> tuple[datetime, datetime]:
    """The window a summary message stands for, from its key."""
    *_, start, end = idempotency_key.split(":")
    return (datetime.fromtimestamp(int(start), tz=UTC), datetime.fromtimestamp(int(end), tz=UTC))


# --- digests ------------------------------------------------------------------------------------

def compose_digests(conn: Connection[Any], *, now: datetime, settings: Settings) -> int:
    """One digest message per address of the person on call (primary; the chain's first step
    when the rota names nobody) per team and digest time, counting the alerts still waiting."""
    items = repository.due_digest_items(conn, now)
    groups: dict[tuple[int, datetime], list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault((item["team_id"], item["due_at"]), []).append(item)
    planned = 0
    for (team_id, due_at), group in groups.items():  # one step per team and digest time
        key = f"digest:{team_id}:{int(due_at.timestamp())}"
        repository.take_digest_items(conn, alert_ids=[i["alert_id"] for i in group],
                                     due_at=due_at, digest_key=key)
        waiting = Counter(i["severity"] for i in group if i["status"] == "open")
        if not waiting:
            continue
        policy = team_policy(conn, team_id)
        channels = {c for s in waiting for c in policy.for_severity(s).channels}
        recipients = on_call(rota_slots(conn, team_id), now, settings.timezone)["primary"] or \
            _recipients(conn, escalation_steps(conn, team_id)[0], team_id=team_id, at=now,
                        timezone=settings.timezone)
        subject, body = digest_text(team=group[0]["team"], counts=waiting,
                                    url=dashboard_url(settings))
        for addr in repository.addresses(conn, recipients):
            if addr["channel"] in channels:
                planned += repository.insert_delivery(
                    conn, key=f"{key}:{addr['user_id']}:{addr['channel']}"
                              f":{_short(addr['address'])}",
                    kind="digest", alert_id=None, team_id=team_id, patient_id=None, step=None,
                    user_id=addr["user_id"], channel=addr["channel"], address=addr["address"],
                    subject=subject, body=body, status="queued", due_at=now,
                    now=now) is not None
    return planned


def digest_text(*, team: str, counts: Counter[str], url: str) -> tuple[str, str]:
    names = {"red": ("rød", "røde"), "yellow": ("gul", "gule"), "blue": ("blå", "blå")}
    parts = [f"{n} {names[s][n != 1]}" for s in ("red", "yellow", "blue") if (n := counts[s])]
    return ("Oversigt — KOL-overvågning",
            f"{' og '.join(parts)} alarm{'er' if sum(counts.values()) != 1 else ''} venter"
            f" hos borgere i {team} — åbn KOL-overvågning: {url}")


def tick(conn: Connection[Any], *, now: datetime, settings: Settings) -> TickOutcome | None:
    """One turn of the ticker; None when another ticker holds the lock."""
    if not repository.try_tick_lock(conn):
        return None
    outbox = process_outbox(conn, now=now, settings=settings)
    steps, messages = advance_chains(conn, now=now, settings=settings)
    digests = compose_digests(conn, now=now, settings=settings)
    to_send = repository.to_enqueue(conn, now=now, lease_seconds=settings.notify_lease_seconds,
                                    limit=2000)
    return TickOutcome(outbox=outbox, steps=steps, messages=messages, digests=digests,
                       to_send=tuple(to_send))
